"""`instrument warmup`: every model in the directory loaded and warmed up at install time."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]


def warmup(*args: str, env_home: Path) -> subprocess.CompletedProcess:
    import os

    env = dict(os.environ, XDG_DATA_HOME=str(env_home), PYO_GUI_WX="0")
    env.pop("STATE_DIRECTORY", None)
    return subprocess.run([sys.executable, "-m", "instrument", "warmup", *args],
                          capture_output=True, text=True, timeout=120, cwd=REPO, env=env)


def test_warms_up_every_model_and_reports_its_provider(tmp_path, model_pair):
    models = tmp_path / "models"
    models.mkdir()
    for suffix in (".json", ".onnx"):
        shutil.copy(model_pair / f"continuation{suffix}", models)
    done = warmup("--models-dir", str(models), "--providers", "cpu", env_home=tmp_path)
    assert done.returncode == 0, done.stderr
    assert "warming up 1 model(s)" in done.stderr
    assert "on CPUExecutionProvider: loaded in" in done.stderr
    assert f"engine cache {tmp_path / 'instrument' / 'trt-cache'}" in done.stderr


def test_config_gives_directory_providers_and_cache(tmp_path, model_pair):
    models = tmp_path / "models"
    models.mkdir()
    for suffix in (".json", ".onnx"):
        shutil.copy(model_pair / f"continuation{suffix}", models)
    config = tmp_path / "c.toml"
    config.write_text(f'[models]\ndirectory = "{models}"\nproviders = ["cpu"]\n'
                      f'engine_cache = "{tmp_path / "cache"}"\n')
    done = warmup("--config", str(config), env_home=tmp_path)
    assert done.returncode == 0, done.stderr
    assert f"from {models} on cpu; engine cache {tmp_path / 'cache'}" in done.stderr


def test_a_broken_model_fails_warmup_with_its_name_but_the_others_load(tmp_path, model_pair):
    models = tmp_path / "models"
    models.mkdir()
    for suffix in (".json", ".onnx"):
        shutil.copy(model_pair / f"continuation{suffix}", models)
    (models / "accompaniment.json").write_text("{not json")
    done = warmup("--models-dir", str(models), "--providers", "cpu", env_home=tmp_path)
    assert done.returncode == 1
    assert "model accompaniment unavailable" in done.stderr and "not valid JSON" in done.stderr
    assert "continuation (continuation) on CPUExecutionProvider" in done.stderr


def test_no_models_directory_is_an_error_empty_is_not(tmp_path):
    assert warmup("--models-dir", str(tmp_path / "none"), env_home=tmp_path).returncode == 1
    (tmp_path / "empty").mkdir()
    assert warmup("--models-dir", str(tmp_path / "empty"), env_home=tmp_path).returncode == 0
