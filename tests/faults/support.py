"""Helpers for the fault tests: the instrument as a subprocess, a note player, a raw
JACK MIDI sender, and a systemd-like supervisor."""

from __future__ import annotations

import collections
import contextlib
import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import jack
import numpy as np

from instrument.jack.ending import ProcessEnd
from instrument.music import midi_to_hz
from tests.support.analysis import cents, estimate_f0, rms
from tests.support.instrument_proc import InstrumentProcess
from tests.support.jack_tap import Controller, JackTap
from tests.support.jackd import JackServer, start_test_jackd

REPO = Path(__file__).resolve().parents[2]


class Instrument(InstrumentProcess):
    """``instrument run`` on ``jack``, isolated from this machine's config and state."""

    def __init__(self, jack: JackServer, workdir: Path, *args: str, client: str = "instrument",
                 env: dict[str, str] | None = None,
                 recordings: Path | None = None, preexec_fn=None) -> None:
        self.client = client
        self.recordings = recordings or workdir / "recordings"
        module = ["-m", "instrument"]
        if "--config" not in args:
            # Never a config file of this machine (/etc/instrument, ~/.config/instrument).
            defaults = workdir / "defaults.toml"
            defaults.write_text("")
            args = ("--config", str(defaults), *args)
        self.cmd = [
            sys.executable, *module, "run",
            "--audio", "jack", "--midi-api", "jack",
            "--recordings", str(self.recordings),
            "--jack-client", client, "--log-level", "debug",
            *args,
        ]
        full_env = jack.env()
        full_env["PYTHONUNBUFFERED"] = "1"
        full_env["PYTHONPATH"] = str(REPO)
        full_env["PYTHONFAULTHANDLER"] = "1"  # a crash prints every thread's stack
        # Its own state directory: MIDI learn and caches must not leak between tests.
        full_env["XDG_DATA_HOME"] = str(workdir / "state")
        full_env["XDG_CONFIG_HOME"] = str(workdir / "config")
        full_env.pop("STATE_DIRECTORY", None)
        full_env.update(env or {})
        self.started = time.monotonic()
        self.process = subprocess.Popen(
            self.cmd, env=full_env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
            cwd=workdir, preexec_fn=preexec_fn,
        )
        self.lines: list[str] = []
        self._lock = threading.Lock()
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()

    def sigkill(self) -> None:
        self.process.send_signal(signal.SIGKILL)
        self.process.wait(timeout=10)
        self._reader.join(timeout=2)


def wait_frames(tap: JackTap, frames: int, timeout: float = 15.0) -> None:
    """Until the JACK graph has run ``frames`` more frames: on a loaded machine the
    graph (--sync, no real-time) can stall for a while, and then wall time lies."""
    target = tap.now_frame() + frames
    deadline = time.monotonic() + timeout
    while tap.now_frame() < target:
        assert time.monotonic() < deadline, f"the JACK graph stalled ({tap.xruns} xruns)"
        time.sleep(0.005)


def play(tap: JackTap, controller: Controller, pitch: int, hold: float = 0.3) -> np.ndarray:
    """Play one note; return what the instrument sounded while it was held."""
    deadline = time.monotonic() + 10
    while tap.first_frame is None:  # a new tap: let it run once, so frames mean something
        assert time.monotonic() < deadline, "the tap's JACK client never ran"
        time.sleep(0.005)
    start = tap.now_frame()
    controller.note_on(pitch, 100)
    wait_frames(tap, int(hold * tap.rate))
    controller.note_off(pitch)
    end = tap.now_frame()
    wait_frames(tap, int(0.3 * tap.rate))
    return tap.audio(start, end)


def sounds_at(audio: np.ndarray, pitch: int, rate: int) -> bool:
    if rms(audio) <= 1e-2:
        return False
    body = audio[int(0.05 * rate):]
    return abs(cents(estimate_f0(body, rate), midi_to_hz(pitch))) < 30


