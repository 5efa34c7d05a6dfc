"""Tunes from the extraction cache, the train/validation split, and training tensors.

Split (fixed, by piece): a tune is in the validation split when the sha1 of its melody
fingerprint (the first 16 pitch intervals, as text) is 0 modulo 10, and in the dev part
of the training split when it is 1 modulo 10. Using the melody's content rather than its
file name keeps duplicated tunes and re-harmonised chorale melodies on one side of the
split. About 10 % of pieces are held out for validation; nothing from them is trained
on, by the models or by the Markov prior, or tuned on. The dev part (another 10 %) is
not trained on either: the settings of what the instrument learns during a tune (the
tune memory, the continuation's mixture weights) are tuned on it.

Transposition to all keys is done when batches are drawn: each sequence is shifted by a
random interval in -6..+5 (moved by an octave where that leaves the pitch range), so
every epoch sees every tune in a random key.
"""

from __future__ import annotations

import hashlib
import itertools
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

import numpy as np

from instrument.evaluation.generators import beat_range, heard_by_deadline
from instrument.models import melody as enc
from instrument.models.accompaniment import (
    ENCODING_NAME,
    START,
    BeatEncoder,
    BeatInput,
    rhythm_bucket,
)
from instrument.models.chords import (
    CHORD_INDEX,
    IDENTITY,
    NO_CHORD,
    TRANSPOSED,
    Chord,
    fit_chord,
)
from instrument.models.chords import change_rate as chord_change_rate
from instrument.models.keys import NO_KEY
from instrument.models.tune import Tune
from instrument.music import TICKS_PER_BEAT, GridNote, Meter

FINGERPRINT_INTERVALS = 16
VALIDATION_MODULUS = 10
DEV_REMAINDER = 1
SPLIT_DOC = (
    "validation = tunes whose melody fingerprint (first 16 pitch intervals joined by "
    "spaces) has sha1 = 0 mod 10; dev (held out from training, used to tune the "
    "in-tune adaptation) = 1 mod 10; everything else is training"
)


def fingerprint(pitches: Sequence[int]) -> str:
    steps = [b - a for a, b in itertools.pairwise(pitches)]
    return " ".join(str(s) for s in steps[:FINGERPRINT_INTERVALS])


def _bucket(pitches: Sequence[int]) -> int:
    digest = hashlib.sha1(fingerprint(pitches).encode()).hexdigest()
    return int(digest[:8], 16) % VALIDATION_MODULUS


def is_validation(pitches: Sequence[int]) -> bool:
    return _bucket(pitches) == 0


def is_dev(pitches: Sequence[int]) -> bool:
    return _bucket(pitches) == DEV_REMAINDER


def split(tunes: Iterable[Tune]) -> tuple[list[Tune], list[Tune]]:
    """(training including dev, validation)."""
    train, val = [], []
    for t in tunes:
        (val if is_validation([n.pitch for n in t.melody]) else train).append(t)
    return train, val


def split_dev(tunes: Iterable[Tune]) -> tuple[list[Tune], list[Tune], list[Tune]]:
    """(training without dev, dev, validation): the models train on the first only."""
    train, val = split(tunes)
    fit = [t for t in train if not is_dev([n.pitch for n in t.melody])]
    dev = [t for t in train if is_dev([n.pitch for n in t.melody])]
    return fit, dev, val


def _meter(text: str) -> Meter:
    num, den = text.split("/")
    return Meter(int(num), int(den))


def tune_from_record(rec: dict) -> Tune:
    melody = [GridNote(p, on, d) for p, on, d in rec["melody"]]
    acc = [GridNote(p, on, d) for p, on, d, *_ in rec.get("accompaniment", [])]
    return Tune(f"{rec['collection']}:{rec['source']}:{rec['title']}", _meter(rec["meter"]),
                melody, acc)


def chords_from_symbols(tune: Tune, symbols: list) -> list[Chord]:
    """Per-beat chords from (onset, root, bass, pcs, figure) chord symbols."""
    chords = []
    j = -1
    for b in range(tune.n_beats):
        tick = b * TICKS_PER_BEAT
        while j + 1 < len(symbols) and symbols[j + 1][0] <= tick:
            j += 1
        if j < 0:
            chords.append(NO_CHORD)
            continue
        _, root, bass, pcs, _ = symbols[j]
        w = np.zeros(12, dtype=np.float32)
        w[pcs] = 1.0
        w[root] += 0.5
        chords.append(fit_chord(w, bass=bass))
    return chords


def realize(tune: Tune, chords: Sequence[Chord]) -> list[GridNote]:
    """A plain reference accompaniment for labelled chords: bass + triad per chord span."""
    out = []
    b = 0
    while b < len(chords):
        c = chords[b]
        e = b + 1
        while e < len(chords) and chords[e] == c:
            e += 1
        if not c.is_silent:
            on, dur = b * TICKS_PER_BEAT, (e - b) * TICKS_PER_BEAT
            out.append(GridNote(36 + (c.bass - 36) % 12 + 12, on, dur, 70))
            out.extend(GridNote(60 + pc - (12 if pc > 7 else 0), on, dur, 60)
                       for pc in c.pitch_classes[:3])
        b = e
    return out


