"""deploy/: the systemd units (verified twice: in Python, and by systemd-analyze where it
exists), the journald cap, and what the issue asks of each unit."""

from __future__ import annotations

import os
import shutil
import stat
import subprocess
from pathlib import Path

import pytest

from tests.deploy import unitcheck

DEPLOY = Path(__file__).resolve().parents[2] / "deploy"
UNITS = sorted((DEPLOY / "systemd").glob("*.service"))
ENV_FILES = {"/etc/instrument/jack.env": DEPLOY / "jack.env"}


def units() -> dict[str, unitcheck.Unit]:
    out = {}
    for path in UNITS:
        unit, errors = unitcheck.parse(path)
        assert not errors, errors
        out[unit.name] = unit
    return out


def test_units_exist():
    assert {p.name for p in UNITS} == {
        "instrument.service", "instrument-jack.service", "instrument-performance.service",
    }


@pytest.mark.parametrize("path", UNITS, ids=lambda p: p.name)
def test_unit_passes_the_static_check(path):
    unit, errors = unitcheck.parse(path)
    errors += unitcheck.check_unit(unit, ENV_FILES)
    assert errors == []


def test_dependencies_are_consistent():
    assert unitcheck.check_set(list(units().values())) == []


def test_the_checker_catches_what_verify_would(tmp_path):
    bad = tmp_path / "bad.service"
    bad.write_text(
        "[Unit]\nRequires=instrument-jack.service\nRequires=nowhere.service\n"
        "[Service]\nType=notifi\nExecStart=instrument run\nWatchdogSecs=10\n"
        "ExecStartPost=/bin/echo ${UNSET}\nRestartSec=soon\nLimitRTPRIO=lots\n"
        "[Instal]\nWantedBy=multi-user.target\n"
    )
    unit, errors = unitcheck.parse(bad)
    errors += unitcheck.check_unit(unit) + unitcheck.check_set([unit, *units().values()])
    text = "\n".join(errors)
    for expected in (
        "unknown key WatchdogSecs", "unknown section [Instal]", "Type='notifi'",
        "the program must be an absolute path", "$UNSET", "RestartSec='soon'",
        "LimitRTPRIO='lots'", "nowhere.service: no such unit",
        "Requires=instrument-jack.service without After=",
    ):
        assert expected in text, text
    cyclic = [tmp_path / "a.service", tmp_path / "b.service"]
    cyclic[0].write_text("[Unit]\nAfter=b.service\n[Service]\nExecStart=/bin/true\n")
    cyclic[1].write_text("[Unit]\nAfter=a.service\n[Service]\nExecStart=/bin/true\n")
    parsed = [unitcheck.parse(p)[0] for p in cyclic]
    assert any("ordering cycle" in e for e in unitcheck.check_set(parsed))


def test_instrument_service_is_what_the_issue_asks():
    u = units()["instrument.service"]
    s = "Service"
    assert "instrument-jack.service" in u.words("Unit", "Requires")
    assert "instrument-jack.service" in u.words("Unit", "After")
    assert u.last(s, "Type") == "notify" and u.last(s, "NotifyAccess") == "main"
    assert int(u.last(s, "WatchdogSec")) >= 5
    assert u.last(s, "Restart") == "always" and u.last(s, "RestartSec") == "1"
    assert u.last(s, "RestartPreventExitStatus") == "2"  # a config error: no restart loop
    assert u.last("Unit", "StartLimitIntervalSec") == "0"  # never give up restarting
    assert int(u.last(s, "LimitRTPRIO")) >= 80 and u.last(s, "LimitMEMLOCK") == "infinity"
    assert u.last(s, "StateDirectory") == "instrument"
    assert u.last(s, "RuntimeDirectory") == "instrument"
    assert u.last(s, "RuntimeDirectoryMode") == "0700"
    assert u.last(s, "ConfigurationDirectory") == "instrument"
    assert u.last(s, "ProtectSystem") == "strict"
    assert "/var/lib/instrument" in u.words(s, "ReadWritePaths")
    assert u.last(s, "User") == "instrument" and "audio" in u.words(s, "SupplementaryGroups")
    assert u.last(s, "StandardOutput") == "journal"
    exec_start = u.last(s, "ExecStart").split()
    assert exec_start[:2] == ["/opt/instrument/venv/bin/instrument", "run"]
    assert "/etc/instrument/config.toml" in exec_start


def test_jack_service_is_real_time_on_a_usb_interface():
    u = units()["instrument-jack.service"]
    cmd = u.last("Service", "ExecStart").split()
    assert cmd[0] == "/usr/bin/jackd" and "-R" in cmd and "alsa" in cmd
    assert "${JACK_DEVICE}" in cmd and "${JACK_RATE}" in cmd and "${JACK_PERIOD}" in cmd
    assert u.last("Service", "Restart") == "always"
    assert int(u.last("Service", "LimitRTPRIO")) >= 80
    assert u.last("Service", "LimitMEMLOCK") == "infinity"
    assert u.last("Service", "ExecStartPost").startswith("/usr/bin/jack_wait --wait")
    env = unitcheck.environment_file_vars(DEPLOY / "jack.env")
    assert {"JACK_DEVICE", "JACK_RATE", "JACK_PERIOD", "JACK_NPERIODS"} <= env
    text = (DEPLOY / "jack.env").read_text()
    assert "JACK_RATE=48000" in text and "JACK_PERIOD=128" in text


def test_journald_dropin_caps_the_journal():
    path = DEPLOY / "journald" / "instrument.conf"
    assert unitcheck.check_journald_dropin(path) == []
    unit, _ = unitcheck.parse(path)
    assert unit.last("Journal", "SystemMaxUse") and unit.last("Journal", "RuntimeMaxUse")


def _stage_for_verify(tmp_path: Path) -> Path:
    """Units as installed, but with programs that exist on this machine."""
    prefix = tmp_path / "opt"
    fake = prefix / "venv" / "bin" / "instrument"
    fake.parent.mkdir(parents=True)
    fake.write_text("#!/bin/sh\n")
    clocks = tmp_path / "bin" / "jetson_clocks"
    clocks.parent.mkdir()
    clocks.write_text("#!/bin/sh\n")
    for f in (fake, clocks):
        f.chmod(f.stat().st_mode | stat.S_IXUSR)
    out = tmp_path / "units"
    out.mkdir()
    for path in UNITS:
        text = path.read_text().replace("/opt/instrument", str(prefix))
        text = text.replace("/usr/bin/jetson_clocks", str(clocks))
        (out / path.name).write_text(text)
    return out


def test_systemd_analyze_verify(tmp_path):
    for tool in ("systemd-analyze", "jackd", "jack_wait"):
        if shutil.which(tool) is None:
            pytest.fail(f"{tool} is not installed: run the README test command (it installs it)")
    staged = _stage_for_verify(tmp_path)
    names = sorted(p.name for p in staged.iterdir())
    done = subprocess.run(
        ["systemd-analyze", "verify", "--man=no", *names],
        cwd=staged, capture_output=True, text=True, timeout=60,
        env={**os.environ, "SYSTEMD_LOG_LEVEL": "warning"},
    )
    # verify exits 0 on unknown keys (it only warns): any output is a failure here.
    assert done.returncode == 0 and not done.stderr.strip() and not done.stdout.strip(), (
        done.stdout + done.stderr
    )
