"""The beat clock: beats and times both ways, through tempo changes."""

import pytest

from instrument.timing.beat import BeatClock


def test_beats_and_times_convert_both_ways_and_survive_tempo_changes():
    clock = BeatClock(bpm=120)
    clock.start(10.0)
    assert clock.beat_at(11.0) == pytest.approx(2.0)
    assert clock.time_at(4) == pytest.approx(12.0)
    assert clock.tick_at(10.25) == 6  # an eighth note: 6 ticks
    clock.set_tempo(60, 11.0)  # slower from beat 2 on, no jump
    assert clock.beat_at(11.0) == pytest.approx(2.0)
    assert clock.time_at(3) == pytest.approx(12.0)
    assert clock.next_beat(11.5) == 3 and clock.next_beat(12.0) == 3
