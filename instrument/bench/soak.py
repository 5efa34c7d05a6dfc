"""Soak: a long performance, live on JACK as on stage, in accompany+continue mode.

The JACK server runs as the systemd unit runs it (``-R``: real-time threads, the usual
asynchronous graph) with the dummy backend. A folk melody is played in a loop by the
test controller, with pauses between repeats so the instrument answers. No capture
client runs (it would be a second Python client in the graph, adding xruns of its own).
Measured: JACK xruns and the instrument's missed model deadlines, late notes and
process-callback times (from its own end-of-session report), CPU time of the instrument's
processes (the audio process and, in the two-process layout, the engine process: each,
and their sum), and their resident memory at the start and at the end.
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
    #: Per process ("audio", "engine"): cpu_percent, rss_start_mib, rss_end_mib.
    processes: dict | None = None

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
            "processes": self.processes,
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
        pids = {"audio": inst.process.pid}
        engine = re.search(r"the engine runs in process (\d+)", inst.log)
        if engine:
            pids["engine"] = int(engine.group(1))
        before = {name: _proc_stat(pid) for name, pid in pids.items()}
        t0 = time.monotonic()
        notes = play_for(controller, performance, seconds, pause=6.0)
        elapsed = time.monotonic() - t0
        after = {name: _proc_stat(pid) for name, pid in pids.items()}
        inst.terminate(timeout=20)
        processes = {
            name: {"cpu_percent": round(100 * (after[name][0] - before[name][0]) / elapsed, 1),
                   "rss_start_mib": round(before[name][1] / 1024, 1),
                   "rss_end_mib": round(after[name][1] / 1024, 1)}
            for name in pids
        }
        cpu = sum(after[n][0] - before[n][0] for n in pids)
        return SoakRun(elapsed, server.period, ready, notes, parse_report(inst.log),
                       100 * cpu / elapsed, sum(before[n][1] for n in pids),
                       sum(after[n][1] for n in pids), processes)
    finally:
        inst.kill()
        controller.close()
