"""The transport: the beat it keeps and what it plays itself (count-in clicks, MIDI
clock out, Stop), alone and through the Band on the offline clock (exact transcripts)."""

from __future__ import annotations

import itertools
from pathlib import Path

import numpy as np
import pytest

from instrument.follow.performance import Performance, PerformanceStyle, perform
from instrument.models.tune import read_midi
from instrument.names import TempoSource
from instrument.parts.transport import (
    CLOCK_LEAD,
    CLOCK_START_BARS,
    CLOCK_START_SURE,
    Transport,
    TransportSettings,
)
from instrument.realtime.router import InputEvent
from instrument.timing.beat import BeatClock
from tests.parts.test_band import BEAT, play, rig
from tests.parts.test_follow_band import play as play_performance
from tests.parts.test_follow_band import rig as follow_rig

DATA = Path(__file__).parents[1] / "data"


def transport(source=TempoSource.INTERNAL, count_in_bars=0):
    cancelled: list[str] = []
    settings = TransportSettings(tempo_source=source, count_in_bars=count_in_bars)
    return Transport(settings, BeatClock(bpm=120.0), cancelled.append), cancelled


def test_start_counts_in_a_bar_of_clicks_before_beat_0():
    t, _ = transport(count_in_bars=1)
    t.start(1.0)
    assert t.clock.running and t.clock.time_at(0) == pytest.approx(1.1 + 4 * 0.5)
    clicks = [(e.due, e.message) for e in t.take_planned()]
    assert [m for _, m in clicks if m[0] == 0x90] == [
        (0x90, 96, 90), (0x90, 84, 90), (0x90, 84, 90), (0x90, 84, 90)]
    assert clicks[0][0] == pytest.approx(1.1) and clicks[1][0] == pytest.approx(1.15)
    assert t.take_planned() == []  # handed over once


def test_stop_drops_the_clock_planned_ahead_and_sends_stop():
    t, cancelled = transport()
    t.stop(0.5)  # no clock sent yet: nothing to stop
    assert cancelled == [] and t.take_planned() == []
    assert t.start_on_first_note(1.0) and not t.start_on_first_note(1.2)
    sent = t.clock_out(1.0)
    # Start just before the clock of beat 0, the first note's: the receiver's bar 1.
    assert sent[0].message == (0xFA,) and sent[0].due == pytest.approx(1.0 - CLOCK_LEAD)
    assert sent[1].message == (0xF8,) and sent[1].due == pytest.approx(1.0)
    assert t.next_wakeup() == pytest.approx(1.1)  # half the clock planned ahead
    t.stop(1.05)
    assert not t.clock.running and cancelled == ["clock"]
    assert [(e.due, e.message) for e in t.take_planned()] == [(1.05, (0xFC,))]
    assert t.clock_out(1.1) == []


@pytest.mark.parametrize("source", [TempoSource.MIDI_CLOCK, TempoSource.LINK, TempoSource.FILE])
def test_a_beat_the_instrument_does_not_lead_sends_no_clock_and_outlives_a_panic(source):
    t, _ = transport(source)
    t.clock.start(0.0)
    assert not t.leads and not t.start_on_first_note(0.0)
    assert t.clock_out(0.0) == []
    t.reset()
    assert t.clock.running


def test_external_midi_clock_is_followed_only_when_it_is_the_tempo_source():
    internal, _ = transport()
    internal.on_clock_message(0xFA, 0.0)
    assert not internal.clock.running
    external, _ = transport(TempoSource.MIDI_CLOCK)
    external.on_clock_message(0xFA, 0.0)
    assert external.clock.running
    external.advance(1.0)  # no tick for a second: the external clock stopped leading
    assert not external.midi_clock_in.active


def test_tap_tempo_from_the_controller():
    engine, band, _ = rig("accompany")
    for i in range(4):
        engine.submit(InputEvent(i * 0.4, (0xB0, 25, 127)))
    engine.advance_to(2.0)
    assert band.clock.bpm == pytest.approx(150)


def test_count_in_clicks_then_accompaniment_from_beat_0():
    engine, band, out = rig("accompany", **{"accompaniment__count_in_bars": 1})
    engine.submit(InputEvent(0.0, (0xB0, 26, 127)))  # start
    engine.advance_to(0.05)
    start = band.clock.time_at(0)
    play(engine, [(b, 62, 1) for b in range(4)], start=start)
    engine.advance_to(start + 4 * BEAT)
    clicks = [t for t, p in out.onsets("accompaniment") if p in (84, 96)]
    assert len(clicks) == 4 and clicks[-1] == pytest.approx(start - BEAT)
    assert band.accompaniment.history[0].beat == 0


