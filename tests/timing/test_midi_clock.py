"""MIDI clock in (following an external clock) and out (24 ticks a beat)."""

import pytest

from instrument.timing.beat import BeatClock
from instrument.timing.midi_clock import MidiClockFollower, midi_clock_times


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


def test_following_clock_in_a_compound_meter_takes_36_clocks_a_beat():
    from instrument.music import Meter

    clock = BeatClock(bpm=100.0, meter=Meter(6, 8))
    follower = MidiClockFollower(clock)
    quarter = 60.0 / 120  # the sender's 120 quarter notes a minute: 80 dotted quarters
    follower.on_message(0xFA, 0.0)
    for i in range(73):
        follower.on_message(0xF8, i * quarter / 24)
    assert clock.bpm == pytest.approx(80.0, rel=1e-3)
    assert clock.beat_at(72 * quarter / 24) == pytest.approx(2.0)  # a bar of 6/8
