"""Soak: a long performance, live on JACK, in accompany+continue mode.

A folk melody from ``tests/data`` (or any MIDI file) is played in a loop by the test
controller, with pauses between repeats so the instrument answers. Measured: JACK xruns
(the capture client's xrun callback hears every xrun of the graph), the instrument's
missed model deadlines and late notes (from its own end-of-session report), CPU time
of the instrument process, and its resident memory at the start and at the end.
"""

from __future__ import annotations

import ast
import re
import time
from dataclasses import dataclass
from pathlib import Path

from instrument.bench.jackd import JackServer
from instrument.bench.rig import playing
from instrument.render import read_performance


def _proc_stat(pid: int) -> tuple[float, int]:
    """(CPU seconds used, resident KiB) of a process, from /proc."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    ticks = int(fields[11]) + int(fields[12])  # utime + stime
    import os

    cpu = ticks / os.sysconf("SC_CLK_TCK")
    rss = 0
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            rss = int(line.split()[1])
    return cpu, rss


@dataclass
class SoakRun:
    seconds: float
    period: int
    notes_played: int
    xruns: int
    cpu_percent: float
    rss_start_kib: int
    rss_end_kib: int
    band: dict
    late_synth: int
    late_midi: int
    max_late_ms: float
    ready_seconds: float

    def summary(self) -> dict:
        steps = {k: self.band.get(k, {}) for k in ("continuation_steps", "accompaniment_steps")}
        total = sum(s.get("steps", 0) for s in steps.values())
        missed = sum(s.get("misses", 0) for s in steps.values())
        return {
            "seconds": round(self.seconds, 1), "period": self.period,
            "ready_to_play_s": round(self.ready_seconds, 2),
            "notes_played": self.notes_played, "xruns": self.xruns,
            "model_steps": total, "missed_deadlines": missed,
            "missed_percent": round(100 * missed / total, 4) if total else None,
            "late_notes_synth": self.late_synth, "late_notes_midi_out": self.late_midi,
            "max_late_ms": self.max_late_ms,
            "cpu_percent": round(self.cpu_percent, 1),
            "rss_start_mib": round(self.rss_start_kib / 1024, 1),
            "rss_end_mib": round(self.rss_end_kib / 1024, 1),
            "responses": self.band.get("responses"),
            "steps": steps,
        }


CONFIG = 'mode = "accompany+continue"\n[recording]\nenabled = true\n'


def measure(server: JackServer, workdir: Path, melody: Path, seconds: float) -> SoakRun:
    performance = read_performance(melody)
    notes = 0
    with playing(server, workdir, CONFIG) as rig:
        tap, controller, inst = rig.tap, rig.controller, rig.instrument
        ready_seconds = rig.ready_seconds
        tap.wait_frames(tap.rate // 2)
        pid = inst.process.pid
        cpu0, rss0 = _proc_stat(pid)
        xruns0 = tap.xruns
        start_frame = tap.now_frame()
        started = time.monotonic()
        rate = tap.rate
        while tap.now_frame() - start_frame < seconds * rate:
            loop_start = tap.now_frame()
            for t, message in performance.events:
                target = loop_start + int(t * rate)
                wait = target - tap.now_frame()
                if wait > 0:
                    tap.wait_frames(wait)
                controller.send(*message)
                notes += message[0] & 0xF0 == 0x90 and message[2] > 0
                if tap.now_frame() - start_frame >= seconds * rate:
                    break
            # A pause for the answer: silence, then the response plays.
            tap.wait_frames(int(6 * rate))
        elapsed_wall = time.monotonic() - started
        cpu1, rss1 = _proc_stat(pid)
        xruns = tap.xruns - xruns0
        inst.terminate(timeout=20)
        report = re.search(
            r"session: (\d+) planned notes reached the synth late, (\d+) MIDI out late "
            r"\(at most ([\d.]+) ms\); band (\{.*\})", inst.log,
        )
        band = ast.literal_eval(report.group(4)) if report else {}
        return SoakRun(
            seconds=(tap.now_frame() - start_frame) / rate, period=tap.period,
            notes_played=notes, xruns=xruns,
            cpu_percent=100 * (cpu1 - cpu0) / elapsed_wall if elapsed_wall else 0.0,
            rss_start_kib=rss0, rss_end_kib=rss1, band=band,
            late_synth=int(report.group(1)) if report else -1,
            late_midi=int(report.group(2)) if report else -1,
            max_late_ms=float(report.group(3)) if report else -1.0,
            ready_seconds=ready_seconds,
        )