def test_midi_clock_out_while_the_beat_runs():
    engine, _band, out = rig("accompany", **{"tempo__send_clock": True})
    play(engine, [(b, 60, 1) for b in range(4)])
    engine.advance_to(2 * BEAT)
    clock = [e for e in out.events if e.part == "clock"]
    assert clock[0].message == (0xFA,)
    ticks = [e.due for e in clock if e.message == (0xF8,)]
    assert len(ticks) >= 47
    gaps = {round(b - a, 9) for a, b in itertools.pairwise(ticks)}
    assert gaps == {round(BEAT / 24, 9)}


@pytest.mark.parametrize(("meter", "per_beat"), [("6/8", 36), ("9/8", 36), ("3/4", 24)])
def test_midi_clock_out_counts_quarter_notes_whatever_the_meter(meter, per_beat):
    """A receiver counts 24 clocks a quarter note: a dotted-quarter beat is 36 of them,
    so a drum machine on MIDI clock plays the tempo and the eighths played."""
    engine, band, out = rig("accompany", **{"tempo__send_clock": True,
                                             "tempo__meter": meter})
    play(engine, [(b, 60, 1) for b in range(6)])
    engine.advance_to(3 * BEAT)
    ticks = [e.due for e in out.events if e.part == "clock" and e.message == (0xF8,)]
    assert len(ticks) >= 2 * per_beat
    gaps = {round(b - a, 9) for a, b in itertools.pairwise(ticks)}
    assert gaps == {round(BEAT / per_beat, 9)}
    first = next(e.due for e in out.events if e.part == "clock" and e.message == (0xF8,))
    assert band.clock.beat_at(first) % band.clock.meter.beats_per_bar == pytest.approx(0.0)


