"""The first run on a bare machine: no JACK server, no ALSA sequencer (the CI machine is
one). ``instrument run`` with no options starts a JACK server of its own, shows its
ports, plays what a controller sends, and takes the server down when it stops; with a
server running it uses that one and leaves it be. A patchbay that connects the moment a
port appears connects on the first try."""

from __future__ import annotations

import contextlib
import gc
import os
import signal
import subprocess
import sys
import threading
import time
import uuid

import jack
import numpy as np
import pytest

from instrument.bench.instrument_proc import InstrumentProcess
from instrument.bench.jack_tap import Controller, JackTap
from instrument.jack.graph import jack_server_running
from instrument.live.rtmidi_ports import alsa_available
from instrument.music import midi_to_hz
from tests.support.analysis import estimate_f0, read_wav

pytestmark = [pytest.mark.jack, pytest.mark.e2e]


def jackd_running(name: str) -> bool:
    found = subprocess.run(["pgrep", "-f", f"jackd -n {name} "], capture_output=True)
    return found.returncode == 0


def run_bare(tmp_path, name: str) -> subprocess.Popen:
    """`instrument run` as a new user starts it: no flags but the controller's name."""
    env = dict(os.environ, JACK_DEFAULT_SERVER=name, PYTHONUNBUFFERED="1",
               XDG_CONFIG_HOME=str(tmp_path / "config"), XDG_DATA_HOME=str(tmp_path / "data"))
    env.pop("INSTRUMENT_CONFIG", None)
    return subprocess.Popen(
        [sys.executable, "-m", "instrument", "run", "--midi-in", "controller"],
        env=env, cwd=tmp_path, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
    )


def read_until(process: subprocess.Popen, text: str, lines: list[str], timeout: float = 30):
    deadline = time.monotonic() + timeout
    assert process.stdout is not None
    while time.monotonic() < deadline:
        line = process.stdout.readline()
        if not line:
            raise AssertionError("instrument exited:\n" + "".join(lines))
        lines.append(line)
        if text in line:
            return
    raise AssertionError(f"no {text!r} within {timeout} s:\n" + "".join(lines))


@contextlib.contextmanager
def no_collection():
    """The server the instrument starts is asynchronous (as a user's is): a tap whose
    Python cycle runs late misses that cycle's MIDI. A collection of the test process's
    heap, large after the rest of the suite, can hold the GIL longer than a period."""
    gc.collect()
    gc.disable()
    try:
        yield
    finally:
        gc.enable()


def test_on_a_bare_machine_it_starts_its_own_jack_server_plays_and_stops_it(
    tmp_path, monkeypatch
):
    if alsa_available():
        pytest.skip("this machine has an ALSA sequencer: the instrument would use it")
    name = f"instrument-own-{uuid.uuid4().hex[:8]}"
    monkeypatch.setenv("JACK_DEFAULT_SERVER", name)  # the controller and the tap too
    monkeypatch.setenv("JACK_NO_START_SERVER", "1")
    assert not jack_server_running()
    started = time.monotonic()
    process = run_bare(tmp_path, name)
    lines: list[str] = []
    controller = tap = None
    try:
        read_until(process, "started a JACK server of its own", lines)
        read_until(process, "ready to play", lines)
        ready = time.monotonic() - started
        assert jackd_running(name)
        controller = Controller("controller")
        read_until(process, "MIDI input connected: controller:out", lines)
        tap = JackTap("tap", midi_inputs=("midi_out",))
        tap.connect("instrument:midi_out", "tap:midi_out")
        with no_collection():
            tap.wait_frames(tap.rate // 10)
            controller.note_on(69, 100)
            tap.wait_frames(tap.rate // 2)
            controller.note_off(69)
            tap.wait_frames(tap.rate // 5)
        notes = [d[1] for _, d in tap.midi["midi_out"] if d[0] & 0xF0 == 0x90 and d[2] > 0]
        assert notes == [69], (f"the tap saw {tap.midi['midi_out'][-8:]} ({tap.xruns} "
                               "xruns); the instrument's log:\n" + "".join(lines))
        tap.close()
        tap = None
        process.send_signal(signal.SIGTERM)
        rest, _ = process.communicate(timeout=20)
        lines.append(rest)
        assert process.returncode == 0, "".join(lines)
    finally:
        if tap is not None:
            tap.close()
        if controller is not None:
            controller.process.kill()  # its server is gone: closing politely would wait
            controller.process.wait()
        if process.poll() is None:
            process.kill()
    log = "".join(lines)
    assert "stopped the JACK server it had started" in log
    assert not jackd_running(name) and not jack_server_running()
    print(f"\nready to play {ready:.1f} s after start, on a JACK server of its own")
    if "dummy backend" in log:  # no sound card: it wrote what it played to a WAV file
        wav = next((tmp_path / "data" / "instrument" / "recordings").glob("session-*.wav"))
        audio, rate = read_wav(wav)
        loud = np.flatnonzero(np.abs(audio) > 0.01)
        assert loud.size, "the note is not in the WAV"
        segment = audio[loud[0] : loud[0] + rate // 4]
        assert abs(estimate_f0(segment, rate) - midi_to_hz(69)) < 10


def test_with_a_jack_server_running_it_uses_that_one_and_leaves_it_running(
    jack_server, tmp_path
):
    inst = InstrumentProcess(jack_server, tmp_path)
    try:
        inst.wait_for("ready to play", timeout=60)
        assert "started a JACK server" not in inst.log
        assert inst.terminate() == 0
    finally:
        inst.kill()
    assert jack_server.alive() and jack_server_running()


def test_a_patchbay_connecting_the_moment_the_port_appears_connects_first_time(
    jack_server, tmp_path
):
    """Ports are registered only once the client is active."""
    appeared = threading.Event()
    client = jack.Client("patchbay", no_start_server=True)
    source = client.midi_outports.register("out")

    def registered(port: jack.Port, register: bool) -> None:
        if register and port.name == "instrument:midi_in":
            appeared.set()

    client.set_port_registration_callback(registered)
    client.activate()
    results: list[str] = []

    def connect_when_it_appears() -> None:
        appeared.wait(60)
        try:
            client.connect(source, "instrument:midi_in")
            results.append("connected")
        except jack.JackError as exc:
            results.append(f"failed: {exc}")

    connector = threading.Thread(target=connect_when_it_appears)
    connector.start()
    inst = InstrumentProcess(jack_server, tmp_path, "--midi-in", "nothing-by-this-name")
    try:
        connector.join(60)
        assert results == ["connected"], inst.log
        inst.wait_for("ready to play", timeout=60)
        assert "patchbay:out" in [p.name for p in
                                  client.get_all_connections("instrument:midi_in")]
        assert inst.terminate() == 0
    finally:
        inst.kill()
        client.deactivate()
        client.close()
