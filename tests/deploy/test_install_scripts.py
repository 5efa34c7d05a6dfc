"""deploy/install-*.sh: shellcheck-clean, valid bash, and what a dry run would do."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest

from instrument import config as cfg

DEPLOY = Path(__file__).resolve().parents[2] / "deploy"
SCRIPTS = [DEPLOY / "install-jetson.sh", DEPLOY / "install-x86.sh", DEPLOY / "lib" / "common.sh"]


@pytest.mark.parametrize("script", SCRIPTS, ids=lambda p: p.name)
def test_bash_syntax(script):
    subprocess.run(["bash", "-n", str(script)], check=True)


def test_shellcheck_clean():
    if shutil.which("shellcheck") is None:
        pytest.fail("shellcheck is not installed: run the README test command (it installs it)")
    done = subprocess.run(
        ["shellcheck", "-x", "--severity=style", *map(str, SCRIPTS)],
        capture_output=True, text=True, cwd=DEPLOY.parent,
    )
    assert done.returncode == 0, done.stdout + done.stderr


def dry_run(script: str, *args: str) -> str:
    done = subprocess.run(
        ["bash", str(DEPLOY / script), "--dry-run", *args],
        capture_output=True, text=True, timeout=60,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    return done.stdout


def commands(output: str) -> list[str]:
    return [line[2:] for line in output.splitlines() if line.startswith("+ ")]


def test_x86_cpu_dry_run():
    out = dry_run("install-x86.sh", "--cpu", "--jack-device", "hw:Scarlett", "--period", "64")
    cmds = "\n".join(commands(out))
    assert "apt-get install -y --no-install-recommends jackd2" in cmds
    assert "useradd --system" in cmds and "usermod -a -G audio instrument" in cmds
    assert "-m venv /opt/instrument/venv" in cmds
    assert "onnxruntime-gpu[cuda" not in cmds  # CPU only
    assert "/etc/systemd/system/instrument.service" in cmds
    assert "/etc/systemd/journald.conf.d/instrument.conf" in cmds
    assert "systemctl enable instrument-jack.service instrument.service" in cmds
    assert "runuser -u instrument -- " in cmds and "instrument warmup --config" in cmds
    assert "providers: [\"cpu\"]" in out
    # Warm-up (engine caches) happens before the services start.
    assert cmds.index("instrument warmup") < cmds.index("systemctl restart instrument-jack")


def test_x86_gpu_dry_run_with_tensorrt():
    out = dry_run("install-x86.sh", "--gpu", "--tensorrt-package", "tensorrt-cu12-libs",
                  "--no-start")
    cmds = "\n".join(commands(out))
    assert "pip install --quiet onnxruntime-gpu[cuda,cudnn]" in cmds
    assert "pip install --quiet tensorrt-cu12-libs" in cmds
    assert '"tensorrt", "cuda", "cpu"' in out
    assert "systemctl restart instrument" not in cmds


def test_jetson_dry_run_needs_an_onnxruntime_source():
    done = subprocess.run(["bash", str(DEPLOY / "install-jetson.sh"), "--dry-run"],
                          capture_output=True, text=True, timeout=60)
    assert done.returncode != 0 and "--ort-wheel" in done.stderr


def test_jetson_dry_run_with_wheel_and_performance():
    wheel = "https://example.invalid/onnxruntime_gpu-1.20.0-cp310-cp310-linux_aarch64.whl"
    out = dry_run("install-jetson.sh", "--ort-wheel", wheel, "--performance", "--nvpmodel", "2")
    cmds = commands(out)
    text = "\n".join(cmds)
    assert f"pip install --quiet {wheel}" in text
    assert "libportmidi-dev" in text  # pyo is built from source on aarch64
    assert "/usr/sbin/nvpmodel -m 2" in text and "/usr/bin/jetson_clocks" in text
    assert "instrument-performance.service" in text
    # NVIDIA's onnxruntime goes in before the package, so pip keeps it.
    ort = next(i for i, c in enumerate(cmds) if wheel in c)
    pkg = next(i for i, c in enumerate(cmds) if c.endswith(str(DEPLOY.parent)))
    assert ort < pkg


def test_jetson_without_performance_leaves_clocks_alone():
    out = dry_run("install-jetson.sh", "--ort-index", "https://example.invalid/jp6", "--cpu")
    assert "nvpmodel" not in out and "jetson_clocks" not in out
    assert "[cpu]" in out  # plain onnxruntime from the cpu extra


def test_unknown_option_is_refused():
    done = subprocess.run(["bash", str(DEPLOY / "install-x86.sh"), "--dry-run", "--gpus"],
                          capture_output=True, text=True, timeout=60)
    assert done.returncode != 0 and "unknown option --gpus" in done.stderr


def render(function: str, *args: str) -> str:
    script = f'. "{DEPLOY}/lib/common.sh"; {function} "$@"'
    done = subprocess.run(["bash", "-c", script, "render", *args], capture_output=True,
                          text=True, check=True)
    return done.stdout


@pytest.mark.parametrize("providers", ['["cpu"]', '["tensorrt", "cuda", "cpu"]'])
def test_rendered_config_is_valid_and_keeps_state_writable(tmp_path, providers):
    path = tmp_path / "config.toml"
    path.write_text(render("render_config", providers))
    config = cfg.load(path)  # raises ConfigError naming the key if the template drifts
    assert config.audio.backend == "jack"
    assert config.service.status_socket == "/run/instrument/status.sock"
    assert str(config.recordings_dir()).startswith("/var/lib/instrument/")
    models = getattr(config, "models", None)
    if models is not None:
        assert models.directory == "/opt/instrument/models"
        assert str(models.engine_cache).startswith("/var/lib/instrument/")
        assert list(models.providers) == [p.strip(' "') for p in providers[1:-1].split(",")]


def test_rendered_jack_env():
    script = f'. "{DEPLOY}/lib/common.sh"; JACK_DEVICE=hw:Scarlett JACK_PERIOD=64 render_jack_env'
    text = subprocess.run(["bash", "-c", script], capture_output=True, text=True,
                          check=True).stdout
    assert "JACK_DEVICE=hw:Scarlett" in text and "JACK_PERIOD=64" in text
    assert "JACK_RATE=48000" in text
