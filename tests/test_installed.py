"""The package as a user gets it: installed with pip into a fresh venv, its console script
run from a directory outside the checkout, finds the models installed with it.

The fresh venv borrows the test venv's installed dependencies (a ``.pth`` line to its
site-packages) so the test needs no downloads; the instrument itself is a real
``pip install .`` into the fresh venv, its shipped models in ``share/instrument/models``.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import sysconfig
from pathlib import Path

import pytest

CHECKOUT = Path(__file__).resolve().parents[1]
DATA = CHECKOUT / "tests" / "data"

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def installed(tmp_path_factory) -> Path:
    """The ``instrument`` script of a fresh venv with the package installed by pip."""
    root = tmp_path_factory.mktemp("fresh")
    venv = root / "venv"
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)
    python = venv / "bin" / "python"
    site = subprocess.run(
        [str(python), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
        capture_output=True, text=True, check=True,
    ).stdout.strip()
    (Path(site) / "borrowed-dependencies.pth").write_text(sysconfig.get_paths()["purelib"])
    done = subprocess.run(
        [str(python), "-m", "pip", "install", "--quiet", "--no-deps",
         str(CHECKOUT)],
        capture_output=True, text=True, timeout=600,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    return venv / "bin" / "instrument"


def run_outside(installed: Path, tmp_path: Path, *args: str) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if k not in ("INSTRUMENT_MODELS", "PYTHONPATH")}
    env.update(XDG_DATA_HOME=str(tmp_path / "data"), XDG_CONFIG_HOME=str(tmp_path / "cfg"))
    return subprocess.run([str(installed), *args], cwd=tmp_path, env=env,
                          capture_output=True, text=True, timeout=600)


def test_the_installed_package_is_not_the_checkout(installed, tmp_path):
    done = subprocess.run(
        [str(installed.parent / "python"), "-c",
         "import instrument.places as p; print(p.__file__); print(p.models_dir())"],
        cwd=tmp_path, capture_output=True, text=True, check=True,
    )
    module, models = done.stdout.split()
    assert not module.startswith(str(CHECKOUT)), module
    assert models == str(installed.parents[1] / "share" / "instrument" / "models")
    assert (Path(models) / "continuation.onnx").exists()


def test_evaluate_finds_the_installed_models(installed, tmp_path):
    done = run_outside(installed, tmp_path, "evaluate", str(DATA), "--json")
    assert done.returncode == 0, done.stderr[-3000:]
    result = json.loads(done.stdout)
    assert result["continuation"] and result["accompaniment"]


def test_warmup_finds_the_installed_models(installed, tmp_path):
    done = run_outside(installed, tmp_path, "warmup", "--providers", "cpu")
    assert done.returncode == 0, done.stderr[-3000:]
    assert done.stderr.count("warmed up") == 4, done.stderr
    assert "bar (bar) on CPUExecutionProvider" in done.stderr, done.stderr
    assert "meter (meter) on CPUExecutionProvider" in done.stderr, done.stderr


def test_render_plays_the_installed_models(installed, tmp_path):
    done = run_outside(installed, tmp_path, "render", str(DATA / "reel_4-4.mid"),
                       "-o", str(tmp_path / "out.mid"), "--json", "--mode", "accompany")
    assert done.returncode == 0, done.stderr[-3000:]
    summary = json.loads(done.stdout)
    assert summary["accompaniment_beats"]["neural"] > 0
    assert summary["accompaniment_beats"]["fallback"] == 0
    # The shipped styles are installed with the package (the band plays one of them).
    assert summary["style"] == "reel", summary["style"]
