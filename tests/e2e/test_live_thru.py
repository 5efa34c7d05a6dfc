"""End to end on a private JACK server: a controller plays into `instrument run`.

The instrument runs as a subprocess with real jackd (dummy backend), rtmidi, pyo and
JACK-Client. A test "controller" (an rtmidi JACK virtual output) plays notes; a JACK
client in the test captures the instrument's audio and MIDI out with frame times.
"""

from __future__ import annotations

import time

import mido
import numpy as np
import pytest

from instrument.bench.rig import playing
from instrument.music import midi_to_hz
from tests.support.analysis import cents, estimate_f0, first_onset, rms
from tests.support.jack_tap import JackTap

pytestmark = [pytest.mark.jack, pytest.mark.e2e]

MELODY = [60, 64, 67, 72, 55, 48, 79]
HOLD = 0.25  # seconds each key is held
GAP = 0.75  # seconds of silence after each release (the epiano releases in 0.25 s)


@pytest.fixture
def rig(jack_server, tmp_path):
    """Controller, capture tap and a running instrument in thru mode (the defaults
    otherwise) wired together: the player's own notes, nothing else."""
    with playing(jack_server, tmp_path, 'mode = "thru"\n') as rig:
        yield rig.controller, rig.tap, rig.instrument


def note_arrivals(tap: JackTap) -> list[tuple[int, int, bool]]:
    """(frame, pitch, is_on) of note messages the controller put into JACK."""
    out = []
    for frame, data in tap.midi["ctl"]:
        if len(data) == 3 and data[0] & 0xF0 in (0x80, 0x90):
            out.append((frame, data[1], data[0] & 0xF0 == 0x90 and data[2] > 0))
    return out


def test_key_presses_sound_at_pitch_decay_and_match_midi_out_and_recording(rig):
    controller, tap, inst = rig
    # Timed in JACK frames, not wall time: a loaded machine may run the graph slower.
    for pitch in MELODY:
        controller.note_on(pitch, 100)
        tap.wait_frames(int(HOLD * tap.rate))
        controller.note_off(pitch)
        tap.wait_frames(int(GAP * tap.rate))
    tap.wait_frames(4800)

    arrivals = note_arrivals(tap)
    ons = [(f, p) for f, p, on in arrivals if on]
    offs = [(f, p) for f, p, on in arrivals if not on]
    assert [p for _, p in ons] == MELODY, (tap.midi["ctl"], tap.xruns)
    rate, period = tap.rate, tap.period
    latencies = []
    for (on_frame, pitch), (off_frame, _) in zip(ons, offs, strict=True):
        before = tap.audio(on_frame - 2400, on_frame - period)
        assert rms(before) < 1e-4, f"not silent before note {pitch}"
        # Sound may start at the beginning of the block the key press arrived in.
        window = tap.audio(on_frame - period, off_frame)
        onset = first_onset(window, threshold=1e-4)
        assert onset is not None, f"note {pitch} made no sound"
        latencies.append(onset - period)
        body = tap.audio(on_frame + int(0.03 * rate), off_frame)
        f0 = estimate_f0(body, rate)
        assert abs(cents(f0, midi_to_hz(pitch))) < 30, f"note {pitch}: heard {f0:.1f} Hz"
        tail = tap.audio(off_frame + int(0.45 * rate), off_frame + int(0.7 * rate))
        assert rms(tail) < 1e-4, f"note {pitch} did not decay to silence after release"
        assert rms(body) > 1e-2

    lat = np.array(latencies) / period
    print(
        f"\nkey-to-sound latency at {rate} Hz / {period} frames over {lat.size} notes: "
        f"p50 {np.percentile(lat, 50):.2f} periods, max {lat.max():.2f} periods "
        "(from the frame the key press arrives in JACK to the first audible sample)"
    )
    assert lat.max() <= 4.0

    # MIDI out carries the same notes, on the player channel (1).
    sent = [
        (d[1], d[0] & 0xF0 == 0x90 and d[2] > 0)
        for _, d in tap.midi["midi_out"]
        if len(d) == 3 and d[0] & 0xF0 in (0x80, 0x90)
    ]
    assert sent == [(p, on) for p in MELODY for on in (True, False)]
    # Every channel message is on channel 1 (MIDI clock, following the player's beat, is a
    # system message and belongs to no channel).
    assert all(d[0] & 0x0F == 0 for _, d in tap.midi["midi_out"] if d[0] < 0xF0)

    assert inst.terminate() == 0
    smf = mido.MidiFile(inst.recording())
    tracks = {t.name: t for t in smf.tracks}
    assert "player" in tracks
    recorded = [
        (m.note, m.type == "note_on" and m.velocity > 0)
        for m in tracks["player"]
        if m.type in ("note_on", "note_off")
    ]
    assert recorded == sent


def test_sigterm_during_held_note_fades_out_and_sends_note_off(rig):
    controller, tap, inst = rig
    controller.note_on(69, 110)
    time.sleep(0.5)
    sounding = tap.audio(tap.now_frame() - 4800, tap.now_frame())
    assert rms(sounding) > 1e-2
    term_frame = tap.now_frame()
    assert inst.terminate() == 0
    tap.wait_frames(2400)

    # The note faded to silence (no click): the audio after SIGTERM ends in zeros and
    # its level falls smoothly from the held level.
    after = tap.audio(term_frame, tap.now_frame())
    assert rms(after[-1200:]) == 0.0
    assert np.max(np.abs(np.diff(after))) < 0.05
    offs = [d for _, d in tap.midi["midi_out"] if d[0] & 0xF0 in (0x80, 0x90) and d[2] == 0]
    assert any(d[1] == 69 for d in offs), (tap.midi["midi_out"], inst.log[-2000:])
    assert any(d[0] & 0xF0 == 0xB0 and d[1] == 123 for _, d in tap.midi["midi_out"])

    smf = mido.MidiFile(inst.recording())
    player = next(t for t in smf.tracks if t.name == "player")
    notes = [(m.type, m.note) for m in player if m.type in ("note_on", "note_off")]
    assert notes[0] == ("note_on", 69) and ("note_off", 69) in notes
