"""Voicing: a Chord to MIDI pitches, a bass note and upper voices with smooth voice leading.

Pure function, a few tens of microseconds; call it on the engine thread when a chord is
chosen for a beat.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass

from instrument.models.chords import Chord


@dataclass(frozen=True)
class Voicing:
    """``bass`` (None when silent) and ``upper`` (ascending MIDI pitches) for one chord."""

    bass: int | None
    upper: tuple[int, ...]

    @property
    def pitches(self) -> tuple[int, ...]:
        return ((self.bass,) if self.bass is not None else ()) + self.upper


SILENT = Voicing(None, ())


def _near(pc: int, target: int, low: int, high: int) -> int:
    """The pitch of class ``pc`` in [low, high] nearest ``target``."""
    cands = [p for p in range(low, high + 1) if p % 12 == pc]
    return min(cands, key=lambda p: (abs(p - target), p))


def voice_chord(
    chord: Chord,
    previous: Voicing | None = None,
    voices: int | None = None,
    upper_range: tuple[int, int] = (52, 72),
    bass_range: tuple[int, int] = (36, 50),
) -> Voicing:
    """Voice ``chord``: its bass pitch class in ``bass_range``, ``voices`` chord tones above.

    ``voices`` defaults to the number of chord tones (3 for triads, 4 for sevenths), so
    every chord tone sounds, which is what evaluation's note-in-chord ratio assumes.
    Upper voices take distinct chord tones (the root, third and seventh before the fifth
    when there are more tones than voices; doubled from the root up when fewer), each in
    ``upper_range``, chosen to minimise the total movement from ``previous.upper`` (or
    to sit around the middle of the range when there is no previous voicing). The bass
    moves to the nearest octave of its pitch class. Ranges must span at least an octave.
    """
    if chord.is_silent:
        return SILENT
    voices = len(chord.pitch_classes) if voices is None else voices
    low, high = upper_range
    if high - low < 11 or bass_range[1] - bass_range[0] < 11:
        raise ValueError("voicing ranges must span at least an octave")
    prev_bass = previous.bass if previous is not None and previous.bass is not None else None
    bass_target = prev_bass if prev_bass is not None else (bass_range[0] + bass_range[1]) // 2
    bass = _near(chord.bass, bass_target, *bass_range)

    tones = list(chord.pitch_classes)
    if len(tones) > voices and len(tones) >= 3:
        tones.remove(tones[2])  # drop the fifth first
    tones = tones[:voices]
    while len(tones) < voices:
        tones.append(tones[len(tones) % len(chord.pitch_classes)])

    prev_upper = list(previous.upper) if previous is not None and previous.upper else []
    if len(prev_upper) != voices:
        mid = (low + high) // 2
        prev_upper = [mid - 4 + 4 * i for i in range(voices)]
    best: tuple[int, ...] | None = None
    best_cost = None
    options = [[p for p in range(low, high + 1) if p % 12 == pc] for pc in tones]
    for combo in itertools.product(*options):
        pitches = tuple(sorted(combo))
        if len(set(pitches)) < len(pitches):
            continue
        cost = sum(abs(a - b) for a, b in zip(pitches, sorted(prev_upper), strict=True))
        spread = pitches[-1] - pitches[0]
        cost += 0.1 * spread + (100 if spread > 14 else 0)
        if best_cost is None or cost < best_cost:
            best, best_cost = pitches, cost
    assert best is not None
    return Voicing(bass, best)