# --- continuation ----------------------------------------------------------------------


@dataclass
class MelodySequence:
    """One tune's encoded events: inputs (T+1, 7) with BOS first, targets (T, 4)."""

    events: np.ndarray
    targets: np.ndarray


def synthetic_levels(tune: Tune, rng: np.random.Generator) -> list[int]:
    """Dynamic levels for a corpus melody, which has none: documented as synthetic.

    A base level (3..6) drifting by one level at some bar lines, one level louder on the
    first beat of a bar. The model learns to carry the player's level on, with accents.
    """
    base = int(rng.integers(3, 7))
    levels = []
    bar_prev = -1
    for n in tune.melody:
        bar = n.onset // tune.meter.ticks_per_bar
        if bar != bar_prev and rng.random() < 0.15:
            base = int(np.clip(base + rng.choice((-1, 1)), 2, 6))
        bar_prev = bar
        accent = 1 if n.onset % tune.meter.ticks_per_bar == 0 else 0
        levels.append(min(enc.N_LEVELS - 1, base + accent))
    return levels


def melody_sequence(tune: Tune, rng: np.random.Generator) -> MelodySequence:
    levels = synthetic_levels(tune, rng)
    notes = [GridNote(n.pitch, n.onset, n.duration, enc.velocity_of(lv))
             for n, lv in zip(tune.melody, levels, strict=True)]
    events = enc.encode_melody(notes, tune.meter)
    return MelodySequence(events, events[1:, :4].copy())


def melody_shift(pitch_idx: np.ndarray, rng: np.random.Generator) -> int:
    """A transposition in -6..+5 semitones that keeps every pitch index in range."""
    lo, hi = int(pitch_idx.min()), int(pitch_idx.max())
    t = int(rng.integers(-6, 6))
    for cand in (t, t - 12, t + 12):
        if lo + cand >= 0 and hi + cand < enc.N_PITCHES:
            return cand
    return 0


