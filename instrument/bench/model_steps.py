"""Per-step latency of the shipped models and the fallbacks.

    python -m instrument.bench.model_steps [--steps 5000] [--providers cpu] [--json]

For each model, tuned session options (one intra-op thread, spinning off, sequential)
and onnxruntime's defaults are measured over the same stream of steps after warm-up:
``run`` is ``session.run`` alone (the model's own timer), ``step`` the whole ``step()``
call the engine makes (encoding, run, log-softmax); ``adaptive`` adds the tune memory
(its labelling of the bar just ended waits until after the decision, as live, untimed:
:meth:`~instrument.memory.tune_memory.TuneMemory.settle`),
and for an accompaniment model with a harmony policy ``adaptive_policy`` also the rule
arranger's step and the policy, as the live part's model worker decides a beat;
``adaptive_policy_foresight`` adds the continuation model's forecast of the next melody
note (the model reads it, and the policy weighs the chords by it), which takes each note
before the beat's deadline, as live: ``adaptive_policy_foresight_ahead`` is that work, per
beat, off the deadline (:meth:`~instrument.models.foresight.MelodyForecast.hear_ahead`,
:meth:`~instrument.models.foresight.MelodyForecast.expect`). The Markov and rule fallbacks are
timed the same way. Every duration goes into a
:class:`~instrument.realtime.histogram.TimingHistogram` (10 us bins, as for audio cycles
and live steps); percentiles are in milliseconds, the upper edge of their bin.
"""

from __future__ import annotations

import argparse
import json
import platform
import time

import numpy as np

from instrument import places
from instrument.baselines import MarkovContinuator, RuleArranger
from instrument.evaluation.generators import as_played
from instrument.memory.adaptive import AdaptiveContinuator
from instrument.memory.tune_memory import TuneMemory
from instrument.models.accompaniment import BeatInput
from instrument.models.loader import load_model
from instrument.music import GridNote, Meter
from instrument.realtime.histogram import TimingHistogram

QS = (50.0, 99.0, 99.9)
M44 = Meter(4, 4)


def _ms(timer: TimingHistogram) -> dict[str, float]:
    p50, p99, p999 = (timer.percentile(q) * 1e3 for q in QS)
    return {"p50": round(p50, 4), "p99": round(p99, 4), "p99.9": round(p999, 4),
            "n": timer.count}


