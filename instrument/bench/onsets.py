"""Generated-note onset error against each note's planned time, live on JACK.

The instrument accompanies short phrases (``accompany``; its own thru voice muted). The
beat starts at the phrase's first note, so every chord is planned for a known frame:
first note + k beats. For every accompaniment note-on on MIDI out, the error is its
frame minus the nearest planned beat frame. Each phrase is followed by a rest long
enough for the accompaniment to stop, so the next phrase's first chord starts from
silence, and its first audible sample is compared with its planned frame too.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from instrument.bench.analysis import rms
from instrument.bench.rig import playing
from instrument.jack.server import JackServer

BPM = 120
PHRASE = [67, 69, 71, 72, 74, 72, 71, 69, 67, 71, 74, 79, 78, 76, 74, 72]  # eighths


@dataclass
class OnsetRun:
    period: int
    rate: int
    midi_errors: list[int]  # frames, signed
    audio_errors: list[int]  # frames, signed (first chord of each phrase)
    chords: int

    def summary(self) -> dict:
        def stats(values: list[int]) -> dict:
            if not values:
                return {}
            a = np.abs(np.array(values, dtype=float))
            return {
                "count": int(a.size),
                "p50_frames": float(np.percentile(a, 50)),
                "p99_frames": float(np.percentile(a, 99)),
                "max_frames": float(a.max()),
                "p99_periods": round(float(np.percentile(a, 99)) / self.period, 3),
                "p99_ms": round(float(np.percentile(a, 99)) / self.rate * 1000, 3),
            }

        return {"period": self.period, "rate": self.rate, "chord_onsets": self.chords,
                "midi_out": stats(self.midi_errors), "audio": stats(self.audio_errors)}


CONFIG = (
    f'mode = "accompany"\n[tempo]\nbpm = {BPM}\nsend_clock = false\n'
    '[synth]\nplayer_volume = 0.0\naccompaniment_patch = "organ"\n'
    "[accompaniment]\nstop_after_bars = 1.0\n[recording]\nenabled = false\n"
)


def measure(server: JackServer, workdir: Path, phrases: int = 4) -> OnsetRun:
    midi_errors: list[int] = []
    audio_errors: list[int] = []
    chords = 0
    with playing(server, workdir, CONFIG) as rig:
        tap, controller = rig.tap, rig.controller
        beat = 60 / BPM * tap.rate
        eighth = int(beat / 2)
        for _ in range(phrases):
            ctl_before = len(tap.midi["ctl"])
            out_before = len(tap.midi["midi_out"])
            for pitch in PHRASE:
                controller.note_on(pitch, 90)
                tap.wait_frames(int(eighth * 0.8))
                controller.note_off(pitch)
                tap.wait_frames(eighth - int(eighth * 0.8))
            tap.wait_frames(int(4 * beat + tap.rate))  # the accompaniment rests
            first = next(f for f, d in tap.midi["ctl"][ctl_before:]
                         if d[0] & 0xF0 == 0x90 and d[2] > 0)
            ons = sorted({f for f, d in tap.midi["midi_out"][out_before:]
                          if len(d) == 3 and d[0] == 0x91 and d[2] > 0})
            chords += len(ons)
            for f in ons:
                k = round((f - first) / beat)
                midi_errors.append(int(f - (first + k * beat)))
            if ons:
                planned = first + round((ons[0] - first) / beat) * beat
                before = tap.audio(int(planned) - 2400, int(planned) - tap.period)
                after = tap.audio(int(planned) - tap.period, int(planned) + 4800)
                if rms(before) < 1e-5 and after.size:
                    idx = np.flatnonzero(np.abs(after) > 1e-4)
                    if idx.size:
                        audio_errors.append(int(idx[0] - tap.period))
        return OnsetRun(tap.period, tap.rate, midi_errors, audio_errors, chords)
