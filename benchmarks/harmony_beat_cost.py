"""What deciding one beat's chord costs with learning on, on validation tunes.

    python -m benchmarks.harmony_beat_cost [MANIFEST] [--tunes 200] [--no-ahead] [--idle-tunes 20]

Per beat, in one process on the engine's path: the ONNX step alone (the model's own
timer), the step with the rule arranger and the manifest's harmony policy
(:mod:`instrument.models.harmony`), and the whole decision with the tune memory's observe
and blend, the foresight's weighing and the greedy sample. With the policy's foresight,
``forecast_ms`` is the melody forecast's step (:class:`~instrument.models.foresight.
MelodyForecast`), which the live part runs on its own worker beside the model's step,
under the same deadline; a model that reads the forecast as an input (the foresight
encoding) steps it inside its own step, and ``forecast_in_step_ms`` is that part of
the step. As live, the forecast takes each beat's notes before its deadline (as they are
heard) and steps the note sounding to the next beat after each decision (:meth:`~instrument.
models.foresight.MelodyForecast.hear_ahead`, :meth:`~instrument.models.foresight.
MelodyForecast.expect`), timed apart as ``ahead_ms`` (per note or beat, off the
deadline); ``--no-ahead`` has it do all its work at the deadline, as when every note came
just before it. The tune memory's labelling of the bar just ended waits until after the
decision (:meth:`~instrument.memory.tune_memory.TuneMemory.settle`), timed apart as
``memory_settle_ms``.

All of that runs one piece after another on one thread. ``live_decision_ms`` is each
beat's decision as the live part makes it (:meth:`~instrument.parts.accompaniment.
Accompaniment.decision_summary`): the real :class:`~instrument.parts.accompaniment.
Accompaniment` with its model on a worker thread (:class:`~instrument.parts.deadline.
DeadlineRunner`), the model's step for each beat taken ahead of its deadline once the
beat's notes are heard (:mod:`~instrument.parts.step_ahead`; ``stepped_ahead`` counts the
beats that found it done), the rule arranger hearing the beat on the calling thread and
the tune memory once the model's step is taken, the same tunes heard note by note, each
beat planned once the work queued before it is done (live, a beat's time passes between
decisions). ``live_decision_step_at_deadline_ms`` is the same with every step taken at
its deadline (as before the step ahead, and as when a beat's last note comes just before
its deadline). ``live_decision_after_idle_ms`` is the live part with its step ahead on the
first ``--idle-tunes`` tunes, the calling thread asleep for 50 ms before each beat is
planned, as the engine thread sleeps between beats: on a 2-vCPU VM code that runs after
a sleep ran about three times slower than in a tight loop (its caches and predictors
cold), and that is what a live decision costs. Milliseconds,
p50 / p99 / p99.9, as JSON on stdout (the tunes counted on stderr when it is a terminal).
"""

from __future__ import annotations

import argparse
import json
import sys
import time

import numpy as np

from instrument.baselines.rules import RuleArranger
from instrument.evaluation.generators import as_played, heard_by_deadline
from instrument.memory.tune_memory import TuneMemory
from instrument.models import load_model
from instrument.models.accompaniment import BeatInput
from instrument.models.foresight import foresee
from instrument.models.harmony import MelodyPace, forecast_for, foresight_weight
from instrument.music import TICKS_PER_BEAT
from instrument.parts.accompaniment import Accompaniment, AccompanimentSettings
from instrument.parts.deadline import DeadlineRunner
from instrument.timing.beat import BeatClock

IDLE = 0.05  # seconds the engine thread sleeps before each beat in live_decision_after_idle_ms


def quantiles(seconds: list[float]) -> dict[str, float]:
    ms = np.array(seconds) * 1000.0
    return {k: round(float(np.percentile(ms, q)), 3) for k, q in
            (("p50", 50), ("p99", 99), ("p999", 99.9))}


def live_decisions(model, continuation, tunes: list, progress: bool,
                   step_ahead: bool = True, idle: float = 0.0) -> dict[str, float]:
    """Each beat's decision timed inside the live part (see the module docstring);
    ``idle``: seconds this thread sleeps before each beat is planned, as the engine
    thread does between beats."""
    policy = getattr(model, "policy", None)
    forecast = forecast_for(policy, continuation, model)
    if forecast is not None and model.takes_forecast:
        model.attach_forecast(forecast)  # stepped inside the model's step, as live
        forecast = None
    runner = DeadlineRunner("accompaniment", lambda: 0.0)  # no deadline is ever missed
    forecast_runner = DeadlineRunner("foresight", lambda: 0.0) if forecast else None
    deadline = model.deadline_ticks
    part = Accompaniment(RuleArranger(deadline), model, runner,
                         AccompanimentSettings(deadline_ticks=deadline), model.decoding(0.0),
                         np.random.default_rng(0), memory=TuneMemory(), forecast=forecast,
                         forecast_runner=forecast_runner, step_ahead=step_ahead)
    workers = [r for r in (runner, forecast_runner) if r is not None]
    try:
        for i, tune in enumerate(tunes):
            if progress:
                when = "ahead" if step_ahead else "at the deadline"
                print(f"\r{i + 1}/{len(tunes)} tunes, as live, the step {when}", end="",
                      file=sys.stderr, flush=True)
            part.new_tune()
            part.reset()
            clock = BeatClock(120.0, tune.meter)
            clock.start(100.0)
            part.begin(1, tune.meter)
            for tick, heard in heard_by_deadline(tune, deadline):
                if tick == 0:
                    continue  # the part's lead-in beat
                for note in heard:
                    part.hear_onset(note)
                for worker in workers:  # the beat's time passes: the work queued is done
                    worker.submit(lambda: None).result()
                beat = tick // TICKS_PER_BEAT
                if idle:
                    time.sleep(idle)
                part.plan(clock.time_at(beat) - part.planning_lead(clock), clock)
    finally:
        for worker in workers:
            worker.close()
    if progress:
        print(file=sys.stderr)
    return part.decision_summary() or {}


