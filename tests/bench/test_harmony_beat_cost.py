"""The harmony cost benchmark times the live part's own decisions, its model on a worker
(its step taken ahead of the deadline, or at it)."""

from __future__ import annotations

from pathlib import Path

from benchmarks.harmony_beat_cost import live_decisions
from instrument.evaluation.generators import beat_range
from instrument.models import load_model
from instrument.models.tune import read_midi

DATA = Path(__file__).resolve().parents[1] / "data"


def test_every_beat_the_part_decides_is_timed_with_its_step_ahead_or_at_its_deadline():
    model = load_model("accompaniment")
    model.warm_up()
    continuation = load_model("continuation")
    tunes = [read_midi(DATA / name) for name in ("reel_4-4.mid", "song_3-4.mid")]
    # beat 0 of each tune is the part's lead-in, decided with the first beat
    beats = sum(beat_range(t).stop - 1 for t in tunes)
    at_deadline = live_decisions(model, continuation, tunes, progress=False,
                                 step_ahead=False)
    assert at_deadline["beats"] == beats and at_deadline["stepped_ahead"] == 0
    step_p50 = model.timer.summary_ms()["p50"]
    assert at_deadline["p50"] >= step_p50  # each decision runs the model
    ahead = live_decisions(model, continuation, tunes, progress=False)
    # Every beat found its step done (each tune's first with the part's lead-in).
    assert ahead["beats"] == beats and ahead["stepped_ahead"] == beats
    for timed in (at_deadline, ahead):
        assert timed["p50"] <= timed["p99"] <= timed["max"]
