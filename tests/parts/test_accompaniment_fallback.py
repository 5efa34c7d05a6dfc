"""The accompaniment part with the shipped model on the threaded deadline runner: a model
step that comes too late is not waited for; the rule arranger's chord plays that beat,
the miss is counted, and the model plays again on the next beats (its state kept). With
the manifest's policy and its foresight the melody forecast is stepped on its own worker
beside the model, or inside the model's step when the model reads it, every beat, whether
the model's step was late or not."""

from __future__ import annotations

import time

import numpy as np
import pytest

from instrument.baselines.rules import RuleArranger
from instrument.models import ChordSamplingParams, load_model
from instrument.models.foresight import MelodyForecast
from instrument.music import TICKS_PER_BEAT, GridNote, Meter
from instrument.parts.accompaniment import Accompaniment, AccompanimentSettings
from instrument.parts.deadline import DeadlineRunner
from instrument.timing.beat import BeatClock

LATE = {5, 6}
SLACK = 0.05  # the runner is asked for each step 50 ms before its deadline


class LateOnSomeBeats:
    """The real model, but its steps for the beats in ``LATE`` take 150 ms."""

    def __init__(self, model, policy=None):
        self.model = model
        self.deadline_ticks = model.deadline_ticks
        self.policy = policy

    def reset(self):
        self.model.reset()

    def step(self, beat):
        if beat.beat_tick // TICKS_PER_BEAT in LATE:
            time.sleep(0.15)
        return self.model.step(beat)

    def sample(self, dist, params, rng):
        return self.model.sample(dist, params, rng)

    def __getattr__(self, name):  # the model's forecast and its timer
        return getattr(self.model, name)


class CountedForecast(MelodyForecast):
    """The real forecast, counting the beats it observed."""

    observed: list[int]

    def reset(self):
        super().reset()
        self.observed = []

    def observe(self, beat):
        self.observed.append(beat.beat_tick // TICKS_PER_BEAT)
        return super().observe(beat)


@pytest.mark.parametrize("foresight", [False, True, "in the model's step"],
                         ids=["alone", "with foresight", "forecast read by the model"])
def test_a_late_model_step_is_replaced_by_the_rules_chord_and_the_model_plays_on(foresight):
    model = load_model("accompaniment")
    model.warm_up()
    forecast = None
    if foresight:
        assert model.policy.foresight > 0
        forecast = CountedForecast(load_model("continuation"))
    if foresight == "in the model's step":  # as the factory gives it to a model that reads it
        assert model.takes_forecast
        model.attach_forecast(forecast)
        foresight, inside, forecast = False, forecast, None
    else:
        inside = None
    clock = BeatClock(120.0, Meter(4, 4))
    clock.start(100.0)
    fake_now = [0.0]
    runner = DeadlineRunner("accompaniment", lambda: fake_now[0])
    ahead_runner = DeadlineRunner("foresight", lambda: fake_now[0])
    part = Accompaniment(RuleArranger(2), LateOnSomeBeats(model, model.policy if foresight
                                                          or inside else None), runner,
                         AccompanimentSettings(), ChordSamplingParams(temperature=0.0),
                         np.random.default_rng(0), forecast=forecast,
                         forecast_runner=ahead_runner)
    assert (part.forecast is not None) == foresight
    scale = [60, 64, 67, 64, 65, 69, 67, 65, 64, 62, 60, 67]
    try:
        part.begin(1)
        for b in range(1, 12):
            part.hear_onset(GridNote(scale[b - 1], (b - 1) * TICKS_PER_BEAT, TICKS_PER_BEAT))
            fake_now[0] = clock.time_at(b) - part.settings.safety - SLACK
            part.plan(clock.time_at(b) - part.planning_lead(clock), clock)
            if b in LATE:
                time.sleep(0.2)  # the late step finishes before the next beat is planned
    finally:
        runner.close()
        ahead_runner.close()
    by_beat = {c.beat: c for c in part.history}
    assert sorted(by_beat) == list(range(1, 12))
    assert {b for b, c in by_beat.items() if not c.neural} == LATE
    assert all(not by_beat[b].chord.is_silent for b in LATE)  # the rules' chord sounded
    assert part.fallback_beats == len(LATE) and runner.stats.misses == len(LATE)
    assert part.neural_beats == 11 - len(LATE)
    if foresight:  # the lead-in beat 0, then every beat, in order, on its own worker
        assert forecast.observed == list(range(12))
        assert ahead_runner.stats.steps == 11 and ahead_runner.stats.misses == 0
    if inside is not None:  # every beat, in order, late ones too, inside the model's step
        assert inside.observed == list(range(12))
        assert ahead_runner.stats.steps == 0
        summary = part.foresight_summary()
        assert summary is not None and summary["steps"] == 12 and summary["misses"] is None
