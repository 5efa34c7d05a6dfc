"""`python -m training.evaluate_recording`'s scoring: why a recording's bar lines are off
(the live beat's part or the bar reader's), on the real recorder and real MIDI files."""

from pathlib import Path

import numpy as np
import pytest

from instrument.follow.performance import ISSUE_17, perform
from instrument.models.tune import read_midi
from training.evaluate_recording import bars_on_played_beats, evaluate, miss_kind, misses

DATA = Path(__file__).resolve().parent.parent / "data"


@pytest.fixture(scope="module")
def reel():
    perf = perform(read_midi(DATA / "reel_4-4.mid"), 0, ISSUE_17)
    numbers = np.arange(len(perf.beat_times)) + perf.first_beat
    span = (perf.time_of(perf.beat_of(perf.onsets[0][0]) + 8), perf.onsets[-1][0])
    return perf, numbers, span


def test_a_file_off_the_played_bars_is_put_down_to_its_beat_or_its_bar(reel):
    perf, numbers, span = reel
    beats = perf.beat_times
    downbeats = beats[numbers % 4 == 0]
    halves = 0.5 * (beats[:-1] + beats[1:])
    doubled = np.sort(np.concatenate([beats, halves]))
    cases = {
        "level half": (beats[::2], beats[::8]),  # a file beat for two played ones
        "level double": (doubled, downbeats[::1]),
        "between the beats": (halves, halves[numbers[:-1] % 4 == 0]),
        "bar off 2": (beats, beats[numbers % 4 == 2]),
    }
    for kind, (file_beats, lines) in cases.items():
        assert miss_kind(perf, file_beats, lines, span) == kind
    # The right beats and the bar a beat off from half-way (most lines still right, but
    # not six in ten): right for part of the tune.
    scored = downbeats[(downbeats >= span[0]) & (downbeats <= span[1])]
    middle = scored[(len(scored) + 1) // 2]
    slipped = np.concatenate([downbeats[downbeats < middle],
                              beats[(numbers % 4 == 1) & (beats >= middle)]])
    assert miss_kind(perf, beats, slipped, span) == "right for part"


def test_the_bar_read_on_the_played_beats_finds_a_reels_bar(reel):
    perf, _numbers, span = reel
    assert bars_on_played_beats(perf, span) == 1.0


def test_recordings_of_real_files_are_scored_with_their_misses_and_the_readers_share():
    tunes = [read_midi(p) for p in sorted(DATA.glob("*.mid"))]
    rows: list = []
    summary = evaluate(tunes, 0, True, rows)
    assert summary["recordings"] == len(tunes) == len(rows)
    assert summary["bars_right_share"] == summary["bars_right_on_played_beats_share"] == 1.0
    assert all(r["miss"] is None for r in rows) and misses(rows) == {}
    # A row as a miss lists it under its kind, with both F1s.
    listed = misses([{**rows[0], "bar_f1": 0.3, "miss": "bar off 2"}])
    assert list(listed) == ["bar off 2"] and "F1 0.30" in listed["bar off 2"][0]
