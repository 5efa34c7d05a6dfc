"""End to end on JACK: the band. A test controller plays a reel twice through with a
drifting tempo into ``instrument run`` with the reel style; each part comes out on its
own MIDI channel, the bass and the drums on the eighths as played, the drum kit is what
sounds (the other parts' synths are turned down), and the recording has a track for
each part."""

from __future__ import annotations

import mido
import numpy as np
import pytest

from instrument.bench.jack_tap import play_onsets
from instrument.bench.rig import playing
from instrument.follow.performance import PerformanceStyle, perform
from tests.parts.test_band_styles import twice

pytestmark = [pytest.mark.jack, pytest.mark.e2e]

CONFIG = ('mode = "accompany"\n[accompaniment]\nstyle = "reel"\n[tempo]\nsend_clock = false\n'
          '[synth]\nplayer_volume = 0.0\naccompaniment_volume = 0.0\nbass_volume = 0.0\n'
          'continuation_volume = 0.0\ndrums_volume = 0.9\n')
CHANNEL = {"accompaniment": 1, "bass": 3, "drums": 9}  # 0-based: MIDI channels 2, 4, 10


def test_the_band_plays_each_part_on_its_channel_on_the_beat_played(jack_server, tmp_path):
    performance = perform(twice("reel_4-4.mid"), seed=3,
                          style=PerformanceStyle(bpm=(95.0, 110.0), drift=0.08, slips=0.0,
                                                 accent=(1.0, 1.0)))
    onsets = performance.onsets
    with playing(jack_server, tmp_path, CONFIG) as rig:
        controller, tap, inst = rig.controller, rig.tap, rig.instrument
        play_onsets(controller, onsets)
        tap.wait_frames(tap.rate)
        rate = tap.rate
        sent = [f for f, d in tap.midi["ctl"] if d[0] & 0xF0 == 0x90 and d[2] > 0]
        out = tap.midi["midi_out"]
        # Only the drums sound: each hit is heard from its frame, nothing before the band.
        hits = [f for f, d in out if len(d) == 3 and d[0] == 0x99 and d[2] > 0]
        heard = [rms(tap.audio(f, f + rate // 20)) for f in hits]
        before = rms(tap.audio(sent[0] - rate // 2, sent[0]))
        assert inst.terminate() == 0
        recording = inst.recording()

    assert len(hits) >= 16 and before < 1e-4
    print(f"\ndrum hits heard: {np.mean(np.array(heard) > 1e-3):.0%} of {len(hits)} "
          f"(median rms {np.median(heard):.4f})")
    assert np.mean(np.array(heard) > 1e-3) >= 0.9

    melody = performance.tune.melody
    assert len(sent) == len(melody)
    heard_at = np.array(sent) / rate
    positions = np.array([n.onset for n in melody]) / 12
    eighths = np.arange(np.ceil(positions[0] * 2), np.floor(positions[-1] * 2) + 1) / 2
    played_eighths = np.interp(eighths, positions, heard_at)
    settled = np.interp(positions[0] + 4 * performance.beats_per_bar, positions, heard_at)

    notes = [(f / rate, d) for f, d in out if len(d) == 3 and d[0] & 0xF0 == 0x90 and d[2] > 0]
    channels = {d[0] & 0x0F for _, d in notes}
    assert channels == {0, *CHANNEL.values()}, channels  # 0: the player's own notes
    figures = {}
    for part in ("bass", "drums"):
        times = sorted({t for t, d in notes if d[0] & 0x0F == CHANNEL[part]
                        and settled < t <= heard_at[-1]})
        assert len(times) >= 16, (part, len(times))
        errors = np.array([1000 * np.abs(played_eighths - t).min() for t in times])
        figures[part] = (np.median(errors), np.percentile(errors, 90), len(times))
    print("; ".join(f"{part}: {n} onsets, |error| to the played eighths p50 "
                           f"{p50:.1f} ms, p90 {p90:.1f} ms"
                           for part, (p50, p90, n) in figures.items()))
    for p50, p90, _ in figures.values():
        assert p50 <= 20 and p90 <= 50

    # The recording: a track for each part, the drums on channel 10.
    smf = mido.MidiFile(recording)
    names = [t.name for t in smf.tracks]
    assert {"player", "accompaniment", "bass", "drums"} <= set(names), names
    drums = smf.tracks[names.index("drums")]
    drum_channels = {m.channel for m in drums if m.type == "note_on"}
    assert drum_channels == {9}


def rms(x: np.ndarray) -> float:
    return float(np.sqrt(np.mean(np.square(x)))) if x.size else 0.0