def melody_batch(
    seqs: Sequence[MelodySequence], max_len: int, rng: np.random.Generator
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Padded (inputs [B,T,7], targets [B,T,4], mask [B,T]) with random keys and windows."""
    lengths = [min(len(s.targets), max_len) for s in seqs]
    T = max(lengths)
    x = np.zeros((len(seqs), T, enc.N_COLUMNS), dtype=np.int64)
    y = np.zeros((len(seqs), T, 4), dtype=np.int64)
    mask = np.zeros((len(seqs), T), dtype=bool)
    for i, (s, n) in enumerate(zip(seqs, lengths, strict=True)):
        start = int(rng.integers(0, len(s.targets) - n + 1)) if len(s.targets) > n else 0
        xi = s.events[start : start + n].copy()
        yi = s.targets[start : start + n].copy()
        real = xi[:, 0] != enc.BOS
        shift = melody_shift(yi[:, 0], rng)
        xi[real, 0] += shift
        yi[:, 0] += shift
        x[i, :n], y[i, :n], mask[i, :n] = xi, yi, True
    return x, y, mask


# --- accompaniment ---------------------------------------------------------------------

#: TRANSPOSE[c, t]: index of chord c (or START) moved up t semitones.
TRANSPOSE = np.concatenate([TRANSPOSED, np.full((1, 12), START, dtype=np.int64)])


@dataclass
class BeatSequence:
    """One tune's per-beat model inputs and chord labels (label of beat b at row b)."""

    ints: np.ndarray  # (B, C), previous chord column holds the true previous label
    floats: np.ndarray  # (B, 24 or 60: the encoding's float columns)
    labels: np.ndarray  # (B,)
    rate: float  # chord changes per beat of the labels
    source: str  # "chorale", "symbols" or "offline"
    onset_pcs: np.ndarray | None = None  # (B, 12) melody onsets per pitch class in beat b


def beat_sequence(tune: Tune, chords: Sequence[Chord], deadline_ticks: int,
                  source: str, encoding: str = ENCODING_NAME,
                  forecasts: np.ndarray | None = None) -> BeatSequence:
    """Simulate the online step loop over the tune, teacher-forcing the previous chord;
    ``forecasts``: the melody forecast at each beat (:mod:`training.forecasts`), for an
    encoding that reads it. ``onset_pcs`` counts the melody notes that begin in each
    beat by pitch class: the notes that beat's chord is scored on
    (:mod:`instrument.evaluation.generators`)."""
    encoder = BeatEncoder(deadline_ticks, encoding)
    notes = tune.melody
    n = beat_range(tune).stop
    ints = np.zeros((n, len(encoder.columns)), dtype=np.int64)
    floats = np.zeros((n, len(encoder.float_columns)), dtype=np.float32)
    labels = np.zeros(n, dtype=np.int64)
    for b, (tick, heard) in enumerate(heard_by_deadline(tune, deadline_ticks)):
        prev = chords[b - 1] if b > 0 else None
        ahead = None if forecasts is None else forecasts[b]
        ints[b], floats[b] = encoder.encode(
            BeatInput(tick, tune.meter, heard, prev, ahead), 0
        )
        labels[b] = CHORD_INDEX[chords[b] if b < len(chords) else NO_CHORD]
    span = [chords[b] for b in beat_range(tune) if b < len(chords)]
    onset_pcs = np.zeros((n, 12), dtype=np.float32)
    for note in notes:
        b = note.onset // TICKS_PER_BEAT
        if 0 <= b < n:
            onset_pcs[b, note.pitch % 12] += 1.0
    return BeatSequence(ints, floats, labels, chord_change_rate(span), source, onset_pcs)


def transpose_beats(ints: np.ndarray, floats: np.ndarray, labels: np.ndarray, t: int):
    """The same beats in a key ``t`` semitones up (features and labels)."""
    ints = ints.copy()
    ints[..., 0] = TRANSPOSE[ints[..., 0], t]
    pc = ints[..., 3]
    ints[..., 3] = np.where(pc < 12, (pc + t) % 12, pc)
    if ints.shape[-1] > 6:  # beat-features/2: the key so far (24 = none) moves too
        k = ints[..., 6]
        ints[..., 6] = np.where(k < NO_KEY, (k % 12 + t) % 12 + 12 * (k >= 12), k)
    floats = np.concatenate(  # blocks of 12 pitch classes (sounding, onsets, bars back)
        [np.roll(floats[..., i : i + 12], t, axis=-1) for i in range(0, floats.shape[-1], 12)],
        axis=-1,
    )
    return ints, floats, TRANSPOSE[labels, t]


COMMON = np.array([CHORD_INDEX[Chord(r, q, r)] for r in range(12) for q in ("maj", "min", "7")])


def beat_batch(
    seqs: Sequence[BeatSequence], max_len: int, rng: np.random.Generator,
    rate_dropout: float = 0.5, prev_noise: float = 0.2, with_onsets: bool = False,
    forecast_columns: slice | None = None, forecast_dropout: float = 0.0,
):
    """Padded (ints [B,T,C], floats [B,T,24], labels [B,T], mask [B,T]), and with
    ``with_onsets`` the beats' melody onsets per pitch class [B,T,12] (same key) too.

    Each sequence gets a random key, a random window, its harmonic-rhythm bucket with
    probability ``1 - rate_dropout`` (else "unset"), and ``prev_noise`` of its previous-
    chord inputs replaced by a plausible wrong chord (the label of another beat of the
    same tune, else a random common chord, never the target chord itself) while the
    target stays the true chord, so the model learns to correct its own mistakes when
    its output is fed back, without learning that chords are held more than they are.
    With ``forecast_columns``, ``forecast_dropout`` of the sequences have the melody
    forecast there zeroed: a box without the continuation model gives the model none.
    """
    lengths = [min(len(s.labels), max_len) for s in seqs]
    T = max(lengths)
    ints = np.zeros((len(seqs), T, seqs[0].ints.shape[1]), dtype=np.int64)
    floats = np.zeros((len(seqs), T, seqs[0].floats.shape[1]), dtype=np.float32)
    labels = np.zeros((len(seqs), T), dtype=np.int64)
    mask = np.zeros((len(seqs), T), dtype=bool)
    onsets = np.zeros((len(seqs), T, 12), dtype=np.float32)
    for i, (s, n) in enumerate(zip(seqs, lengths, strict=True)):
        start = int(rng.integers(0, len(s.labels) - n + 1)) if len(s.labels) > n else 0
        sl = slice(start, start + n)
        shift = int(rng.integers(12))
        a, f, lab = transpose_beats(s.ints[sl], s.floats[sl], s.labels[sl], shift)
        if with_onsets and s.onset_pcs is not None:
            onsets[i, :n] = np.roll(s.onset_pcs[sl], shift, axis=-1)
        noisy = np.flatnonzero((rng.random(n) < prev_noise) & (a[:, 0] != START))
        pool = lab[lab != 0]
        for j in noisy:
            cands = pool[IDENTITY[pool] != IDENTITY[lab[j]]]
            if not len(cands):
                cands = COMMON[IDENTITY[COMMON] != IDENTITY[lab[j]]]
            a[j, 0] = rng.choice(cands)
        a[:, 5] = 0 if rng.random() < rate_dropout else rhythm_bucket(s.rate)
        if forecast_columns is not None and rng.random() < forecast_dropout:
            f[:, forecast_columns] = 0.0
        ints[i, :n], floats[i, :n], labels[i, :n], mask[i, :n] = a, f, lab, True
    if with_onsets:
        return ints, floats, labels, mask, onsets
    return ints, floats, labels, mask
