"""Where the instrument reads and writes: one function for each place, used by every command.

- ``models_dir``: the models (``NAME.onnx`` + ``NAME.json``) are loaded from, and only
  from, the configured directory, else ``$INSTRUMENT_MODELS``, else the models shipped
  with the instrument: the source tree's ``exported_models/`` when it runs from a
  checkout, otherwise ``share/instrument/models`` of the installation it was installed
  into (a venv, ``~/.local`` for ``pip install --user``, ``/usr/local``).
- ``state_dir``: writable state: ``$STATE_DIRECTORY`` under systemd (its first entry),
  else ``$XDG_DATA_HOME/instrument`` (``~/.local/share/instrument``).
- ``engine_cache_dir``: TensorRT engine caches: configured, else ``<state>/trt-cache``.
- ``recordings_dir``: session recordings: configured, else ``<state>/recordings``.
- ``user_styles_dir``: the player's own band styles: configured, else
  ``$XDG_CONFIG_HOME/instrument/styles`` (``~/.config/instrument/styles``).
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

#: The source tree's shipped models (training writes here; a checkout loads from here).
SOURCE_MODELS_DIR = Path(__file__).resolve().parents[1] / "exported_models"
_SHARE = Path("share") / "instrument" / "models"


def installed_models_dir() -> Path:
    """``share/instrument/models`` of the installation this package lives in."""
    package = Path(__file__).resolve().parent
    # <base>/lib/pythonX.Y/site-packages/instrument -> <base>
    base = package.parents[3] if len(package.parents) > 3 else Path(sys.prefix)
    for candidate in (base / _SHARE, Path(sys.prefix) / _SHARE):
        if candidate.is_dir():
            return candidate
    return base / _SHARE


def models_dir(configured: str | os.PathLike | None = None) -> Path:
    """Where models are loaded from (see the module docstring)."""
    if configured:
        return Path(configured).expanduser()
    if os.environ.get("INSTRUMENT_MODELS"):
        return Path(os.environ["INSTRUMENT_MODELS"]).expanduser()
    if SOURCE_MODELS_DIR.is_dir():
        return SOURCE_MODELS_DIR
    return installed_models_dir()


def state_dir() -> Path:
    """Writable state (see the module docstring)."""
    if os.environ.get("STATE_DIRECTORY"):
        return Path(os.environ["STATE_DIRECTORY"].split(":")[0])
    data_home = Path(os.environ.get("XDG_DATA_HOME", Path.home() / ".local" / "share"))
    return data_home / "instrument"


def engine_cache_dir(configured: str | os.PathLike | None = None) -> Path:
    return Path(configured).expanduser() if configured else state_dir() / "trt-cache"


def recordings_dir(configured: str | os.PathLike | None = None) -> Path:
    return Path(configured).expanduser() if configured else state_dir() / "recordings"


def user_styles_dir(configured: str | os.PathLike | None = None) -> Path:
    """The player's own styles (see the module docstring)."""
    if configured:
        return Path(configured).expanduser()
    config_home = Path(os.environ.get("XDG_CONFIG_HOME", Path.home() / ".config"))
    return config_home / "instrument" / "styles"
