"""``instrument warmup``: load every model once and build its TensorRT engines now.

Run at install time (``deploy/install-*.sh`` does), never during a gig: the first
TensorRT session for a model builds an engine, which takes minutes on a Jetson; with the
engine cache in the writable state directory, every later start loads it in seconds.

Every ``NAME.json`` manifest directly in the models directory is verified (sha256,
signature, encoding: see :mod:`instrument.models.loader`) and must name an ONNX file
inside that directory; it is then opened on the configured execution providers and
warmed up. Exit status: 0 if every model loaded, 1 if one failed (the instrument still
plays with its fallback generators; the message says which model and why), 2 on a config
error.
"""

from __future__ import annotations

import argparse
import logging
import sys
import time
from pathlib import Path

from instrument import config as cfg
from instrument import places
from instrument.live.logs import setup_logging

NAME = "warmup"
HELP = (
    "Load and warm up every model with the configured execution providers, building "
    "TensorRT engine caches (run at install time, not before a gig)."
)

log = logging.getLogger(__name__)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--config", metavar="FILE", help="TOML config file (as for `run`)")
    parser.add_argument(
        "--models-dir", type=Path, metavar="DIR",
        help="where NAME.onnx + NAME.json live (default: models.directory in the config, "
        "else the shipped exported_models/)",
    )
    parser.add_argument(
        "--providers", metavar="LIST",
        help="execution providers in order, comma-separated: tensorrt,cuda,cpu "
        "(default: models.providers in the config, else cpu)",
    )
    parser.add_argument(
        "--engine-cache-dir", type=Path, metavar="DIR",
        help="TensorRT engine cache (default: models.engine_cache in the config, else "
        "<state dir>/trt-cache)",
    )
    parser.add_argument("--log-level", default="info",
                        choices=("debug", "info", "warning", "error"))


def _providers(value) -> list[str]:
    if isinstance(value, str):
        return [p.strip() for p in value.split(",") if p.strip()]
    return [str(p) for p in value]


def settings(args: argparse.Namespace, config: cfg.Config) -> tuple[Path, list[str], Path]:
    """(models dir, providers, engine cache dir): flags, then the config, then defaults.

    The config's model keys belong to the engine's ``[models]`` section; they are read
    if present so that warm-up and the running instrument agree.
    """
    models_dir = places.models_dir(args.models_dir or config.models.directory)
    providers = _providers(args.providers or config.models.providers)
    cache = places.engine_cache_dir(args.engine_cache_dir or config.models.engine_cache)
    return models_dir, providers, cache


def manifests(models_dir: Path) -> list[Path]:
    """The model manifests directly in ``models_dir`` (not below it)."""
    out = []
    for path in sorted(models_dir.glob("*.json")):
        if path.is_file():
            out.append(path)
    return out


def inside(directory: Path, path: Path) -> bool:
    """Whether ``path`` (symlinks resolved) lies inside ``directory``."""
    try:
        path.resolve().relative_to(directory.resolve())
    except ValueError:
        return False
    return True


def warm_one(manifest_path: Path, models_dir: Path, providers: list[str], cache: Path) -> str:
    """Load and warm up one model; return a one-line summary. Raises ModelError."""
    from instrument.models import ModelError, load_model
    from instrument.models.manifest import read_manifest

    manifest = read_manifest(manifest_path)
    if not inside(models_dir, manifest.onnx_path) or not inside(models_dir, manifest_path):
        raise ModelError(
            manifest_path,
            f"names {manifest.onnx_file!r}, outside the models directory {models_dir}; "
            "models load only from there",
        )
    started = time.monotonic()
    model = load_model(manifest_path, providers, models_dir, engine_cache_dir=cache)
    loaded = time.monotonic()
    model.warm_up()
    done = time.monotonic()
    used = (getattr(model, "providers", None)
            or getattr(getattr(model, "stepper", None), "providers", None) or ["?"])
    return (
        f"{manifest.name} ({manifest.task}) on {used[0]}: loaded in {loaded - started:.1f} s, "
        f"warmed up in {done - loaded:.1f} s"
    )


def run(args: argparse.Namespace) -> int:
    try:
        config = cfg.load(args.config)
    except cfg.ConfigError as exc:
        print(f"instrument warmup: config error: {exc}", file=sys.stderr)
        return 2
    setup_logging(args.log_level)
    from instrument.models import ModelError

    models_dir, providers, cache = settings(args, config)
    if not models_dir.is_dir():
        log.error("models directory %s does not exist; instrument run would play its "
                  "fallback generators (Markov continuation, rule arranger)", models_dir)
        return 1
    found = manifests(models_dir)
    if not found:
        log.warning("no model manifests (*.json) in %s: nothing to warm up", models_dir)
        return 0
    log.info("warming up %d model(s) from %s on %s; engine cache %s",
             len(found), models_dir, ",".join(providers), cache)
    failed = 0
    for path in found:
        try:
            log.info("%s", warm_one(path, models_dir, providers, cache))
        except (ModelError, ValueError, OSError) as exc:
            failed += 1
            log.error("model %s unavailable: %s (the instrument will use the fallback)",
                      path.stem, exc)
    return 1 if failed else 0
