"""`instrument demo` on a machine with no sound card: a WAV that holds the tune, the
accompaniment and an answer, each heard at its pitch when its notes play, and a
recording with the three parts."""

from __future__ import annotations

import os
import subprocess
import sys
import uuid

import mido
import numpy as np
import pytest

from instrument.music import midi_to_hz
from tests.support.analysis import read_wav

pytestmark = [pytest.mark.jack, pytest.mark.e2e]

PARTS = ("player", "accompaniment", "bass", "drums", "continuation")
PITCHED = tuple(p for p in PARTS if p != "drums")  # a drum's note number is not a pitch
HARMONIC_STEPS = {0, 12, 19, 24, 28, 31, 36}  # a note's partials, in semitones above it


def notes_in_seconds(path) -> dict[str, list[tuple[float, float, int]]]:
    """(start, end, pitch) of each part's notes, in seconds by the file's tempo map."""
    smf = mido.MidiFile(path)
    names = {i: t.name for i, t in enumerate(smf.tracks)}
    out: dict[str, list] = {n: [] for n in PARTS}
    started: dict[tuple[int, int], float] = {}
    now = 0.0
    track_of_channel = {}
    for i, track in enumerate(smf.tracks):
        for m in track:
            if m.type == "note_on":
                track_of_channel[m.channel] = names[i]
    for message in smf:  # merged, times in seconds
        now += message.time
        if message.type not in ("note_on", "note_off"):
            continue
        key = (message.channel, message.note)
        if message.type == "note_on" and message.velocity > 0:
            started[key] = now
        elif key in started:
            part = track_of_channel[message.channel]
            out[part].append((started.pop(key), now, message.note))
    return out


def heard(audio: np.ndarray, rate: int, start: float, pitch: int) -> float:
    """How far the pitch's fundamental stands out of the spectrum just after ``start``."""
    i = int(start * rate)
    window = audio[i + rate // 50 : i + rate // 50 + rate // 5]
    spectrum = np.abs(np.fft.rfft(window * np.hanning(window.size)))
    freqs = np.fft.rfftfreq(window.size, 1 / rate)
    f0 = midi_to_hz(pitch)
    band = spectrum[(freqs > f0 * 0.97) & (freqs < f0 * 1.03)]
    return float(band.max() / (np.median(spectrum) + 1e-12))


def test_demo_plays_the_tune_the_accompaniment_and_an_answer(tmp_path):
    name = f"instrument-demo-{uuid.uuid4().hex[:8]}"  # no server by this name: its own
    env = dict(os.environ, JACK_DEFAULT_SERVER=name, XDG_DATA_HOME=str(tmp_path / "data"),
               XDG_CONFIG_HOME=str(tmp_path / "config"))
    env.pop("INSTRUMENT_CONFIG", None)
    wav = tmp_path / "demo.wav"
    done = subprocess.run(
        [sys.executable, "-m", "instrument", "demo", "--wav", str(wav),
         "--recordings", str(tmp_path / "rec")],
        env=env, cwd=tmp_path, capture_output=True, text=True, timeout=120,
    )
    assert done.returncode == 0, done.stderr[-4000:]
    assert f"sound written to {wav}" in done.stdout
    recording = next((tmp_path / "rec").glob("session-*.mid"))
    assert [t.name for t in mido.MidiFile(recording).tracks[1:]] == list(PARTS)
    notes = notes_in_seconds(recording)
    assert all(notes[p] for p in PARTS), {p: len(notes[p]) for p in PARTS}

    audio, rate = read_wav(wav)
    # The WAV starts before the recording does: align them on the first sound, then
    # within a quarter second of it where the player's own notes stand out most (the
    # first sound can be other than the first note's attack on a loaded machine).
    onset = int(np.flatnonzero(np.abs(audio) > 0.01)[0]) / rate
    first = onset - notes["player"][0][0]

    def player_heard(shift: float) -> float:
        return float(np.median([heard(audio, rate, start + shift, pitch)
                                for start, _end, pitch in notes["player"]]))

    shift = max((first + d for d in np.arange(-0.25, 0.2501, 0.01)), key=player_heard)
    played_until = notes["player"][-1][1]
    answer = notes["continuation"]
    assert answer[0][0] > played_until - 0.1, "the answer began before the phrase ended"

    for part in PITCHED:
        others = [n for p in PITCHED if p != part for n in notes[p]]
        if part == "bass":  # under everything: only a note as low can cover its pitch
            others = [n for n in others if n[2] < max(p for _, _, p in notes["bass"]) + 7]
        scores = []
        for start, _end, pitch in notes[part]:
            # another note sounding whose partials include this pitch covers it
            clash = any(o_start <= start + 0.2 and o_end >= start
                        and pitch - o_pitch in HARMONIC_STEPS
                        for o_start, o_end, o_pitch in others)
            # a chord of the part itself may sound the tritone (a V7: B and F in G7)
            clash = clash or any(o_start <= start + 0.2 and o_end >= start
                                 and (pitch - o_pitch) % 12 == 6
                                 for o_start, o_end, o_pitch in notes[part])
            if not clash:  # its pitch against a tritone away, where nothing should be
                scores.append(heard(audio, rate, start + shift, pitch)
                              / heard(audio, rate, start + shift, pitch + 6))
        assert scores, f"no {part} note to listen to on its own"
        print(f"{part}: its pitch {np.median(scores):.0f}x louder than a tritone away "
              f"(median of {len(scores)} notes)")
        assert np.median(scores) > 10, (part, scores)