def assert_plays(tap: JackTap, controller: Controller, pitch: int) -> None:
    audio = play(tap, controller, pitch)
    seconds = audio.size / tap.rate
    assert rms(audio) > 1e-2, f"no sound in {seconds:.2f} s"
    body = audio[int(0.05 * tap.rate):]
    heard = estimate_f0(body, tap.rate)
    assert abs(cents(heard, midi_to_hz(pitch))) < 30, (
        f"heard {heard:.1f} Hz for {pitch} in {seconds:.2f} s of audio "
        f"(peak {np.abs(audio).max():.3f}, {tap.xruns} xruns in the tap)"
    )


def can_mount_tmpfs() -> bool:
    return os.geteuid() == 0


class Supervisor:
    """Plays systemd's part for ``Restart=always`` + ``RestartSec``: whenever the
    instrument exits, it is started again after ``restart_sec``. ``exits`` records
    (monotonic time, exit code) of each exit; ``current`` is the running process."""

    def __init__(self, start, restart_sec: float = 1.0) -> None:
        self._start = start
        self.restart_sec = restart_sec
        self.exits: list[tuple[float, int]] = []
        self.starts: list[float] = []
        self.current: Instrument | None = None
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    def _run(self) -> None:
        while not self._stop.is_set():
            proc = self._start()
            with self._lock:
                self.current = proc
                self.starts.append(time.monotonic())
            code = proc.process.wait()
            with self._lock:
                self.exits.append((time.monotonic(), code))
            if self._stop.wait(self.restart_sec):
                return

    def wait_for_exit(self, count: int, timeout: float) -> tuple[float, int]:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            with self._lock:
                if len(self.exits) >= count:
                    return self.exits[count - 1]
            time.sleep(0.02)
        raise AssertionError(f"the instrument did not exit within {timeout} s")

    def stop(self) -> None:
        self._stop.set()
        with self._lock:
            proc = self.current
        if proc is not None:
            try:
                proc.terminate(timeout=10)
            except Exception:
                proc.kill()
        self._thread.join(timeout=15)
        with self._lock:
            proc = self.current
        if proc is not None:
            proc.kill()


class HostileSender:
    """A JACK MIDI output in the test process that writes any bytes as MIDI events, with
    none of the checks a MIDI library makes (python-rtmidi refuses empty messages and
    long ones that do not start with 0xF0; a buggy or hostile JACK client does not)."""

    PER_CYCLE = 32

    def __init__(self, name: str = "hostile") -> None:
        self.client = jack.Client(name, no_start_server=True)
        self.port = self.client.midi_outports.register("out")
        self.pending: collections.deque[bytes] = collections.deque()
        self.sent = 0
        self.failed = 0
        self._cycles = ProcessEnd(self.client, self._process)
        self.client.activate()

    @property
    def name(self) -> str:
        return f"{self.client.name}:out"

    def _process(self, frames: int) -> None:
        self.port.clear_buffer()
        for i in range(min(self.PER_CYCLE, len(self.pending))):
            data = self.pending.popleft()
            try:
                self.port.write_midi_event(min(i, frames - 1), data)
                self.sent += 1
            except jack.JackError:
                self.failed += 1

    def send(self, messages: list[bytes], timeout: float = 10.0) -> None:
        self.pending.extend(messages)
        deadline = time.monotonic() + timeout
        while self.pending and time.monotonic() < deadline:
            time.sleep(0.002)
        assert not self.pending, "the JACK graph did not run"

    def close(self) -> None:
        self._cycles.deactivate()
        with contextlib.suppress(jack.JackError):
            self.client.close()


def dispose_server(server: JackServer) -> None:
    """Stop a private jackd for good, leaving nothing behind.

    jackd keeps a small table of servers in shared memory (eight at most); a server that
    dies by SIGKILL keeps its entry until a server of the same name starts again. So a
    killed server is started once more under its name, which reclaims the entry, and
    then stopped cleanly. A server with a killed client in its graph would take ~12 s to
    stop by SIGTERM (--sync waits for the dead client): it is killed, then reclaimed.
    """
    if server.alive():
        server.process.kill()
        server.process.wait()
    with contextlib.suppress(RuntimeError):
        start_test_jackd(rate=server.rate, period=server.period, name=server.name).stop()
