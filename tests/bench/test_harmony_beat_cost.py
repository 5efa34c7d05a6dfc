"""The harmony cost benchmark times the live part's own decisions, its model on a worker."""

from __future__ import annotations

from pathlib import Path

from benchmarks.harmony_beat_cost import live_decisions
from instrument.evaluation.generators import beat_range
from instrument.models import load_model
from instrument.models.tune import read_midi

DATA = Path(__file__).resolve().parents[1] / "data"


def test_every_beat_the_part_decides_is_timed_and_holds_the_models_step():
    model = load_model("accompaniment")
    model.warm_up()
    continuation = load_model("continuation")
    tunes = [read_midi(DATA / name) for name in ("reel_4-4.mid", "song_3-4.mid")]
    timed = live_decisions(model, continuation, tunes, progress=False)
    # beat 0 of each tune is the part's lead-in, decided with the first beat
    assert timed["beats"] == sum(beat_range(t).stop - 1 for t in tunes)
    assert timed["p50"] >= model.timer.summary_ms()["p50"]  # each decision runs the model
    assert timed["p50"] <= timed["p99"] <= timed["max"]
