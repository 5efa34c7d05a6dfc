"""The band's measurements (instrument.evaluation.band) on a played tune from tests/data."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from instrument.evaluation.band import play_band, spearman, summarize
from instrument.follow.performance import PerformanceStyle, perform
from instrument.models.tune import read_midi

DATA = Path(__file__).parents[1] / "data"


def test_spearman_ranks_with_ties_and_says_nothing_of_a_constant():
    assert spearman([1, 2, 3, 4], [10, 20, 30, 40]) == pytest.approx(1.0)
    assert spearman([1, 2, 3, 4], [4, 3, 2, 1]) == pytest.approx(-1.0)
    assert spearman([1, 1, 2, 2], [1, 1, 2, 2]) == pytest.approx(1.0)
    assert spearman([1, 2, 3], [5, 5, 5]) is None


def test_a_style_lands_on_the_played_eighths_and_moves_its_chords_where_it_does():
    performance = perform(read_midi(DATA / "reel_4-4.mid"), seed=2,
                          style=PerformanceStyle(bpm=(90.0, 110.0), slips=0.0))
    reel, pad = play_band(performance, "reel"), play_band(performance, "pad")
    assert reel.style == "reel" and pad.style == "pad"
    for part in ("bass", "drums"):
        errors = reel.onset_errors_ms[part]
        assert len(errors) >= 8 and np.percentile(errors, 90) <= 40, (part, errors)
    assert pad.onset_errors_ms["drums"] == []  # the pad has no drums
    # The reel's chords move on the played bar line and half bar only; the pad's also
    # elsewhere, with the melody.
    assert reel.changes["elsewhere"] == 0 and reel.changes["bar_line"] >= 2, reel.changes
    assert pad.changes["elsewhere"] > 0, pad.changes
    assert np.mean(reel.band_per_bar) > np.mean(pad.band_per_bar)
    summary = summarize([reel])
    assert summary["tunes"] == 1 and summary["styles"] == {"reel": 1}
    assert summary["beat_cost_us_p50_p99"][0] > 0


def test_instrument_evaluate_band_reports_each_style_choice():
    import json
    import subprocess
    import sys

    done = subprocess.run([sys.executable, "-m", "instrument", "evaluate", str(DATA), "--band",
                           "--performances", "1", "--json"],
                          capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-2000:]
    result = json.loads(done.stdout)
    assert result["files"] >= 3
    assert result["pad"]["onset_error_ms_p50_p90"]["drums"] is None
    auto = result["auto"]
    assert auto["onset_error_ms_p50_p90"]["drums"][1] <= 50
    assert auto["band_notes_per_bar_mean"] > result["pad"]["band_notes_per_bar_mean"]


def test_handed_the_shipped_model_the_band_plays_its_chords_over_the_followed_bar():
    from instrument.config import Config
    from instrument.parts.factory import load_models

    models = load_models(Config(), warm_up=False)  # with its foresight, as live
    model = models.accompaniment
    assert model is not None, "the shipped accompaniment model did not load"
    harmony = {"model": [], "rules": []}
    differs = []
    for seed in range(4):  # four performances of the reel: one tune, one tempo, is noise
        performance = perform(read_midi(DATA / "reel_4-4.mid"), seed=seed,
                              style=PerformanceStyle(bpm=(90.0, 110.0), slips=0.0))
        with_model = play_band(performance, "reel", accompaniment=model,
                               continuation=models.continuation)
        with_rules = play_band(performance, "reel")
        differs.append(with_model.changes != with_rules.changes)
        if seed == 2:  # the bass and drums on the followed beat, on this performance
            for part in ("bass", "drums"):
                assert np.percentile(with_model.onset_errors_ms[part], 90) <= 40
        harmony["model"].append(with_model.harmony)
        harmony["rules"].append(with_rules.harmony)
    assert any(differs)  # the model's harmony, not the rules'
    assert np.mean(harmony["model"]) >= np.mean(harmony["rules"]), harmony


def test_over_a_busy_reel_the_band_moves_its_chords_on_the_strong_beats():
    """The shipped policy's weak-beat hold, heard in the band (the pad, whose harmony may
    move on any beat) as it plays live, with the continuation model's forecast: fewer
    chord changes off the followed bar's strong beats than with the hold off, the melody
    as often in the chord."""
    from dataclasses import replace

    from instrument.config import Config
    from instrument.parts.factory import load_models

    models = load_models(Config(), warm_up=False)
    model = models.accompaniment
    assert model is not None and model.policy.weak_hold > 0
    shipped = model.policy
    off = dict.fromkeys(("shipped", "off"), 0)
    harmony: dict[str, list[float]] = {"shipped": [], "off": []}
    try:
        for seed in range(4):
            performance = perform(read_midi(DATA / "reel_4-4.mid"), seed=seed,
                                  style=PerformanceStyle(bpm=(90.0, 110.0), slips=0.0))
            for name, policy in (("shipped", shipped),
                                 ("off", replace(shipped, weak_hold=0.0, weak_hold_rules=0.0))):
                model.policy = policy
                result = play_band(performance, "pad", accompaniment=model,
                                   continuation=models.continuation)
                off[name] += result.changes["elsewhere"]
                harmony[name].append(result.harmony)
    finally:
        model.policy = shipped
    assert off["shipped"] <= off["off"] - 2, off
    assert np.mean(harmony["shipped"]) >= np.mean(harmony["off"]) - 0.02, harmony


def test_a_style_that_holds_its_chords_chooses_them_for_the_melody_to_come(monkeypatch):
    """The reel's chords hold through the half bar and the waltz's through the bar, with
    the shipped model's harmony: they move only there, and each is chosen for the melody
    it will sound under (the forecast weighs HELD_FORESIGHT times more where the chord
    is to hold), so the melody is in the struck chord more often than with the forecast
    weighed as on any other beat, and not far below the pad's free harmony (on these
    two tunes the waltz's bar-long chords cost most: 0.45-0.48 against 0.53-0.56)."""
    import instrument.models.harmony as harmony
    from instrument.config import Config
    from instrument.parts.factory import load_models
    from tests.parts.test_band_styles import twice

    models = load_models(Config())
    held: dict[float, list[float]] = {harmony.HELD_FORESIGHT: [], 1.0: []}
    free = []
    for name, style in (("reel_4-4.mid", "reel"), ("song_3-4.mid", "waltz")):
        tune = twice(name)
        for seed in range(2):
            performance = perform(tune, seed=seed,
                                  style=PerformanceStyle(bpm=(90.0, 110.0), slips=0.0))
            pad = play_band(performance, "pad", accompaniment=models.accompaniment,
                            continuation=models.continuation)
            free.append(pad.harmony)
            for weight in held:
                monkeypatch.setattr(harmony, "HELD_FORESIGHT", weight)
                ours = play_band(performance, style, accompaniment=models.accompaniment,
                                 continuation=models.continuation)
                assert ours.style == style and ours.changes["elsewhere"] == 0, ours.changes
                held[weight].append(ours.harmony)
    chosen, plain = (np.mean(v) for v in held.values())
    assert chosen >= plain + 0.02, held
    assert chosen >= np.mean(free) - 0.07, (held, free)
