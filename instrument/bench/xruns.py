"""xruns of the instrument against ``jack_midisine``, on one JACK server, interleaved.

The JACK server runs as on stage (``-R``: real-time, asynchronous; dummy backend), for
each period size asked. Rounds alternate: ``jack_midisine`` (JACK's example C thru
synth: the floor of the machine) alone, then ``instrument run`` in accompany+continue,
each played the same melody by the test controller for the same time, several times
over, so a noisy hour of the machine weighs on both alike. xruns are counted by an
observer client (no process callback, so no work in the graph) over the playing time
only; for the instrument, its own report adds how late its callback was entered (the
JACK thread waiting for the GIL shows there).
"""

from __future__ import annotations

import shutil
import subprocess
import time
from dataclasses import dataclass, field
from pathlib import Path

import jack

from instrument.bench import jackd, soak
from instrument.bench.instrument_proc import InstrumentProcess
from instrument.bench.jack_tap import Controller, play_for
from instrument.bench.rig import jack_environment
from instrument.render import Performance, read_performance


class XrunCounter:
    """A JACK client that only counts the server's xruns."""

    def __init__(self) -> None:
        self.client = jack.Client("xrun-counter", no_start_server=True)
        self.count = 0
        self.client.set_xrun_callback(self._xrun)
        self.client.activate()

    def _xrun(self, delay: float) -> None:
        self.count += 1

    def close(self) -> None:
        self.client.deactivate()
        self.client.close()


@dataclass
class Round:
    client: str
    seconds: float
    xruns: int
    callback_start_ms: dict = field(default_factory=dict)

    @property
    def per_minute(self) -> float:
        return 60.0 * self.xruns / self.seconds


def _midisine_round(server: jackd.JackServer, performance: Performance, seconds: float,
                    counter: XrunCounter) -> Round:
    proc = subprocess.Popen(["jack_midisine"], env=server.env(),
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    controller = Controller("controller")
    try:
        deadline = time.monotonic() + 5
        while True:
            try:
                counter.client.connect(controller.port, "midisine:midi_in")
                break
            except jack.JackError:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.05)
        for port in counter.client.get_ports("system:playback", is_audio=True)[:1]:
            counter.client.connect("midisine:audio_out", port.name)
        before, t0 = counter.count, time.monotonic()
        play_for(controller, performance, seconds)
        return Round("jack_midisine", time.monotonic() - t0, counter.count - before)
    finally:
        controller.close()
        proc.terminate()
        proc.wait(timeout=5)


def _instrument_round(server: jackd.JackServer, work: Path, performance: Performance,
                      seconds: float, counter: XrunCounter) -> Round:
    config = work / "xruns.toml"
    config.write_text(soak.CONFIG)
    controller = Controller("controller")
    inst = InstrumentProcess(server, work, "--midi-in", "controller", "--config", str(config))
    try:
        inst.wait_for("ready to play", timeout=60)
        inst.wait_for("MIDI input connected")
        time.sleep(0.5)
        before, t0 = counter.count, time.monotonic()
        play_for(controller, performance, seconds)
        elapsed, xruns = time.monotonic() - t0, counter.count - before
        inst.terminate(timeout=20)
        report = soak.parse_report(inst.log)
        return Round("instrument", elapsed, xruns, report.get("callback_start_ms", {}))
    finally:
        inst.kill()
        controller.close()


def compare(work: Path, melody: Path, period: int, rounds: int, seconds: float) -> dict:
    """``rounds`` interleaved pairs of rounds at ``period`` frames (see module doc)."""
    if shutil.which("jack_midisine") is None:
        return {"period": period, "error": "jack_midisine is not installed"}
    performance = read_performance(melody)
    server = jackd.start_jackd(period=period, flags=jackd.STAGE_FLAGS)
    runs: list[Round] = []
    try:
        with jack_environment(server):
            counter = XrunCounter()
            try:
                for _ in range(rounds):
                    runs.append(_midisine_round(server, performance, seconds, counter))
                    runs.append(_instrument_round(server, work, performance, seconds, counter))
            finally:
                counter.close()
    finally:
        server.stop()

    def per_minute(client: str) -> list[float]:
        return [round(r.per_minute, 2) for r in runs if r.client == client]

    return {
        "period": period, "seconds_per_round": seconds, "rounds": rounds,
        "jack": "dummy backend, -R (real-time, asynchronous)",
        "jack_midisine_xruns_per_minute": per_minute("jack_midisine"),
        "instrument_xruns_per_minute": per_minute("instrument"),
        "instrument_callback_entered_after_ms": [
            r.callback_start_ms for r in runs if r.client == "instrument"
        ],
    }
