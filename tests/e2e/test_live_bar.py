"""End to end on JACK: the bar. A test controller plays a jig with a one-eighth upbeat,
twice through, with a drifting tempo, into ``instrument run`` (6/8, the pad style: its
chords strike on each bar line and where the harmony moves). After the first phrase the
chords strike on the played downbeats and re-strike nowhere else; the recording has its
bar lines on the played bars and no tempo outside 30-300 bpm; a receiver counting MIDI
clock out from Start has its beats on the played beats and its bar 1 on a played
downbeat."""

from __future__ import annotations

import itertools

import mido
import numpy as np
import pytest

from instrument.bench.jack_tap import play_onsets
from instrument.bench.rig import playing
from instrument.follow.performance import PerformanceStyle, perform
from tests.parts.test_band_styles import twice

pytestmark = [pytest.mark.jack, pytest.mark.e2e]

CONFIG = ('mode = "accompany"\n[accompaniment]\nstyle = "pad"\n'
          '[tempo]\nmeter = "6/8"\nsend_clock = true\n[synth]\nplayer_volume = 0.0\n')
ON = 0.06  # seconds: a strike this close to a played downbeat is on it


def test_an_upbeat_tune_with_drift_gets_its_bar_live_in_the_recording_and_on_midi_clock(
        jack_server, tmp_path):
    tune = twice("jig_6-8.mid")
    assert tune.melody[0].onset % tune.meter.ticks_per_bar != 0  # it starts with an upbeat
    performance = perform(tune, seed=4, style=PerformanceStyle(
        bpm=(95.0, 105.0), drift=0.08, slips=0.0, accent=(0.5, 0.5)))
    onsets = performance.onsets
    with playing(jack_server, tmp_path, CONFIG) as rig:
        controller, tap, inst = rig.controller, rig.tap, rig.instrument
        play_onsets(controller, onsets)
        tap.wait_frames(tap.rate)
        rate = tap.rate
        sent = [f for f, d in tap.midi["ctl"] if d[0] & 0xF0 == 0x90 and d[2] > 0]
        out = list(tap.midi["midi_out"])
        assert inst.terminate() == 0
        recording = inst.recording()

    # The played beats and downbeats, in JACK time, from the notes as they arrived.
    melody = tune.melody
    assert len(sent) == len(melody)
    heard_at = np.array(sent) / rate
    positions = np.array([n.onset for n in melody]) / 12  # in beats (dotted quarters)
    bar = tune.meter.beats_per_bar
    beats = np.arange(np.ceil(positions[0]), np.floor(positions[-1]) + 1)
    beat_times = np.interp(beats, positions, heard_at)
    downbeats = beat_times[beats % bar == 0]
    phrase = float(np.interp(positions[0] + 8 * bar, positions, heard_at))
    end = heard_at[-1]

    # Chords: every played downbeat after the first phrase is struck; the same chord is
    # never struck again off a downbeat.
    strikes: dict[float, set[int]] = {}
    for f, d in out:
        if len(d) == 3 and d[0] == 0x91 and d[2] > 0:
            strikes.setdefault(round(f / rate, 3), set()).add(d[1])
    times = sorted(strikes)
    later = [t for t in times if phrase < t <= end]
    struck = [np.min(np.abs(np.array(later) - d)) <= ON for d in downbeats
              if phrase < d <= end - 0.1]
    restrikes = [t for a, t in itertools.pairwise(times)
                 if strikes[t] == strikes[a] and phrase < t <= end]
    off_bar = [t for t in restrikes if np.min(np.abs(downbeats - t)) > ON]
    print(f"\nafter the first phrase: {np.mean(struck):.0%} of {len(struck)} played downbeats "
          f"struck; {len(off_bar)} of {len(restrikes)} re-strikes off the bar line")
    assert len(struck) >= 6 and np.mean(struck) >= 0.85
    assert len(off_bar) <= 1

    # The recording: bar lines on the played bars, tempi in the playable range.
    smf = mido.MidiFile(recording)
    tempi = [mido.tempo2bpm(m.tempo) for m in smf.tracks[0] if m.type == "set_tempo"]
    assert tempi and min(tempi) >= 30 and max(tempi) <= 300, tempi
    signatures = {(m.numerator, m.denominator) for m in smf.tracks[0]
                  if m.type == "time_signature"}
    assert signatures == {(6, 8)}, signatures
    player = next(t for t in smf.tracks if t.name == "player")
    tick, file_ticks = 0, []
    for m in player:
        tick += m.time
        if m.type == "note_on" and m.velocity > 0:
            file_ticks.append(tick)
    ticks_per_bar = smf.ticks_per_beat * 3  # a 6/8 bar: three quarter notes
    in_bar_file = (np.array(file_ticks) % ticks_per_bar) / ticks_per_bar
    in_bar_tune = (positions % bar) / bar
    settled = positions >= positions[0] + 2 * bar
    off = np.abs((in_bar_file - in_bar_tune + 0.5) % 1.0 - 0.5)[settled]
    print(f"recording: {np.mean(off <= 1 / 12):.0%} of the notes in their place in the bar; "
          f"tempi {min(tempi):.0f}-{max(tempi):.0f} bpm ({len(tempi)} events)")
    assert np.mean(off <= 1 / 12) >= 0.9

    # A receiver counting MIDI clock out from Start: 24 clocks a quarter, 36 a beat.
    started = next(f for f, d in out if d == b"\xfa") / rate
    clocks = np.array([f / rate for f, d in out if d == b"\xf8" and f / rate > started])
    receiver_beats = clocks[::36]
    after = receiver_beats[(receiver_beats > phrase) & (receiver_beats < end)]
    errors = np.array([1000 * np.min(np.abs(beat_times - t)) for t in after])
    bar_one = receiver_beats[0]
    print(f"MIDI clock: receiver's beats to the played beats p50 {np.median(errors):.1f} ms, "
          f"p90 {np.percentile(errors, 90):.1f} ms; bar 1 "
          f"{1000 * np.min(np.abs(downbeats - bar_one)):.0f} ms from a played downbeat")
    assert after.size >= 8 and np.percentile(errors, 90) <= 50
    receiver_bars = receiver_beats[::bar]
    later_bars = receiver_bars[(receiver_bars > phrase) & (receiver_bars < end)]
    on_bar = [np.min(np.abs(downbeats - t)) <= ON for t in later_bars]
    assert np.mean(on_bar) >= 0.85  # its bars are the played bars
