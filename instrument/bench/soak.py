"""Soak: a long performance, live on JACK as on stage, in accompany+continue mode.

The JACK server runs as the systemd unit runs it (``-R``: real-time threads, the usual
asynchronous graph) with the dummy backend. A folk melody is played in a loop by the
test controller, with pauses between repeats so the instrument answers. No capture
client runs (it would be a second Python client in the graph, adding xruns of its own).
Measured: JACK xruns and the instrument's missed model deadlines, late notes and
process-callback times (from its own end-of-session report), CPU time of the instrument
process, and its resident memory at the start and at the end.
"""

from __future__ import annotations

import ast
import os
import re
import time
from dataclasses import dataclass
from pathlib import Path

from instrument.bench.instrument_proc import InstrumentProcess
from instrument.bench.jack_tap import Controller, play_for
from instrument.jack.server import JackServer
from instrument.midifile.performance import read_performance

CONFIG = 'mode = "accompany+continue"\n[recording]\nenabled = true\n'
REPORT = re.compile(
    r"session: (\d+) xruns, (\d+) JACK cycles \(callback ms (\{.*?\}); "
    r"entered after ms (\{.*?\}); (\d+) ended over a period\); "
    r"(\d+) planned notes reached the synth late, (\d+) MIDI out late "
    r"\(at most ([\d.]+) ms\); band (\{.*\})"
)


def _proc_stat(pid: int) -> tuple[float, int]:
    """(CPU seconds used, resident KiB) of a process, from /proc."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    cpu = (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")  # utime + stime
    rss = 0
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            rss = int(line.split()[1])
    return cpu, rss


@dataclass
class SoakRun:
    seconds: float
    period: int
    ready_seconds: float
    notes_played: int
    report: dict
    cpu_percent: float
    rss_start_kib: int
    rss_end_kib: int

    def summary(self) -> dict:
        band = self.report.get("band", {})
        steps = {k: band.get(k, {}) for k in ("continuation_steps", "accompaniment_steps")}
        total = sum(s.get("steps", 0) for s in steps.values())
        missed = sum(s.get("misses", 0) for s in steps.values())
        return {
            "seconds": round(self.seconds, 1), "period": self.period,
            "jack": "dummy backend, -R (real-time, asynchronous), no capture client",
            "ready_to_play_s": round(self.ready_seconds, 2),
            "notes_played": self.notes_played,
            "xruns": self.report.get("xruns"), "jack_cycles": self.report.get("cycles"),
            "callback_ms": self.report.get("callback_ms"),
            "callback_start_ms": self.report.get("callback_start_ms"),
            "cycles_over_period": self.report.get("overruns"),
            "model_steps": total, "missed_deadlines": missed,
            "missed_percent": round(100 * missed / total, 4) if total else None,
            "late_notes_synth": self.report.get("late_synth"),
            "late_notes_midi_out": self.report.get("late_midi"),
            "max_late_ms": self.report.get("max_late_ms"),
            "cpu_percent": round(self.cpu_percent, 1),
            "rss_start_mib": round(self.rss_start_kib / 1024, 1),
            "rss_end_mib": round(self.rss_end_kib / 1024, 1),
            "responses": band.get("responses"),
            "steps": steps,
        }


def parse_report(log: str) -> dict:
    m = REPORT.search(log)
    if m is None:
        return {}
    return {
        "xruns": int(m.group(1)), "cycles": int(m.group(2)),
        "callback_ms": ast.literal_eval(m.group(3)),
        "callback_start_ms": ast.literal_eval(m.group(4)), "overruns": int(m.group(5)),
        "late_synth": int(m.group(6)), "late_midi": int(m.group(7)),
        "max_late_ms": float(m.group(8)), "band": ast.literal_eval(m.group(9)),
    }


def measure(server: JackServer, workdir: Path, melody: Path, seconds: float) -> SoakRun:
    performance = read_performance(melody)
    config = workdir / "soak.toml"
    config.write_text(CONFIG)
    controller = Controller("controller")
    started = time.monotonic()
    inst = InstrumentProcess(server, workdir, "--midi-in", "controller", "--config", str(config))
    try:
        inst.wait_for("ready to play", timeout=60)
        ready = time.monotonic() - started
        inst.wait_for("MIDI input connected")
        pid = inst.process.pid
        cpu0, rss0 = _proc_stat(pid)
        t0 = time.monotonic()
        notes = play_for(controller, performance, seconds, pause=6.0)
        elapsed = time.monotonic() - t0
        cpu1, rss1 = _proc_stat(pid)
        inst.terminate(timeout=20)
        return SoakRun(elapsed, server.period, ready, notes, parse_report(inst.log),
                       100 * (cpu1 - cpu0) / elapsed, rss0, rss1)
    finally:
        inst.kill()
        controller.close()
