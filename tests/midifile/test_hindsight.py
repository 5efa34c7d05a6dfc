"""The recording laid in hindsight (real mido files, offline clock): a drifting
performance the live follower renumbered becomes a file with a sane tempo map and bar
lines on the played downbeats; a recording cut off at any flush is readable."""

from __future__ import annotations

import functools
import itertools

import mido
import numpy as np
import pytest

from instrument.follow.evaluate import downbeat_f1
from instrument.follow.performance import ISSUE_17, perform
from instrument.follow.settings import FollowSettings
from instrument.midifile import growing_smf
from instrument.midifile.recorder import SmfRecorder
from instrument.models.tune import Tune
from instrument.music import TICKS_PER_BEAT as Q
from instrument.music import GridNote, Meter
from tests.parts.test_follow_band import play, rig
from training.evaluate_recording import file_bar_lines

# A reel-like tune in 4/4 with a pickup of two beats: long tonic notes on the downbeats,
# running eighths between, eight bars played three times.
_BARS = [
    [(67, 0, 2), (71, 2, 1), (74, 3, 1), (72, 4, 1), (71, 5, 1), (69, 6, 1), (67, 7, 1)],
    [(62, 0, 3), (66, 3, 1), (69, 4, 2), (66, 6, 2)],
    [(67, 0, 2), (71, 2, 1), (74, 3, 1), (76, 4, 2), (74, 6, 2)],
    [(72, 0, 1), (71, 1, 1), (69, 2, 1), (66, 3, 1), (67, 4, 4)],
]


def playable_tempo_map(smf: mido.MidiFile) -> list[int]:
    """The file's tempi (us a quarter), asserting what a DAW needs of its tempo map:
    every tempo within 30-300 bpm, an event only where the tempo changes, and never two
    at one tick (a beat of no length)."""
    tempo_ticks, tempi, tick = [], [], 0
    for m in smf.tracks[0]:
        tick += m.time
        if m.type == "set_tempo":
            tempo_ticks.append(tick)
            tempi.append(m.tempo)
    bpm = [mido.tempo2bpm(t) for t in tempi]
    assert min(bpm) >= 30 and max(bpm) <= 300, (min(bpm), max(bpm))
    assert all(a != b for a, b in itertools.pairwise(tempi))
    assert len(set(tempo_ticks)) == len(tempo_ticks)
    return tempi


