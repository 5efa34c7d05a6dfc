"""Offline chord labels for folk dance tunes that come without chords (training data only).

music21 ships only a handful of chord-labelled folk tunes, too few to teach a folk
harmonic rhythm. So O'Neill's and Ryan's dance tunes are given chords by this offline,
non-causal labeller, and the online model learns to predict them before each beat:

- the key is estimated once from the whole tune (duration-weighted Krumhansl-Kessler);
- each full bar gets the diatonic chord that best fits all its notes (weighted by
  duration, notes starting on a beat counted 1.5 times), or, when that improves the fit
  by a clear margin, one chord per half bar (bars of an even number of beats);
- the chord of the previous span gets a small bonus, the last bar ends on the tonic;
- beats before the first full bar (a pickup) are left silent.

This labeller sees the future and the whole tune, which no online system can; the online
rule arranger (the baseline) and the model do not. The labels are only used for training
and are reported as "offline labels", never as a human reference.
"""

from __future__ import annotations

import numpy as np

from instrument.baselines.rules import diatonic_chords, estimate_key
from instrument.models.chords import CHORD_INDEX, NO_CHORD, TEMPLATES, Chord
from instrument.models.tune import Tune
from instrument.music import TICKS_PER_BEAT

SPLIT_MARGIN = 0.15
CONTINUITY = 0.08


def beat_evidence(tune: Tune, n_beats: int) -> np.ndarray:
    """(n_beats, 12) pitch-class weights: ticks sounding in each beat, onsets on beats x1.5."""
    ev = np.zeros((n_beats, 12))
    for n in tune.melody:
        weight = 1.5 if n.onset % TICKS_PER_BEAT == 0 else 1.0
        t, end = n.onset, n.onset + n.duration
        while t < end:
            b = t // TICKS_PER_BEAT
            nxt = min(end, (b + 1) * TICKS_PER_BEAT)
            if b < n_beats:
                ev[b, n.pitch % 12] += weight * (nxt - t) / TICKS_PER_BEAT
            t = nxt
    return ev


def _fit(evidence: np.ndarray, chord: Chord) -> float:
    total = evidence.sum()
    if total <= 0:
        return 0.0
    t = TEMPLATES[CHORD_INDEX[chord]].astype(np.float64)
    return float((evidence @ t - 0.6 * evidence @ (1.0 - t)) / total)


def harmonize(tune: Tune) -> list[Chord]:
    """One chord per beat, beat 0 to the last beat of the melody."""
    n_beats = tune.n_beats
    if not tune.melody or n_beats == 0:
        return [NO_CHORD] * n_beats
    ev = beat_evidence(tune, n_beats)
    tonic, minor = estimate_key(ev.sum(axis=0))
    cands = diatonic_chords(tonic, minor)
    tonic_chord = cands[0][0]
    bpb = tune.meter.beats_per_bar
    first_full_bar = -(-tune.melody[0].onset // tune.meter.ticks_per_bar)
    chords = [NO_CHORD] * n_beats
    prev = None

    def best(evidence: np.ndarray, previous: Chord | None) -> tuple[Chord, float]:
        scored = []
        for chord, prior in cands:
            s = _fit(evidence, chord) + 0.3 * prior
            if previous is not None and chord.identity == previous.identity:
                s += CONTINUITY
            scored.append((s, chord))
        s, chord = max(scored, key=lambda x: x[0])
        return chord, s

    n_bars = -(-n_beats // bpb)
    for bar in range(first_full_bar, n_bars):
        lo, hi = bar * bpb, min(n_beats, (bar + 1) * bpb)
        whole, s_whole = best(ev[lo:hi].sum(axis=0), prev)
        if bar == n_bars - 1:
            whole = tonic_chord
        labels = [whole] * (hi - lo)
        if bpb % 2 == 0 and hi - lo == bpb and bar != n_bars - 1:
            mid = lo + bpb // 2
            c1, s1 = best(ev[lo:mid].sum(axis=0), prev)
            c2, s2 = best(ev[mid:hi].sum(axis=0), c1)
            w1, w2 = ev[lo:mid].sum(), ev[mid:hi].sum()
            split = (s1 * w1 + s2 * w2) / max(w1 + w2, 1e-9)
            if c1.identity != c2.identity and split > s_whole + SPLIT_MARGIN:
                labels = [c1] * (mid - lo) + [c2] * (hi - mid)
        chords[lo:hi] = labels
        prev = labels[-1]
    return chords


def hindsight_labels(tune: Tune) -> list[Chord]:
    """One chord per beat from the tune memory's hindsight fit over the whole tune.

    The key is estimated once from the whole melody (as :func:`harmonize` does); then
    :func:`instrument.memory.hindsight.fit_chords` (its default settings: the key's
    diatonic triads, V7 and diatonic sevenths, a change cost by place in the bar) picks a
    chord per beat by dynamic programming over every beat from the first full bar on, so
    a chord may change on any beat where the melody asks for it. Pickup beats stay
    silent, as in :func:`harmonize`. Non-causal, training labels only.
    """
    from instrument.memory import hindsight

    n_beats = tune.n_beats
    if not tune.melody or n_beats == 0:
        return [NO_CHORD] * n_beats
    ev = hindsight.beat_evidence(tune.melody, 0, n_beats)
    tonic, minor = estimate_key(ev.sum(axis=0))
    bpb = tune.meter.beats_per_bar
    first = -(-tune.melody[0].onset // tune.meter.ticks_per_bar) * bpb
    if first >= n_beats:
        return [NO_CHORD] * n_beats
    costs = hindsight.change_costs([b % bpb for b in range(first, n_beats)], bpb)
    fitted = hindsight.fit_chords(ev[first:], hindsight.key_chords(tonic, minor), costs)
    return [NO_CHORD] * first + fitted
