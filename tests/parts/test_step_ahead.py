"""The accompaniment model's step taken ahead of the deadline: the same chords as when
every beat is stepped at its deadline, the step found done at the deadline, each beat
kept in the model's state once and in order, and notes heard faster than the model steps
costing one step, not one each."""

from __future__ import annotations

import threading
import time

import numpy as np
import pytest

from instrument.baselines.rules import RuleArranger
from instrument.memory.tune_memory import TuneMemory
from instrument.models import ChordSamplingParams, load_model
from instrument.models.accompaniment import BeatInput
from instrument.models.harmony import forecast_for
from instrument.music import TICKS_PER_BEAT, GridNote, Meter
from instrument.parts.accompaniment import Accompaniment, AccompanimentSettings
from instrument.parts.deadline import DeadlineRunner
from instrument.parts.step_ahead import StepAhead
from instrument.timing.beat import BeatClock

M44 = Meter(4, 4)


class Beats:
    """A streaming model whose state is the beats it has stepped, in order."""

    def __init__(self, delay: float = 0.0) -> None:
        self.state: list[tuple[int, int]] = []
        self.steps = 0
        self.delay = delay
        self.gate = threading.Event()
        self.gate.set()

    def save(self) -> list:
        return list(self.state)

    def restore(self, saved: list) -> None:
        self.state = list(saved)

    def step(self, beat: BeatInput) -> tuple:
        self.gate.wait()
        time.sleep(self.delay)
        self.steps += 1
        self.state.append((beat.beat_tick // TICKS_PER_BEAT, len(beat.notes)))
        return tuple(self.state)


def beat(b: int, notes: int, previous=None) -> BeatInput:
    heard = tuple(GridNote(60 + i, (b - 1) * TICKS_PER_BEAT + i, 1) for i in range(notes))
    return BeatInput(b * TICKS_PER_BEAT, M44, heard, previous)


def one(b: int, notes: int, previous=None) -> tuple[BeatInput]:
    return (beat(b, notes, previous),)


@pytest.fixture
def runner():
    r = DeadlineRunner("accompaniment", time.monotonic)
    yield r
    r.close()


def drain(runner: DeadlineRunner) -> None:
    runner.submit(lambda: None, timed=False).result(timeout=10)


def test_the_step_taken_ahead_is_the_deadlines_when_the_beat_brings_what_it_was_taken_with(
        runner):
    model = Beats()
    ahead = StepAhead(model, model.step, runner)
    ahead.take_ahead(one(1, 0))  # after the last decision: nothing heard yet
    ahead.take_back()  # a note for the beat: the context goes back before the forecast
    ahead.take_ahead(one(1, 1))  # takes it
    drain(runner)
    assert ahead.for_beat(one(1, 1)).result(timeout=10) == ((1, 1),)
    assert (ahead.used, ahead.retaken) == (1, 0)
    # The next beat brings a note the step ahead did not have: stepped anew from the
    # context before the step ahead, which is put back.
    ahead.take_ahead(one(2, 0))
    drain(runner)
    assert model.state == [(1, 1), (2, 0)]
    assert ahead.for_beat(one(2, 1)).result(timeout=10) == ((1, 1), (2, 1))
    assert (ahead.used, ahead.retaken) == (1, 1)
    # Another previous chord is another input: not the one taken ahead.
    ahead.take_ahead(one(3, 1))
    drain(runner)
    assert ahead.for_beat(one(3, 1, previous=object())).result(timeout=10)[-1] == (3, 1)
    drain(runner)
    assert model.state == [(1, 1), (2, 1), (3, 1)]


def test_notes_heard_faster_than_the_model_steps_cost_one_step_not_one_each(runner):
    model = Beats()
    busy = threading.Event()  # the worker is busy with earlier work
    runner.submit_background(busy.wait)
    ahead = StepAhead(model, model.step, runner)
    ahead.take_ahead(one(1, 0))
    for n in range(1, 6):
        ahead.take_back()
        ahead.take_ahead(one(1, n))
    busy.set()
    assert ahead.for_beat(one(1, 5)).result(timeout=10) == ((1, 5),)
    drain(runner)
    assert model.steps == 1 and model.state == [(1, 5)]
    assert runner.stats.durations.count == 1  # what status times: the step that ran


def test_a_step_the_deadline_took_is_kept_though_the_next_beat_is_taken_ahead_before_it_ran(
        runner):
    """A late step: the deadline gave up on it, the next beat's step ahead is queued, and
    the late one still runs (the model must see every beat)."""
    model = Beats()
    model.gate.clear()
    ahead = StepAhead(model, model.step, runner)
    ahead.take_ahead(one(1, 1))
    late = ahead.for_beat(one(1, 1))
    assert runner.take(late, time.monotonic() + 0.01) is None  # a miss: the rules play
    ahead.take_ahead(one(2, 0))
    ahead.take_back()
    ahead.take_ahead(one(2, 1))
    model.gate.set()
    assert ahead.for_beat(one(2, 1)).result(timeout=10) == ((1, 1), (2, 1))
    assert late.result(timeout=10) == ((1, 1),)


def test_the_lead_in_and_the_first_beat_are_taken_ahead_together(runner):
    model = Beats()
    ahead = StepAhead(model, model.step, runner)
    ahead.take_ahead((beat(0, 2), beat(1, 0)))  # as the part begins: the lead-in's notes
    ahead.take_back()
    ahead.take_ahead((beat(0, 2), beat(1, 1)))  # a note for the first beat
    drain(runner)
    assert ahead.for_beat((beat(0, 2), beat(1, 1))).result(timeout=10) == ((0, 2), (1, 1))
    # Begun again, and the deadline finds another lead-in: both stepped anew.
    model.restore([])
    ahead.take_ahead((beat(0, 2), beat(1, 1)))
    drain(runner)
    assert ahead.for_beat((beat(0, 3), beat(1, 1))).result(timeout=10) == ((0, 3), (1, 1))
    assert (ahead.used, ahead.retaken) == (1, 1)


def test_a_reset_drops_the_step_ahead_without_putting_anything_back(runner):
    model = Beats()
    ahead = StepAhead(model, model.step, runner)
    ahead.take_ahead(one(1, 1))
    drain(runner)
    ahead.forget()
    runner.submit_background(lambda: model.restore([]))  # the model's reset
    ahead.take_back()  # nothing outstanding: nothing queued
    assert ahead.for_beat(one(1, 1)).result(timeout=10) == ((1, 1),)
    assert (ahead.used, ahead.retaken) == (0, 1)


def play(part: Accompaniment, runner: DeadlineRunner, melody: list[GridNote], beats: int,
         meter: Meter, wait_for_work: bool) -> list[str]:
    clock = BeatClock(120.0, meter)
    clock.start(100.0)
    part.begin(1, meter)
    deadline = part.settings.deadline_ticks
    for b in range(1, beats):
        for note in melody:
            if (b - 1) * TICKS_PER_BEAT - deadline <= note.onset < b * TICKS_PER_BEAT - deadline:
                part.hear_onset(note)
                if wait_for_work:  # the next note comes after the step ahead with this one
                    drain(runner)
        if wait_for_work or b % 3:  # else the deadline finds the step ahead still running
            drain(runner)
        part.plan(clock.time_at(b) - part.planning_lead(clock), clock)
        if wait_for_work or b % 2:  # the beat passes: the next one is taken ahead with no
            drain(runner)  # note, and taken back when its first note comes
    drain(runner)
    return [f"{c.beat}:{c.chord}" for c in part.history]


@pytest.mark.parametrize("meter", [Meter(4, 4), Meter(6, 8)], ids=["4/4", "6/8"])
def test_the_part_plays_the_same_chords_with_the_step_taken_ahead_and_finds_it_done(meter):
    """The shipped model reading the melody forecast, on the threaded runner, over a
    melody of eighths, a note held over beats, quarters and a pickup, played twice with a
    reset between (the model's context, the forecast's and the tune memory's)."""
    model = load_model("accompaniment")
    model.warm_up()
    model.attach_forecast(forecast_for(model.policy, load_model("continuation"), model))
    eighth = TICKS_PER_BEAT // 2
    onsets = [eighth * e for e in (0, 1, 2, 3, 4, 8, 10, 12, 13, 14, 15, 18, 19, 20, 23,
                                   24, 26, 28, 29, 30, 31)]
    melody = [GridNote(62 + (i * 5) % 12, t, eighth, 80) for i, t in enumerate(onsets)]
    beats = onsets[-1] // TICKS_PER_BEAT + 3
    played = {}
    for step_ahead in (False, True):
        runner = DeadlineRunner("accompaniment", lambda: 0.0)  # no deadline is ever missed
        part = Accompaniment(RuleArranger(2), model, runner, AccompanimentSettings(),
                             ChordSamplingParams(temperature=0.0), np.random.default_rng(0),
                             memory=TuneMemory(), step_ahead=step_ahead)
        try:
            first = play(part, runner, melody, beats, meter, wait_for_work=True)
            waited_first = part.waited_beats
            part.reset()
            part.history.clear()
            again = play(part, runner, melody, beats, meter, wait_for_work=False)
        finally:
            runner.close()
        played[step_ahead] = (first, again)
        assert runner.stats.misses == 0
        if step_ahead:
            ahead = part.step_ahead
            assert ahead is not None
            # Every beat's step was taken ahead, the first with the part's lead-in, and
            # where the worker had the beat's time, the deadline found it done.
            assert ahead.retaken == 0 and ahead.used == 2 * (beats - 1)
            assert waited_first == 0
            assert part.decision_summary()["waited"] == part.waited_beats
        else:
            assert part.step_ahead is None
    assert played[True] == played[False]
    assert len(played[True][0]) == beats - 1
