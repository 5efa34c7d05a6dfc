"""A three-hour gig in a minute: what the recorder and a status snapshot cost at hour three.

The audio callback needs Python's GIL every period (1.3 ms at 64 frames); any other
thread that holds it longer makes the callback late. A probe thread asks for the GIL
every 100 microseconds (a short ``sleep``, then a timestamp) and records how late it
got it back; its worst lateness while an operation runs, against its worst lateness
while nothing else runs (the floor: the OS timer, the machine), is the longest the
operation kept the GIL from others. The operations, with a session's worth of history:

- a recorder flush (``SmfRecorder.flush``) that writes the last half second of a busy
  gig (10 events), after 1,000 and after ``events`` (at least 200,000) events of a
  synthetic three-hour session: how long a flush takes and the worst GIL hold;
- a status snapshot's growing parts: the Band's status (both models' step timings after
  ``steps`` steps) and the audio callback's two timing histograms after three hours of
  64-frame cycles (``instrument status`` and the watchdog read these).

Two floors come with every run: the probe alone, and the probe while this thread keeps
a core busy without holding the GIL (on a machine with few cores, sharing the CPU alone
delays the probe).
"""

from __future__ import annotations

import hashlib
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np

from instrument.realtime.histogram import TimingHistogram

PROBE_INTERVAL = 0.0001
SWITCH_INTERVALS = (0.00005, 0.0005)  # fine, and as a live session sets it


class GilProbe:
    """A thread that takes the GIL every ``interval`` and records how late it got it."""

    def __init__(self, interval: float = PROBE_INTERVAL) -> None:
        self.interval = interval
        self.lateness = TimingHistogram()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="gil-probe", daemon=True)

    def _run(self) -> None:
        clock, interval, record = time.perf_counter, self.interval, self.lateness.record
        while not self._stop.is_set():
            began = clock()
            time.sleep(interval)
            record(clock() - began - interval)

    def __enter__(self) -> GilProbe:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()


def _measure(operation: Callable[[], object], repeats: int, gap: float = 0.002) -> dict:
    """Run ``operation`` ``repeats`` times under the probe; its own time and the probe's
    lateness (ms)."""
    times = TimingHistogram()
    with GilProbe() as probe:
        for _ in range(repeats):
            began = time.perf_counter()
            operation()
            times.record(time.perf_counter() - began)
            time.sleep(gap)
    return {"took_ms": times.summary_ms(), "gil_wait_ms": probe.lateness.summary_ms()}


def floor(seconds: float = 1.0) -> dict:
    """The probe's lateness with nothing else running (ms)."""
    with GilProbe() as probe:
        time.sleep(seconds)
    return probe.lateness.summary_ms()


def busy_floor(repeats: int, seconds: float = 0.0006) -> dict:
    """The probe's lateness while this thread keeps a core busy *without* the GIL
    (hashing, which lets the GIL go), as long as a flush: the cost of sharing the CPU,
    which is not a GIL hold (ms)."""
    block = bytes(1 << 16)

    def busy() -> None:
        end = time.perf_counter() + seconds
        while time.perf_counter() < end:
            hashlib.sha256(block).digest()

    return _measure(busy, repeats)["gil_wait_ms"]