def test_midi_clock_out_follows_the_players_tempo():
    tune = read_midi(DATA / "reel_4-4.mid")
    style = PerformanceStyle(bpm=(100.0, 100.0), drift=0.0, rubato=(0.0, 0.0),
                             ritardando=(0.0, 0.0), slips=0.0, jitter=0.0)
    performance = perform(tune, 1, style)
    # The player speeds up by a fifth halfway through.
    half = len(performance.beat_times) // 2
    lengths = np.diff(performance.beat_times)
    lengths[half:] /= 1.2
    beat_times = np.concatenate([[performance.beat_times[0]],
                                 performance.beat_times[0] + np.cumsum(lengths)])
    onsets = [(float(np.interp(performance.beat_of(t), np.arange(len(beat_times))
                               + performance.first_beat, beat_times)), p, v)
              for t, p, v in performance.onsets]
    fast = Performance(tune, onsets, performance.first_beat, beat_times, 100.0)
    engine, _band, out = follow_rig("follow", send_clock=True)
    engine.advance_to(play_performance(engine, fast))
    ticks = np.array([e.due for e in out.events if e.part == "clock" and e.message == (0xF8,)])
    assert ticks.size > 200
    spacing = np.diff(ticks)
    early = np.median(spacing[: spacing.size // 4])
    late = np.median(spacing[-spacing.size // 4:])
    assert early == pytest.approx(0.6 / 24, rel=0.05)  # 100 bpm: 24 ticks a beat
    assert late == pytest.approx(0.5 / 24, rel=0.05)  # 120 bpm


def midi_receiver(events):
    """(time, song position in clocks) of each clock counted by a receiver that counts
    from Start (the next clock is position 0), takes Song Position Pointer (sixteenths)
    and Continue, and stops at Stop."""
    out, position, running = [], 0, False
    for e in sorted(events, key=lambda e: e.due):
        status = e.message[0]
        if status == 0xFA:
            position, running = 0, True
        elif status == 0xFB:
            running = True
        elif status == 0xFC:
            running = False
        elif status == 0xF2:
            position = 6 * (e.message[1] | (e.message[2] << 7))
        elif status == 0xF8 and running:
            out.append((e.due, position))
            position += 1
    return out


def test_midi_clock_start_lands_on_a_downbeat_and_a_bar_move_relocates_without_a_burst():
    clock = BeatClock(bpm=120.0)
    t = Transport(TransportSettings(tempo_source=TempoSource.INTERNAL), clock, lambda p: None)
    clock.start(1.03, 0.37)  # the beat runs from a fraction of a beat
    events, now = [], 1.0
    while now < 12.0:
        if abs(now - 6.0) < 1e-9:  # the bar moves: a beat skipped, and a quarter
            clock.place(now, clock.beat_at(now) + 1.25, 120.0)
        events += t.clock_out(now)
        now = round(now + 0.01, 6)
    counted = midi_receiver(events)
    # Bar 1 of the receiver is the instrument's next downbeat (beat 4).
    assert counted[0][1] == 0 and counted[0][0] == pytest.approx(1.03 + (4 - 0.37) * 0.5)
    # Every beat the receiver counts is the instrument's beat, bars on its bars, before
    # the move and after it (a Stop, Song Position Pointer and Continue).
    for when, position in counted:
        if position % 24 == 0:
            beat = clock.beat_at(when) if when > 6.0 else (when - 1.03) / 0.5 + 0.37
            assert beat == pytest.approx(4 + position / 24, abs=1e-6), (when, position)
    statuses = [e.message[0] for e in events]
    assert statuses.count(0xFA) == 1 and 0xF2 in statuses and 0xFB in statuses
    # No burst: never two clocks within half a clock (1/48 beat) of each other.
    times = np.array(sorted(e.due for e in events if e.message == (0xF8,)))
    assert np.min(np.diff(times)) >= 0.5 * 0.5 / 24 - 1e-9


class HeardBar:
    """How sure a follower is of its downbeats, set by the test (the bar reader's own
    figures are tested in tests/follow)."""

    bar_confidence = 0.0
    meter_confidence = 1.0
    chord_due = None


def test_following_midi_clock_start_waits_until_the_bar_is_sure_or_four_bars_have_run():
    """A drum machine counts its bars from Start: following the player, Start waits for
    the follower to be sure of its downbeats, and comes at the latest four bars after
    the beat was found, always on a downbeat."""

    def first_downbeat_counted(sure_at: float | None) -> float:
        clock = BeatClock(bpm=120.0)
        t = Transport(TransportSettings(tempo_source=TempoSource.FOLLOW), clock,
                      lambda p: None)
        heard = HeardBar()
        t.follower = heard  # type: ignore[assignment]
        clock.start(1.0, 0.0)
        events, now = [], 1.0
        while now < 14.0:
            if sure_at is not None and now >= sure_at:
                heard.bar_confidence = CLOCK_START_SURE
            events += t.clock_out(now)
            now = round(now + 0.01, 6)
        counted = midi_receiver(events)
        assert [e.message[0] for e in events].count(0xFA) == 1
        assert counted[0][1] == 0
        return clock.beat_at(counted[0][0])

    # Sure at once: bar 1 is the beat's first downbeat, where it began.
    assert first_downbeat_counted(sure_at=1.0) == pytest.approx(0.0)
    # Sure from 4.1 s on (beat 6.2): the next downbeat, beat 8.
    assert first_downbeat_counted(sure_at=4.1) == pytest.approx(8.0)
    # Never sure: the downbeat CLOCK_START_BARS bars after the beat began.
    assert first_downbeat_counted(sure_at=None) == pytest.approx(4.0 * CLOCK_START_BARS)


def test_following_a_beat_that_stops_before_start_waits_afresh_when_it_starts_again():
    clock = BeatClock(bpm=120.0)
    t = Transport(TransportSettings(tempo_source=TempoSource.FOLLOW), clock, lambda p: None)
    t.follower = HeardBar()  # type: ignore[assignment]  # never sure of the bar
    events, now = [], 1.0
    clock.start(1.0, 0.0)
    while now < 20.0:
        if abs(now - 7.0) < 1e-9:  # three bars in, the player pauses...
            clock.stop()
        if abs(now - 9.0) < 1e-9:  # ...and starts again
            clock.start(9.0, 0.0)
        events += t.clock_out(now)
        now = round(now + 0.01, 6)
    start = next(e.due for e in events if e.message == (0xFA,))
    # Four bars of the new beat (8 s at 120 bpm), not one bar after it began.
    assert start == pytest.approx(9.0 + 4 * CLOCK_START_BARS * 0.5 - CLOCK_LEAD)
