"""xruns of the instrument against ``jack_midisine``, on one JACK server, interleaved.

The JACK server runs as on stage (``-R``: real-time, asynchronous; dummy backend), for
each period size asked. Rounds alternate: ``jack_midisine`` (JACK's example C thru
synth: the floor of the machine) alone, then ``instrument run`` in accompany+continue,
each played the same melody by the test controller for the same time, several times
over, so a noisy hour of the machine weighs on both alike. The instrument runs in each
layout asked (``LAYOUTS``): "two processes" (the default: the engine in a process of its
own) and "one process" (``audio.engine_process = false``: the engine beside the audio
callback, as before the split), one round of each per round of ``jack_midisine``.
xruns are counted by an observer client (no process callback, so no work in the graph)
over the playing time only; for the instrument, its own report adds how late its
callback was entered (the JACK thread waiting for the GIL shows there).

``python -m instrument.bench.xruns --periods 64 128 --rounds 3 --seconds 30`` runs it
alone and prints JSON.
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
from instrument.midifile.performance import MidiPerformance, read_performance


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


def _midisine_round(server: jackd.JackServer, performance: MidiPerformance, seconds: float,
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


#: Layout name -> the config line that selects it.
LAYOUTS = {"two processes": "engine_process = true", "one process": "engine_process = false"}


def _instrument_round(server: jackd.JackServer, work: Path, performance: MidiPerformance,
                      seconds: float, counter: XrunCounter,
                      layout: str = "two processes") -> Round:
    config = work / "xruns.toml"
    config.write_text(soak.CONFIG + f"[audio]\n{LAYOUTS[layout]}\n")
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
        return Round(f"instrument ({layout})", elapsed, xruns,
                     report.get("callback_start_ms", {}))
    finally:
        inst.kill()
        controller.close()


def compare(work: Path, melody: Path, period: int, rounds: int, seconds: float,
            layouts: tuple[str, ...] = ("two processes",)) -> dict:
    """``rounds`` interleaved rounds at ``period`` frames: ``jack_midisine``, then the
    instrument in each of ``layouts`` (see module doc)."""
    if shutil.which("jack_midisine") is None:
        return {"period": period, "error": "jack_midisine is not installed"}
    performance = read_performance(melody)
    server = jackd.start_private_jackd(period, jackd.STAGE_FLAGS)
    runs: list[Round] = []
    try:
        with jack_environment(server):
            counter = XrunCounter()
            try:
                for _ in range(rounds):
                    runs.append(_midisine_round(server, performance, seconds, counter))
                    for layout in layouts:
                        runs.append(_instrument_round(server, work, performance, seconds,
                                                      counter, layout))
            finally:
                counter.close()
    finally:
        server.stop()

    def per_minute(client: str) -> list[float]:
        return [round(r.per_minute, 2) for r in runs if r.client == client]

    result: dict = {
        "period": period, "seconds_per_round": seconds, "rounds": rounds,
        "jack": "dummy backend, -R (real-time, asynchronous)",
        "jack_midisine_xruns_per_minute": per_minute("jack_midisine"),
    }
    for layout in layouts:
        client = f"instrument ({layout})"
        key = "instrument" if layout == "two processes" else "instrument_one_process"
        result[f"{key}_xruns_per_minute"] = per_minute(client)
        result[f"{key}_callback_entered_after_ms"] = [
            r.callback_start_ms for r in runs if r.client == client
        ]
    return result


def main(argv: list[str] | None = None) -> int:
    import argparse
    import json
    import tempfile

    from instrument.bench.suite import DATA

    parser = argparse.ArgumentParser(prog="python -m instrument.bench.xruns",
                                     description=__doc__.split("\n\n")[0])
    parser.add_argument("--periods", type=int, nargs="+", default=[64, 128])
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--seconds", type=float, default=30.0)
    parser.add_argument("--layouts", nargs="+", default=list(LAYOUTS), choices=list(LAYOUTS))
    parser.add_argument("--melody", type=Path, default=DATA / "reel_4-4.mid")
    args = parser.parse_args(argv)
    work = Path(tempfile.mkdtemp(prefix="instrument-xruns-"))
    results = [compare(work, args.melody, period, args.rounds, args.seconds,
                       tuple(args.layouts)) for period in args.periods]
    print(json.dumps(results, indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