def main(argv: list[str] | None = None) -> int:
    from training import accompaniment as A

    p = argparse.ArgumentParser(prog="python -m benchmarks.harmony_beat_cost",
                                description=__doc__)
    p.add_argument("manifest", nargs="?", default="accompaniment")
    p.add_argument("--tunes", type=int, default=200)
    p.add_argument("--no-ahead", action="store_true",
                   help="the forecast does all its work at the deadline")
    p.add_argument("--idle-tunes", type=int, default=20,
                   help="tunes also decided live after 50 ms of idle before each beat")
    args = p.parse_args(argv)
    splits = A.load_splits(False)
    tunes = (splits["offline"][2] + splits["chorale"][2])[: args.tunes]
    model = load_model(args.manifest)
    model.warm_up()
    policy = getattr(model, "policy", None)
    continuation = None
    if (policy is not None and policy.foresight > 0) or model.takes_forecast:
        continuation = load_model("continuation")
    # A model that reads the forecast steps it inside its step (as_played gives it one);
    # else, with foresight, it runs here as on its own worker live.
    acc = as_played(model, model.deadline_ticks, continuation)
    forecast = None if model.takes_forecast else forecast_for(policy, continuation)
    stepped = None if args.no_ahead else (model.forecast or forecast)
    pace = MelodyPace()  # the part's: the forecast is not weighed where the policy holds
    memory, params, rng = TuneMemory(), acc.decoding(0.0), np.random.default_rng(0)
    steps, decisions, forecasts, ahead_work, settling = [], [], [], [], []
    progress = sys.stderr.isatty()  # stdout is the JSON
    for i, tune in enumerate(tunes):
        if progress:
            print(f"\r{i + 1}/{len(tunes)} tunes", end="", file=sys.stderr, flush=True)
        acc.reset()
        memory.reset()
        pace.reset()
        if forecast is not None:
            forecast.reset()
        prev = None
        for tick, heard in heard_by_deadline(tune, model.deadline_ticks):
            beat = BeatInput(tick, tune.meter, heard, prev)
            for note in heard if stepped is not None else ():
                t = time.perf_counter()
                stepped.hear_ahead(note, tick, tune.meter)
                ahead_work.append(time.perf_counter() - t)
            ahead = None
            if forecast is not None:
                t = time.perf_counter()
                forecast.observe(beat)
                ahead = forecast.over_beat
                forecasts.append(time.perf_counter() - t)
            t0 = time.perf_counter()
            dist = acc.step(beat)
            t1 = time.perf_counter()
            onsets = pace.update(beat)
            memory.observe(beat)
            dist = memory.blend(dist)
            ahead = model.forecast.over_beat if model.forecast is not None else ahead
            if ahead is not None and policy is not None:
                weight = foresight_weight(beat, policy, onsets)
                dist = foresee(dist, ahead, weight, memory.recall())
            prev = acc.sample(dist, params, rng)
            t2 = time.perf_counter()
            steps.append(t1 - t0)
            decisions.append(t2 - t0)
            if stepped is not None:
                stepped.expect(tick + TICKS_PER_BEAT, tune.meter)
                ahead_work.append(time.perf_counter() - t2)
            t3 = time.perf_counter()
            memory.settle()  # after the decision, as live
            settling.append(time.perf_counter() - t3)
    if progress:
        print(file=sys.stderr)
    sequential_model_ms = model.timer.summary_ms()  # before the live part steps it too
    sequential_forecast_ms = model.forecast_timer.summary_ms() or None
    live = live_decisions(model, continuation, tunes, progress)
    at_deadline = live_decisions(model, continuation, tunes, progress, step_ahead=False)
    after_idle = live_decisions(model, continuation, tunes[: args.idle_tunes], progress,
                                idle=IDLE) if args.idle_tunes else None
    print(json.dumps({"beats": len(steps), "model_step_ms": sequential_model_ms,
                      "step_with_rules_and_policy_ms": quantiles(steps),
                      "beat_decision_with_memory_ms": quantiles(decisions),
                      "forecast_ms": quantiles(forecasts) if forecasts else None,
                      "forecast_in_step_ms": sequential_forecast_ms,
                      "ahead_ms": quantiles(ahead_work) if ahead_work else None,
                      "memory_settle_ms": quantiles(settling),
                      "live_decision_ms": live,
                      "live_decision_step_at_deadline_ms": at_deadline,
                      "live_decision_after_idle_ms": after_idle}))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