def recorder_flush(events: int, work: Path, repeats: int = 200) -> dict:
    """A flush of the last half second after ``events`` events of a long session."""
    from instrument.engine.engine import TimedEvent
    from instrument.midifile.recorder import HORIZON_LAG, SmfRecorder

    now = {"t": 0.0}
    hours = 3.0
    spacing = hours * 3600.0 / events
    recorder = SmfRecorder(work / f"gig-{events}.mid", 0.0, lambda: now["t"])
    parts = ("player", "player", "accompaniment", "continuation")
    for i in range(events):
        on = i % 2 == 0
        recorder.play(TimedEvent(i * spacing, parts[(i // 2) % 4],
                                 (0x90 if on else 0x80, 48 + (i // 2) % 36, 80 if on else 0)))
    now["t"] = events * spacing + HORIZON_LAG
    recorder.flush()
    assert recorder.encoded == events
    t = now["t"]

    def flush_half_a_second() -> None:
        nonlocal t
        for k in range(10):
            on = k % 2 == 0
            recorder.play(TimedEvent(t + 0.05 * k, "player", (0x90 if on else 0x80, 60, 80)))
        t += 0.5
        now["t"] = t + HORIZON_LAG
        recorder.flush()

    result = _measure(flush_half_a_second, repeats)
    result["events"] = events
    result["file_bytes"] = recorder.path.stat().st_size
    recorder.close()
    return result


def status_snapshot(steps: int, repeats: int = 200) -> dict:
    """The growing parts of a status snapshot after a long session (see module doc)."""
    from instrument.baselines.markov import MarkovContinuator
    from instrument.config import Config
    from instrument.parts.factory import LoadedModels, build_band

    band = build_band(Config(), LoadedModels(None, None, MarkovContinuator(), []),
                      time.monotonic, cancel=lambda part: None, live=False)
    rng = np.random.default_rng(0)
    for runner in (band.responder.runner, band.accompaniment.runner):
        runner.stats.steps = steps
        for seconds in rng.gamma(2.0, 0.0002, size=steps):
            runner.stats.record(float(seconds))
    cycles = [TimingHistogram(), TimingHistogram()]
    n_cycles = int(3 * 3600 * 48000 / 64)
    for histogram, scale in zip(cycles, (0.00012, 0.00003), strict=True):
        counts = np.bincount(
            (rng.gamma(2.0, scale, size=200_000) / 1e-5).astype(int), minlength=5000
        )[:5000]
        histogram.counts = [int(c) * (n_cycles // 200_000) for c in counts]
        histogram.count = sum(histogram.counts)
        histogram.max = 0.006

    def snapshot() -> None:
        band.status()
        for histogram in cycles:
            histogram.summary_ms()

    result = _measure(snapshot, repeats)
    result["steps"] = steps
    result["cycles"] = n_cycles
    return result


def measure(events: int = 200_000, steps: int = 200_000, repeats: int = 200) -> dict:
    """Every figure of the module docstring, with the probe's floor in the same run, at
    each of ``SWITCH_INTERVALS``."""
    previous = sys.getswitchinterval()
    runs = []
    try:
        with tempfile.TemporaryDirectory(prefix="instrument-gig-") as tmp:
            work = Path(tmp)
            for interval in SWITCH_INTERVALS:
                sys.setswitchinterval(interval)
                runs.append({
                    "switch_interval_ms": interval * 1000,
                    "floor_gil_wait_ms": floor(),
                    "busy_floor_gil_wait_ms": busy_floor(repeats),
                    "recorder_flush": [recorder_flush(n, work, repeats) for n in (1000, events)],
                    "status_snapshot": [status_snapshot(n, repeats) for n in (1000, steps)],
                })
    finally:
        sys.setswitchinterval(previous)
    return {"runs": runs}


def table(result: dict) -> str:
    """The figures as lines of text (ms: p50 / p99 / p99.9 / max)."""

    def fmt(summary: dict) -> str:
        return " / ".join(f"{summary[k]:.2f}" for k in ("p50", "p99", "p999", "max"))

    lines = []
    for run in result["runs"]:
        lines.append(f"switch interval {run['switch_interval_ms']} ms; probe floors (GIL "
                     f"wait with nothing else running) {fmt(run['floor_gil_wait_ms'])}, "
                     f"(with a core busy without the GIL) {fmt(run['busy_floor_gil_wait_ms'])}")
        for r in run["recorder_flush"]:
            lines.append(f"  recorder flush after {r['events']:>7,} events: took "
                         f"{fmt(r['took_ms'])}; GIL wait {fmt(r['gil_wait_ms'])}")
        for r in run["status_snapshot"]:
            lines.append(f"  status snapshot after {r['steps']:>7,} steps: took "
                         f"{fmt(r['took_ms'])}; GIL wait {fmt(r['gil_wait_ms'])}")
    return "\n".join(lines)


if __name__ == "__main__":
    print(table(measure()))
