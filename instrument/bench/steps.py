"""Per-step model latency, cold start, tuned session options against onnxruntime's
defaults, and streaming against recomputing from the whole history.

Each model is stepped through real melodies (``tests/data`` or any MIDI files) the way
the engine steps it: one ``step`` call per note (continuation) or per beat
(accompaniment), timed around the whole call (encoding included).
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from instrument.models.accompaniment import BeatInput
from instrument.models.tune import Tune, read_midi
from instrument.music import TICKS_PER_BEAT
from instrument.realtime.histogram import TimingHistogram


def _percentiles(seconds: list[float]) -> dict:
    """Percentiles from a :class:`TimingHistogram` (10 us bins, as for live steps)."""
    timer = TimingHistogram()
    timer.record_all(seconds)
    summary = timer.summary_ms()
    return {
        "steps": timer.count,
        "p50_ms": summary["p50"],
        "p99_ms": summary["p99"],
        "p999_ms": summary["p999"],
        "max_ms": summary["max"],
        "mean_ms": round(float(np.mean(seconds)) * 1000.0, 4),
    }


def tunes_from(directory: Path) -> list[Tune]:
    return [read_midi(p) for p in sorted(directory.glob("*.mid"))]


def _beats(tune: Tune, deadline: int) -> Iterator[BeatInput]:
    notes = sorted(tune.melody, key=lambda n: n.onset)
    i = 0
    for beat in range(1, tune.n_beats + 1):
        tick = beat * TICKS_PER_BEAT
        seen = []
        while i < len(notes) and notes[i].onset < tick - deadline:
            seen.append(notes[i])
            i += 1
        yield BeatInput(tick, tune.meter, tuple(seen), None)


def _drive(model, task: str, tunes: list[Tune], steps: int) -> list[float]:
    """Step ``model`` through the tunes (over and over) ``steps`` times; durations."""
    durations: list[float] = []
    while len(durations) < steps:
        for tune in tunes:
            model.reset()
            if task == "continuation":
                model.step(None, tune.meter)
                items = tune.melody
            else:
                items = list(_beats(tune, model.deadline_ticks))
            previous = None
            for item in items:
                t0 = time.perf_counter()
                if task == "continuation":
                    model.step(item, tune.meter)
                else:
                    dist = model.step(BeatInput(item.beat_tick, item.meter, item.notes, previous))
                    previous = dist.top()
                durations.append(time.perf_counter() - t0)
                if len(durations) >= steps:
                    return durations
    return durations


@dataclass
class StepBench:
    model: str
    provider: str
    options: str  # tuned | default
    cold_start_ms: float
    stats: dict

    def summary(self) -> dict:
        return {"model": self.model, "provider": self.provider, "options": self.options,
                "cold_start_ms": round(self.cold_start_ms, 2), **self.stats}


def bench_model(
    name: str, models_dir: Path, provider: str, tuned: bool, tunes: list[Tune], steps: int
) -> StepBench:
    from instrument.models import load_model

    t0 = time.perf_counter()
    model = load_model(name, providers=[provider], models_dir=models_dir, tuned=tuned)
    task = model.manifest.task
    _drive(model, task, tunes, 1)  # the first step completes the cold start
    cold = (time.perf_counter() - t0) * 1000.0
    _drive(model, task, tunes, 50)  # warm up
    durations = _drive(model, task, tunes, steps)
    used = model.stepper.providers[0]
    return StepBench(name, used, "tuned" if tuned else "default", cold, _percentiles(durations))


def streaming_vs_recompute(
    name: str, models_dir: Path, tunes: list[Tune], history: int = 64, repeats: int = 30
) -> dict:
    """Time of one streaming step against re-running the whole history from a fresh state
    (what a model without streaming state would do for every note)."""
    from instrument.models import load_model

    model = load_model(name, providers=["cpu"], models_dir=models_dir)
    melody = [n for t in tunes for n in t.melody][:history]
    meter = tunes[0].meter
    stream, recompute = [], []
    for _ in range(repeats):
        model.reset()
        model.step(None, meter)
        for note in melody[:-1]:
            model.step(note, meter)
        t0 = time.perf_counter()
        model.step(melody[-1], meter)
        stream.append(time.perf_counter() - t0)
        t0 = time.perf_counter()
        model.reset()
        model.step(None, meter)
        for note in melody:
            model.step(note, meter)
        recompute.append(time.perf_counter() - t0)
    s, r = float(np.median(stream)), float(np.median(recompute))
    return {"model": name, "history_notes": len(melody), "stream_step_ms": round(s * 1000, 4),
            "recompute_ms": round(r * 1000, 4), "ratio": round(r / s, 1)}


def available_providers() -> list[str]:
    import onnxruntime as ort

    names = {"CPUExecutionProvider": "cpu", "CUDAExecutionProvider": "cuda",
             "TensorrtExecutionProvider": "tensorrt"}
    return [names[p] for p in ort.get_available_providers() if p in names]