def _melody(steps: int, seed: int = 0, phrase: int | None = None) -> list[GridNote]:
    """A random walk; with ``phrase``, each run of ``phrase`` notes is played four times
    over (the pitches of one in eight changed) before a new one starts."""
    rng = np.random.default_rng(seed)
    notes, tick, pitch = [], 0, 67
    walk: list[tuple[int, int]] = []
    for i in range(steps):
        if phrase is not None and (i // phrase) % 4 != 0:
            p, dur = walk[i % phrase + (i // (4 * phrase)) * phrase]
            if rng.random() < 0.125:
                p = int(np.clip(p + rng.choice([-2, 2]), 55, 84))
        else:
            pitch = int(np.clip(pitch + rng.choice([-4, -2, -1, 0, 1, 2, 3, 5]), 55, 84))
            p, dur = pitch, int(rng.choice([3, 6, 6, 6, 12, 12, 18, 24]))
            walk.append((p, dur))
        notes.append(GridNote(p, tick, dur, 80))
        tick += dur
    return notes


def bench_continuation(model, steps: int, markov: MarkovContinuator | None = None) -> dict:
    """``step`` of ``model``; with ``markov``, of the adaptive mixture around it."""
    adaptive = AdaptiveContinuator(model, markov) if markov is not None else None
    notes = _melody(steps, phrase=32 if adaptive else None)
    stepped = adaptive or model
    if adaptive:
        adaptive.forget_online()
    stepped.reset()
    stepped.step(None, M44)
    times = TimingHistogram()
    for i, n in enumerate(notes):
        if i % 256 == 0:  # a new phrase now and then, as on stage
            stepped.reset(n.onset - n.onset % M44.ticks_per_bar)
            stepped.step(None, M44)
        t0 = time.perf_counter()
        if adaptive:
            adaptive.learn_next(n, M44)
        stepped.step(n, M44)
        times.record(time.perf_counter() - t0)
    return {"step": _ms(times)}


def bench_accompaniment(model, steps: int, memory: TuneMemory | None = None) -> dict:
    """``step`` of ``model``; with ``memory``, observing and blending as the live part;
    with a melody forecast, its work before each deadline timed as ``ahead``."""
    notes = _melody(steps * 2, seed=1, phrase=32 if memory else None)
    model.reset()
    if memory is not None:
        memory.reset()
    forecast = getattr(model, "forecast", None)
    times, ahead = TimingHistogram(), TimingHistogram()
    i = 0
    prev = None
    for b in range(steps):
        if b % 256 == 0:
            model.reset()
            prev = None
        deadline = b * 12 - 2
        start = i
        while i < len(notes) and notes[i].onset < deadline:
            i += 1
        beat = BeatInput(b * 12, M44, tuple(notes[start:i]), prev)
        if forecast is not None:  # as the notes were heard
            t0 = time.perf_counter()
            for note in beat.notes:
                forecast.hear_ahead(note, beat.beat_tick, M44)
            ahead.record(time.perf_counter() - t0)
        t0 = time.perf_counter()
        dist = model.step(beat)
        if memory is not None:
            memory.observe(beat)
            dist = memory.blend(dist)
        dist = model.look_ahead(dist, memory.recall() if memory is not None else 0.0)
        times.record(time.perf_counter() - t0)
        prev = dist.top()
        if forecast is not None:  # after the decision, the note sounding on
            t0 = time.perf_counter()
            forecast.expect(beat.beat_tick + 12, M44)
            ahead.record(time.perf_counter() - t0)
        if memory is not None:  # after the decision, the bar just ended labelled
            memory.settle()
    return {"step": _ms(times)} | ({"ahead": _ms(ahead)} if forecast is not None else {})


def run(steps: int, providers: list[str], models_dir) -> dict:
    out: dict = {
        "machine": f"{platform.machine()} {platform.processor() or ''}".strip(),
        "steps": steps,
        "providers_requested": providers,
    }
    markov_path = (models_dir or places.models_dir()) / "markov_prior.npz"

    def markov() -> MarkovContinuator:
        return MarkovContinuator.from_prior(markov_path) if markov_path.exists() else (
            MarkovContinuator())

    loaded: dict[str, object] = {}
    for name in ("continuation", "accompaniment"):
        out[name] = {}
        for label, tuned in (("tuned", True), ("default", False)):
            model = load_model(name, providers, models_dir, tuned=tuned)
            t0 = time.perf_counter()
            model.warm_up()
            warm = time.perf_counter() - t0
            model.timer.reset()
            res = (bench_continuation(model, steps) if name == "continuation"
                   else bench_accompaniment(model, steps))
            res["run"] = _ms(model.timer)
            if tuned:
                res["adaptive"] = (bench_continuation(model, steps, markov())["step"]
                                   if name == "continuation"
                                   else bench_accompaniment(model, steps, TuneMemory())["step"])
                loaded[name] = model
                played = model if name == "continuation" else \
                    as_played(model, model.deadline_ticks)
                if played is not model:  # as the live part plays it: rules and policy
                    res["adaptive_policy"] = bench_accompaniment(played, steps,
                                                                 TuneMemory())["step"]
                    seeing = as_played(model, model.deadline_ticks, loaded.get("continuation"))
                    if getattr(seeing, "forecast", None) is not None:  # and its foresight
                        timed = bench_accompaniment(seeing, steps, TuneMemory())
                        res["adaptive_policy_foresight"] = timed["step"]
                        res["adaptive_policy_foresight_ahead"] = timed["ahead"]
            res["providers"] = model.stepper.providers
            res["warm_up_ms"] = round(warm * 1e3, 1)
            out[name][label] = res
    out["markov"] = bench_continuation(markov(), steps)
    out["rules"] = bench_accompaniment(RuleArranger(), steps)
    out["markov_adaptive"] = bench_continuation(None, steps, markov())
    out["rules_adaptive"] = bench_accompaniment(RuleArranger(), steps, TuneMemory())
    return out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m instrument.bench.model_steps",
                                     description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--steps", type=int, default=5000)
    parser.add_argument("--providers", default="cpu", help="comma-separated, e.g. cuda,cpu")
    parser.add_argument("--models-dir", default=None)
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args(argv)
    from pathlib import Path

    providers = [p.strip() for p in args.providers.split(",") if p.strip()]
    res = run(args.steps, providers, Path(args.models_dir) if args.models_dir else None)
    if args.json:
        print(json.dumps(res, indent=2))
        return 0
    print(f"{res['steps']} steps per measurement; milliseconds (p50 / p99 / p99.9)")
    for name in ("continuation", "accompaniment"):
        for label, r in res[name].items():
            for part in ("run", "step", "adaptive", "adaptive_policy",
                         "adaptive_policy_foresight", "adaptive_policy_foresight_ahead"):
                if part not in r:
                    continue
                m = r[part]
                print(f"{name:<14} {label:<8} {part:<32} {m['p50']:7.3f} {m['p99']:7.3f} "
                      f"{m['p99.9']:7.3f}   on {r['providers'][0]}")
    for name in ("markov", "rules", "markov_adaptive", "rules_adaptive"):
        m = res[name]["step"]
        print(f"{name:<14} {'numpy':<8} {'step':<32} {m['p50']:7.3f} {m['p99']:7.3f} "
              f"{m['p99.9']:7.3f}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
