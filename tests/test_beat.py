"""The beat clock and what moves it: tap tempo, MIDI clock in, MIDI clock out."""

import pytest

from instrument.timing.beat import BeatClock, MidiClockFollower, TapTempo, midi_clock_times


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


def test_tap_tempo_takes_the_median_interval_and_restarts_after_a_pause():
    taps = TapTempo()
    assert taps.tap(0.0) is None
    assert taps.tap(0.5) == pytest.approx(120)
    assert taps.tap(1.0) == pytest.approx(120)
    assert taps.tap(1.7) == pytest.approx(120)  # one sloppy tap does not move the median
    assert taps.tap(10.0) is None  # a long pause: counting starts again
    assert taps.tap(10.4) == pytest.approx(150)


def test_midi_clock_in_sets_tempo_start_and_stop():
    clock = BeatClock(bpm=100)
    follower = MidiClockFollower(clock)
    follower.on_message(0xFA, 5.0)  # start
    assert clock.running
    spacing = 60.0 / 140 / 24
    t = 5.0
    for _ in range(48):
        follower.on_message(0xF8, t)
        t += spacing
    assert clock.bpm == pytest.approx(140, rel=1e-3)
    assert clock.beat_at(5.0 + 2 * 60 / 140) == pytest.approx(2.0, abs=0.05)
    follower.on_message(0xFC, t)
    assert not clock.running
    assert follower.stale(t + 1.0) and not follower.stale(t - spacing)


def test_midi_clock_out_is_24_ticks_a_beat_on_the_grid():
    clock = BeatClock(bpm=120)
    clock.start(0.0)
    ticks = midi_clock_times(clock, 0.0, 1.0)
    assert len(ticks) == 48
    assert ticks[24][0] == pytest.approx(0.5)
    assert midi_clock_times(clock, 0.01, 0.03) == [(pytest.approx(60 / 120 / 24), 1)]
