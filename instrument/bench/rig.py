"""One place to set up what every live measurement needs: the instrument running on a
private JACK server, a test controller plugged into it, and a capture client wired to
its audio and MIDI out."""

from __future__ import annotations

import contextlib
import os
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from instrument.bench.instrument_proc import InstrumentProcess
from instrument.bench.jack_tap import Controller, JackTap
from instrument.jack.server import JackServer


@dataclass
class Rig:
    controller: Controller
    tap: JackTap
    instrument: InstrumentProcess
    ready_seconds: float  # from starting the process to its "ready to play"


@contextlib.contextmanager
def jack_environment(server: JackServer) -> Iterator[None]:
    """Point this process's JACK clients at ``server`` for the duration."""
    keys = ("JACK_DEFAULT_SERVER", "JACK_NO_START_SERVER")
    previous = {k: os.environ.get(k) for k in keys}
    os.environ.update(server.env())
    try:
        yield
    finally:
        for key, value in previous.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value


@contextlib.contextmanager
def playing(
    server: JackServer, workdir: Path, config_toml: str = "", ready_timeout: float = 60.0
) -> Iterator[Rig]:
    """The instrument playing from a test controller, captured: audio on ``tap:in_1``,
    MIDI out on ``tap:midi_out``, the controller's own notes on ``tap:ctl``.

    ``config_toml`` is written to a config file the instrument reads. On exit the
    instrument is stopped (SIGTERM, then killed if it hangs) and the clients closed.
    """
    tap = JackTap("tap", midi_inputs=("midi_out", "ctl"))
    controller = Controller("controller")
    tap.connect(controller.port, "tap:ctl")
    config = workdir / "instrument.toml"
    config.write_text(config_toml)
    started = time.monotonic()
    inst = InstrumentProcess(server, workdir, "--midi-in", "controller", "--config", str(config))
    try:
        inst.wait_for("ready to play", timeout=ready_timeout)
        ready = time.monotonic() - started
        inst.wait_for("MIDI input connected: controller:out")
        tap.connect("instrument:out_1", "tap:in_1")
        tap.connect("instrument:midi_out", "tap:midi_out")
        tap.wait_frames(tap.rate // 10)
        yield Rig(controller, tap, inst, ready)
    finally:
        try:
            inst.terminate()
        except Exception:
            inst.kill()
        tap.close()
        controller.close()
