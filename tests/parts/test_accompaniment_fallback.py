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
from instrument.models.accompaniment import BeatInput
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


@pytest.mark.parametrize("step_ahead", [False, True], ids=["at the deadline", "ahead"])
@pytest.mark.parametrize("foresight", [False, True, "in the model's step"],
                         ids=["alone", "with foresight", "forecast read by the model"])
def test_a_late_model_step_is_replaced_by_the_rules_chord_and_the_model_plays_on(
        foresight, step_ahead):
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
                         forecast_runner=ahead_runner, step_ahead=step_ahead)
    assert (part.forecast is not None) == foresight
    # The model's step is taken ahead where the part has no forecast of its own.
    assert (part.step_ahead is not None) == (step_ahead and not foresight)
    scale = [60, 64, 67, 64, 65, 69, 67, 65, 64, 62, 60, 67]
    try:
        part.begin(1)
        for b in range(1, 12):
            part.hear_onset(GridNote(scale[b - 1], (b - 1) * TICKS_PER_BEAT, TICKS_PER_BEAT))
            fake_now[0] = clock.time_at(b) - part.settings.safety - SLACK
            part.plan(clock.time_at(b) - part.planning_lead(clock), clock)
            if b in LATE:  # the late step finishes before the next beat is planned (taken
                # ahead, the late beat may be stepped twice: with no note, then with it)
                time.sleep(0.35 if part.step_ahead else 0.2)
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
        # (a step taken ahead and taken back is taken again for the same beat at once)
        kept = [b for i, b in enumerate(inside.observed) if i == 0 or inside.observed[i - 1] != b]
        assert kept == list(range(12))
        assert ahead_runner.stats.steps == 0
        summary = part.foresight_summary()
        assert summary is not None and summary["misses"] is None
        assert summary["steps"] == len(inside.observed)


class DeadlineCountedForecast(MelodyForecast):
    """The real forecast, keeping what it answered at each deadline and counting the
    continuation model's steps it took there (the rest it took ahead of the deadline)."""

    def __init__(self, continuator):
        step = continuator.step

        def counted(note, meter):
            self.steps_at_deadline += self._at_deadline
            return step(note, meter)

        continuator.step = counted
        super().__init__(continuator)

    def reset(self):
        self.answers, self.steps_at_deadline, self._at_deadline = [], 0, False
        super().reset()

    def observe(self, beat):
        self._at_deadline = True
        try:
            self.answers.append(super().observe(beat))
        finally:
            self._at_deadline = False
        return self.answers[-1]


def test_the_forecast_takes_the_notes_as_they_are_heard_and_the_deadline_finds_it_done():
    """Played live (the model reading the forecast, on the threaded runner), the notes
    reach the forecast as the part hears them and the note held over a beat is stepped
    after each decision: at the deadlines the continuation model is not stepped at all
    after the first beat, and the model reads the same forecasts as one that took every
    note at its deadline."""
    model = load_model("accompaniment")
    model.warm_up()
    continuation = load_model("continuation")
    forecast = DeadlineCountedForecast(continuation)
    model.attach_forecast(forecast)
    clock = BeatClock(120.0, Meter(3, 4))
    clock.start(100.0)
    runner = DeadlineRunner("accompaniment", lambda: 0.0)  # no deadline is ever missed
    part = Accompaniment(RuleArranger(2), model, runner, AccompanimentSettings(),
                         ChordSamplingParams(temperature=0.0), np.random.default_rng(0),
                         step_ahead=False)  # the forecast observed once a beat, at its deadline
    # eighths, a note held over two beats, quarters, a pickup eighth before a beat
    eighth = TICKS_PER_BEAT // 2
    onsets = [eighth * e for e in (0, 1, 2, 3, 4, 8, 10, 12, 13, 14, 15, 18, 19, 20, 23)]
    melody = [GridNote(62 + (i * 5) % 12, t, eighth, 80) for i, t in enumerate(onsets)]
    last = onsets[-1] // TICKS_PER_BEAT + 2
    try:
        part.begin(1)
        for b in range(1, last):
            for note in melody:
                if (b - 1) * TICKS_PER_BEAT - 2 <= note.onset < b * TICKS_PER_BEAT - 2:
                    part.hear_onset(note)
            part.plan(clock.time_at(b) - part.planning_lead(clock), clock)
        runner.submit(lambda: None).result()  # the work queued before it is done
    finally:
        runner.close()
    assert [c.beat for c in part.history] == list(range(1, last))
    assert runner.stats.misses == 0
    assert len(forecast.answers) == last
    # the lead-in beat 0 starts the melody, and beat 1's two notes come before the
    # first decision, after which the part takes notes ahead
    assert forecast.steps_at_deadline == 1 + 2
    reference = MelodyForecast(continuation.__class__(continuation.manifest,
                                                      continuation.stepper.session))
    for b, got in enumerate(forecast.answers):
        heard = tuple(n for n in melody
                      if (b - 1) * TICKS_PER_BEAT - 2 <= n.onset < b * TICKS_PER_BEAT - 2)
        want = reference.observe(BeatInput(b * TICKS_PER_BEAT, Meter(3, 4), heard))
        np.testing.assert_allclose(got, want, atol=1e-5, err_msg=f"beat {b}")
    summary = part.foresight_summary()
    assert summary is not None and summary["steps"] == last and "ahead_p99_ms" in summary
    decisions = part.decision_summary()  # every beat's decision, the model's step in it
    assert decisions is not None and decisions["beats"] == last - 1
    assert decisions["p50"] >= runner.stats.summary()["p50_ms"]
