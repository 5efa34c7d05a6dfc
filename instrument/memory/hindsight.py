"""Hindsight chords: once a bar has been heard, the chords that would have fitted it best.

Used by the tune memory (:mod:`instrument.memory.tune_memory`), which labels every bar
of the tune as it ends and plays those labels when the bar comes round again.

- :func:`beat_evidence`: per beat, how much each pitch class of the melody counts: one
  per note that begins in the beat (``onset_weight`` more when it begins on the beat),
  plus ``held_weight`` per beat of sounding. Notes sound until the next onset, at most
  their duration.
- :func:`key_chords`: the chords of a key (the rule arranger's diatonic set) and,
  when asked, the key's diatonic sevenths (ii7, IVmaj7, vi7 in major; iv7, VImaj7 in
  minor), each with a prior.
- :func:`fit_chords`: one chord per beat from the candidates, by dynamic programming over
  the beats: each beat scores its evidence inside the chord minus ``outside`` times the
  evidence outside it, plus the chord's prior scaled by the mean evidence of a beat;
  changing chord costs ``change_cost`` of the beat's position (bar line, half bar, other
  beats), so chords change where the melody asks for it and harmonic rhythm stays
  plausible.

Pure numpy, a few tens of microseconds per bar; safe on the engine thread.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from functools import lru_cache

import numpy as np

from instrument.baselines.rules import KeyChords, chord_table, diatonic_chords
from instrument.models.chords import CHORD_INDEX, IDENTITY, Chord
from instrument.music import TICKS_PER_BEAT, GridNote

#: Diatonic sevenths added by ``key_candidates(..., sevenths=True)``: degree, quality, prior.
MAJOR_SEVENTHS = ((2, "m7", 0.04), (5, "maj7", 0.03), (9, "m7", 0.04))
MINOR_SEVENTHS = ((5, "m7", 0.04), (8, "maj7", 0.03))


@dataclass(frozen=True)
class HindsightSettings:
    """Weights of :func:`beat_evidence` and :func:`fit_chords` (tuned on a held-out part of
    the training split; see training/README.md)."""

    onset_weight: float = 0.5
    held_weight: float = 0.5
    outside: float = 1.5  # 0.6 until stop 33: a repeat holds more of its melody
    prior_scale: float = 0.6
    change_cost_bar: float = 0.4
    change_cost_half: float = 1.0
    change_cost_beat: float = 2.0
    sevenths: bool = True


DEFAULT_SETTINGS = HindsightSettings()


def beat_evidence(
    notes: Sequence[GridNote], first_beat: int, n_beats: int,
    settings: HindsightSettings = DEFAULT_SETTINGS,
) -> np.ndarray:
    """(n_beats, 12) pitch-class weights of a monophonic melody (see the module doc).

    ``notes`` in onset order; beat ``i`` of the result is beat ``first_beat + i`` of the
    grid. A note sounds until the next onset or its own end, whichever comes first.
    """
    ev = np.zeros((n_beats, 12))
    lo, hi = first_beat * TICKS_PER_BEAT, (first_beat + n_beats) * TICKS_PER_BEAT
    for i, n in enumerate(notes):
        end = n.onset + n.duration
        if i + 1 < len(notes):
            end = min(end, notes[i + 1].onset)
        if lo <= n.onset < hi:
            b = n.onset // TICKS_PER_BEAT - first_beat
            ev[b, n.pitch % 12] += 1.0 + (settings.onset_weight
                                           if n.onset % TICKS_PER_BEAT == 0 else 0.0)
        t = max(n.onset, lo)
        while t < min(end, hi):
            b = t // TICKS_PER_BEAT
            nxt = min(end, (b + 1) * TICKS_PER_BEAT)
            ev[b - first_beat, n.pitch % 12] += settings.held_weight * (nxt - t) / TICKS_PER_BEAT
            t = nxt
    return ev


@lru_cache(maxsize=48)
def key_chords(tonic: int, minor: bool, sevenths: bool = True) -> KeyChords:
    """The chords a key's melody is harmonized with, each with a prior (module doc)."""
    cands = diatonic_chords(tonic, minor)
    if sevenths:
        for d, q, prior in MINOR_SEVENTHS if minor else MAJOR_SEVENTHS:
            root = (tonic + d) % 12
            cands.append((Chord(root, q, root), prior))
    return chord_table(cands)


def change_costs(beats_in_bar: Sequence[int], beats_per_bar: int,
                 settings: HindsightSettings = DEFAULT_SETTINGS) -> np.ndarray:
    """The cost of changing chord on each beat, from its place in the bar."""
    half = beats_per_bar // 2 if beats_per_bar % 2 == 0 else -1
    costs = []
    for b in beats_in_bar:
        if b == 0:
            costs.append(settings.change_cost_bar)
        elif b == half:
            costs.append(settings.change_cost_half)
        else:
            costs.append(settings.change_cost_beat)
    return np.array(costs)


def fit_chords(
    evidence: np.ndarray,
    key: KeyChords,
    costs: np.ndarray,
    previous: Chord | None = None,
    settings: HindsightSettings = DEFAULT_SETTINGS,
) -> list[Chord]:
    """One chord per row of ``evidence`` from ``key``'s chords (see the module doc);
    ``costs[i]``: changing chord on beat ``i``; ``previous``: the chord before the first
    beat (None: the first chord costs nothing). Beats with no evidence keep the chord
    around them."""
    n = len(evidence)
    if n == 0:
        return []
    totals = evidence.sum(axis=1, keepdims=True)
    scale = float(totals.mean())
    inside = evidence @ key.templates.T
    score = inside - settings.outside * (totals - inside)
    score = score + settings.prior_scale * scale * key.priors
    k = len(key.chords)
    best = score[0].copy()
    if previous is not None:
        best -= np.where(key.identity == IDENTITY[CHORD_INDEX[previous]], 0.0, costs[0])
    back = np.zeros((n, k), dtype=np.int64)
    cols = np.arange(k)
    for i in range(1, n):
        trans = best[:, None] - np.where(key.same, 0.0, costs[i])  # from row to column
        back[i] = np.argmax(trans, axis=0)
        best = trans[back[i], cols] + score[i]
    path = [int(np.argmax(best))]
    for i in range(n - 1, 0, -1):
        path.append(int(back[i, path[-1]]))
    return [key.chords[j] for j in reversed(path)]