def pickup_tune() -> Tune:
    notes = [GridNote(62, 4 * Q, Q // 2), GridNote(64, 4 * Q + Q // 2, Q // 2),
             GridNote(66, 5 * Q, Q)]  # the pickup: beats 3 and 4 of bar 0
    for k in range(24):
        bar = (k + 1) * 4 * Q
        for pitch, at, length in _BARS[k % 4]:
            notes.append(GridNote(pitch, bar + at * Q // 2, length * Q // 2))
    return Tune("pickup reel", Meter(4, 4), notes)


def record_band(tmp_path, seed: int, stop_after: float | None = None):
    perf = perform(pickup_tune(), seed, ISSUE_17)
    engine, band, _out = rig("follow", send_clock=True)
    recorder = SmfRecorder(tmp_path / "s.mid", 0.0, engine.clock.now, beat=band.clock,
                           progress=lambda: engine.handled_until)
    assert recorder.hindsight is not None  # the beat follows the player
    engine.outputs.append(recorder)
    end = play(engine, perf) + 1.0
    t = 0.0
    while t < (end if stop_after is None else stop_after):
        t += 0.5
        engine.advance_to(t)
        recorder.flush()
    return perf, recorder


@pytest.mark.parametrize("seed", [3, 7])
def test_a_drifting_performance_the_follower_renumbered_gets_the_played_bars(
        tmp_path, monkeypatch, seed):
    # A follower that moves its bar on a one-nat lead (bar_margin 1, the default before
    # stop 23) renumbers its beats on these performances: the file must still have the
    # played bars. (With the default margin it reads this reel right and never moves:
    # the next test.)
    loose = functools.partial(FollowSettings, bar_margin=1.0)
    monkeypatch.setattr("instrument.follow.follower.FollowSettings", loose)
    perf, recorder = record_band(tmp_path, seed)
    assert recorder.close()
    assert recorder.hindsight.history.renumberings  # the live follower moved its bar
    smf = mido.MidiFile(tmp_path / "s.mid")
    tempi = playable_tempo_map(smf)
    assert len(tempi) < 0.5 * len(perf.beat_times)  # far fewer tempo events than beats
    # The played downbeats are the file's bar lines after the first phrase (four bars).
    f1 = played_bars_f1(tmp_path / "s.mid", perf)
    assert f1 >= 0.95, f1
    # Every note the player played is in the file, once.
    player = next(t for t in smf.tracks if t.name == "player")
    assert sum(m.type == "note_on" and m.velocity > 0 for m in player) == len(perf.onsets)


@pytest.mark.parametrize("seed", [3, 7])
def test_the_same_performances_are_recorded_on_their_bars_by_a_follower_that_never_moved(
        tmp_path, seed):
    perf, recorder = record_band(tmp_path, seed)
    assert recorder.close()
    assert not recorder.hindsight.history.renumberings
    playable_tempo_map(mido.MidiFile(tmp_path / "s.mid"))
    assert played_bars_f1(tmp_path / "s.mid", perf) == 1.0


def played_bars_f1(path, perf) -> float:
    """Downbeat F1 of the file's bar lines against the played downbeats, after the
    first phrase (four bars), each matched within 50 ms."""
    lines, _, _ = file_bar_lines(path, perf.onsets[0][0])
    beats = np.arange(len(perf.beat_times)) + perf.first_beat
    played = perf.beat_times[beats % 4 == 0]
    start = perf.time_of(perf.beat_of(perf.onsets[0][0]) + 16) - 0.05
    last = perf.onsets[-1][0]
    return downbeat_f1(played[(played >= start) & (played <= last)],
                       lines[(lines >= start) & (lines <= last)], 0.05)


def test_a_recording_cut_off_mid_way_is_readable(tmp_path):
    """As a SIGKILL leaves it: no close, the file as the last flush wrote it."""
    perf, _recorder = record_band(tmp_path, 3, stop_after=20.0)
    smf = mido.MidiFile(tmp_path / "s.mid")
    player = next(t for t in smf.tracks if t.name == "player")
    heard = sum(t < 20.0 - 0.6 for t, _, _ in perf.onsets)
    assert sum(m.type == "note_on" and m.velocity > 0 for m in player) >= heard


def test_a_rewrite_that_fails_half_way_leaves_the_last_complete_file(tmp_path, monkeypatch):
    _perf, recorder = record_band(tmp_path, 3, stop_after=12.0)
    before = (tmp_path / "s.mid").read_bytes()

    def crash(*_args):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(growing_smf.os, "replace", crash)
    monkeypatch.setattr(growing_smf, "IN_PLACE_MAX", 0)  # every write a whole rewrite
    recorder.hindsight.phase = (recorder.hindsight.phase + 1) % 4
    assert not recorder.close()
    assert (tmp_path / "s.mid").read_bytes() == before
    assert mido.MidiFile(tmp_path / "s.mid").tracks


# A jig in 6/8 (units of a compound eighth, 4 ticks): a quarter-eighth pair or three
# eighths to each dotted-quarter beat, eight bars played three times.
_JIG = [
    [(67, 2), (71, 1), (74, 2), (71, 1)], [(72, 1), (71, 1), (69, 1), (71, 2), (67, 1)],
    [(66, 2), (69, 1), (72, 2), (69, 1)], [(67, 1), (71, 1), (74, 1), (79, 3)],
    [(76, 2), (74, 1), (72, 2), (71, 1)], [(69, 1), (71, 1), (72, 1), (74, 2), (71, 1)],
    [(72, 2), (69, 1), (66, 2), (69, 1)], [(67, 3), (67, 3)],
]


def jig() -> Tune:
    notes, tick = [], 0
    for pitch, n in (note for _ in range(3) for bar in _JIG for note in bar):
        notes.append(GridNote(pitch, tick, 4 * n))
        tick += 4 * n
    return Tune("jig", Meter(6, 8), notes)


def test_a_jig_played_to_a_box_hearing_the_meter_is_written_in_six_eight(tmp_path):
    # The box starts in 4/4 and hears a compound meter: the file's time signature is
    # 6/8 (not 2/4), its beat a dotted quarter, each of its bars two played beats long
    # with its bar lines on played beats after the first phrase, and every played note
    # in it once. (Which of the two beats is the downbeat: this jig read whole in
    # hindsight is heard from its fourth eighth, the half bar.)
    perf = perform(jig(), 3, ISSUE_17)
    engine, band, _out = rig("follow", meter="auto")
    recorder = SmfRecorder(tmp_path / "s.mid", 0.0, engine.clock.now, beat=band.clock,
                           progress=lambda: engine.handled_until, hear_meter=True)
    engine.outputs.append(recorder)
    end = play(engine, perf) + 1.0
    t = 0.0
    while t < end:
        t += 0.5
        engine.advance_to(t)
        recorder.flush()
    assert band.clock.meter == Meter(6, 8)
    assert recorder.close()
    smf = mido.MidiFile(tmp_path / "s.mid")
    signatures = [(m.numerator, m.denominator) for m in smf.tracks[0]
                  if m.type == "time_signature"]
    assert signatures == [(6, 8)]
    bpm = [mido.tempo2bpm(m.tempo) for m in smf.tracks[0] if m.type == "set_tempo"]
    assert min(bpm) >= 30 and max(bpm) <= 300
    lines, _, _ = file_bar_lines(tmp_path / "s.mid", perf.onsets[0][0])
    played = perf.beat_times
    start = perf.time_of(perf.beat_of(perf.onsets[0][0]) + 8) - 0.05
    lines = lines[(lines >= start) & (lines <= perf.onsets[-1][0])]
    on_beat = np.array([np.min(np.abs(played - t)) for t in lines]) <= 0.07
    assert on_beat.mean() >= 0.95
    bars = np.diff([perf.beat_of(t) for t in lines])
    assert np.all(np.abs(bars - 2.0) < 0.25), bars
    player = next(t for t in smf.tracks if t.name == "player")
    assert sum(m.type == "note_on" and m.velocity > 0 for m in player) == len(perf.onsets)


def test_a_clock_stopped_at_the_fastest_file_tempo_keeps_laying_beats():
    # The follower ran at the file's fastest tempo (300 quarter notes a minute), then
    # stopped: the recording goes on with even beats at that tempo (it once looped for
    # ever on a rounding error at a beat's time).
    from instrument.midifile.hindsight import MAX_FILE_BPM, BeatHistory
    from instrument.timing.beat import BeatClock

    clock = BeatClock(bpm=MAX_FILE_BPM, meter=Meter(2, 4))
    clock.start(14.121863668190207)
    history = BeatHistory(14.121863668190207, 60.0 / MAX_FILE_BPM, Meter(2, 4))
    history.follow(clock, 15.0)
    clock.stop()
    history.follow(clock, 30.0)
    steps = np.diff(history.times)
    assert history.times[-1] > 29.0
    assert np.allclose(steps, 0.2)


def test_where_the_tune_began_is_read_on_the_grid_the_player_settled_into():
    # The follower's first guess put its beats half a beat off the player's; it locked
    # two bars in. The bar reader in hindsight hears the tune's first note (a one-beat
    # pickup) where the player put it, counted back from the bars after it, not half a
    # beat off where the early grid had it.
    from instrument.midifile.hindsight import Hindsight
    from instrument.timing.beat import BeatClock

    period = 0.5
    beats = [3.0]  # the pickup, then a quarter, two eighths and a half note a bar
    for bar in range(1, 13):
        beats += [4 * bar, 4 * bar + 1, 4 * bar + 1.5, 4 * bar + 2]
    times = [1.0 + b * period for b in beats]
    clock = BeatClock(bpm=120.0, meter=Meter(4, 4))
    clock.start(times[0] + 0.25, 0.0)  # half a beat late
    hindsight = Hindsight(times[0], clock, Meter(4, 4), 480)
    for k, (t, b) in enumerate(zip(times, beats, strict=True)):
        if k == 5:
            clock.align(1.0 + 8 * period, 8.0)  # locked: on the player's beats
        hindsight.hear(t, 60 + int(b) % 5, 80)
        hindsight.layout(t + 0.01)
    hindsight.layout(times[-1] + 2.0, final=True)
    reader = hindsight.reader
    x = reader.x[:reader.count]
    assert x[0] % Q == 0  # the early beats laid again on the grid the clock locked to
    for k in range(5, len(x), 7):
        assert x[k] - reader.first[0] == round((beats[k] - beats[0]) * Q)


def test_an_eighth_pickup_the_clock_started_on_is_recorded_where_it_was_played():
    # A waltz with a three-eighth pickup: the follower starts its beat on the first
    # onset (an off-beat) and finds the player's beat at the first downbeat, half a
    # beat on (a renumbering of 1.5 beats). The pickup and the first downbeat must lie
    # where the player played them in the file's bars, not half a beat early.
    from instrument.midifile.hindsight import Hindsight
    from instrument.timing.beat import BeatClock

    period = 0.6
    bar = [(0, 76), (1, 74), (1.5, 77), (2, 76), (2.5, 74)]
    beats = [1.5, 2.0, 2.5] + [3 * b + at for b in range(1, 13) for at, _ in bar]
    pitches = [67, 72, 74] + [p for _ in range(1, 13) for _, p in bar]
    times = [1.0 + b * period for b in beats]
    clock = BeatClock(bpm=100.0, meter=Meter(3, 4))
    clock.start(times[0], 0.0)  # its beat on the pickup's first eighth
    hindsight = Hindsight(0.0, clock, Meter(3, 4), 480)
    for k, (t, pitch) in enumerate(zip(times, pitches, strict=True)):
        if k == 3:
            clock.align(t, 2.0)  # the downbeat: on the player's beats from here
        hindsight.hear(t, pitch, 80)
        hindsight.layout(t + 0.01)
    layout = hindsight.layout(times[-1] + 2.0, final=True)
    for t, b in zip(times, beats, strict=True):
        off = (layout.beat(t) + layout.offset - b) % 3  # 0 when in its place in the bar
        assert min(off, 3 - off) < 0.1, (t, b, off)


def test_a_session_closed_before_anything_was_played_is_written(tmp_path):
    # The box started and stopped with no note from the player (the README's first run
    # with no keyboard): the last rewrite lays the beat it kept and the file opens.
    engine, band, _out = rig("follow", send_clock=True)
    recorder = SmfRecorder(tmp_path / "s.mid", 0.0, engine.clock.now, beat=band.clock,
                           progress=lambda: engine.handled_until)
    assert recorder.hindsight is not None
    engine.outputs.append(recorder)
    for t in np.arange(0.5, 6.0, 0.5):
        engine.advance_to(float(t))
        recorder.flush()
    recorder.close()
    smf = mido.MidiFile(tmp_path / "s.mid")
    player = [m for t in smf.tracks for m in t if m.type == "note_on"]
    assert player == []
    playable_tempo_map(smf)
