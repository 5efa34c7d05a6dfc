"""End to end: the running instrument answers `instrument status` and talks to systemd.

`instrument run` on the private JACK server; the test binds a NOTIFY_SOCKET the way
systemd does for Type=notify, and asks for a 1 s watchdog.
"""

from __future__ import annotations

import json
import os
import socket
import stat
import subprocess
import sys
import time

import pytest

from tests.faults.support import REPO, Instrument, assert_plays
from tests.support.jack_tap import Controller, JackTap

pytestmark = [pytest.mark.jack, pytest.mark.e2e]


def test_status_ready_watchdog_and_stopping(jack_server, tmp_path):
    run_dir = tmp_path / "run"
    sock_path = run_dir / "status.sock"
    notify_path = tmp_path / "notify"
    notify = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    notify.bind(str(notify_path))
    notify.settimeout(0.1)
    messages: list[tuple[float, str]] = []

    def drain() -> None:
        while True:
            try:
                messages.append((time.monotonic(), notify.recv(4096).decode()))
            except (TimeoutError, BlockingIOError):
                return

    config = tmp_path / "instrument.toml"
    config.write_text(f'[service]\nstatus_socket = "{sock_path}"\n')
    controller = Controller("controller")
    tap = JackTap("tap", midi_inputs=("midi_out",))
    inst = Instrument(
        jack_server, tmp_path, "--config", str(config), "--midi-in", "controller",
        env={"NOTIFY_SOCKET": str(notify_path), "WATCHDOG_USEC": "1000000"},
    )
    try:
        inst.wait_for("ready to play")
        inst.wait_for("MIDI input connected: controller:out")
        tap.connect("instrument:out_1", "tap:in_1")
        time.sleep(1.6)  # a few watchdog periods (0.5 s each)
        drain()
        states = [m for _, m in messages]
        assert states[0].startswith("READY=1"), states
        assert states.count("WATCHDOG=1") >= 2, states

        # Owner-only socket, answered from another process.
        assert stat.S_IMODE(os.stat(sock_path).st_mode) == 0o600
        assert stat.S_IMODE(os.stat(run_dir).st_mode) == 0o700
        assert_plays(tap, controller, 67)
        done = subprocess.run(
            [sys.executable, "-m", "instrument", "status", "--config", str(config), "--json"],
            capture_output=True, text=True, timeout=30, cwd=REPO,
        )
        assert done.returncode == 0, done.stderr
        status = json.loads(done.stdout)
        assert status["pid"] == inst.process.pid
        assert status["mode"] == "accompany+continue"  # what a first run plays
        assert status["style"] == "pad (auto)" and status["drums"] is True  # no note yet
        assert status["chords_move"] == "beat"  # the pad's harmony moves on any beat
        assert status["audio"] == {"backend": "jack", "rate": 48000, "buffer": 64}
        assert status["midi_in"] == "controller:out"
        assert status["recording"].endswith(".mid")
        assert status["input_received"] >= 2
        assert status["audio_cycles"] > 0 and status["engine_loops"] > 0
        human = subprocess.run(
            [sys.executable, "-m", "instrument", "status", "--socket", str(sock_path)],
            capture_output=True, text=True, timeout=30, cwd=REPO,
        )
        assert human.returncode == 0 and "controller:out" in human.stdout, human.stderr
        print("\n" + human.stdout)

        assert inst.terminate() == 0, inst.log[-5000:]
        drain()
        assert any(m.startswith("STOPPING=1") for _, m in messages)
        assert not sock_path.exists()
    finally:
        inst.kill()
        tap.close()
        controller.close()
        notify.close()
