"""Teacher-forced evaluation of continuation and accompaniment, models and baselines.

Used by ``instrument evaluate DIR`` and by the training scripts (validation metrics in
the manifests come from these functions, run on the exported ONNX files through the
same runtime classes the engine uses).

Continuation, per melody note: the generator is stepped with the true notes so far and
scored on the true next note. ``top1``: share of notes whose pitch is the most likely
one; ``nll_bits``: mean negative log2-probability of the pitch; ``rhythm_nll_bits``: the
same for the rest and duration classes. A :class:`MarkovContinuator` also learns each
note online after it is scored (its online counts are cleared between tunes).

Accompaniment, per beat: the accompanist runs online over the melody, stepped at each
beat's deadline (``beat - deadline_ticks``) with the melody notes that began before it
and with its own previous chord fed back; chords are drawn greedily (temperature 0)
unless a seed and temperature are given. ``note_in_chord``: share of melody notes whose
pitch class sounds in the accompaniment at their onset, counting only notes during which
the accompaniment sounds (``coverage`` is the share of notes counted). ``change_rate``:
share of beat boundaries, from the first melody beat to the last, where the chord
(root and quality) changes. For a reference accompaniment (a second MIDI track) chords
are labelled per beat from the pitches sounding at the beat, and note-in-chord uses the
reference pitches sounding at each melody onset.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np

from instrument.models import melody as enc
from instrument.models.accompaniment import Accompanist, BeatInput, ChordSamplingParams
from instrument.models.chords import NO_CHORD, Chord, change_rate, fit_chord
from instrument.models.continuation import Continuator
from instrument.models.tune import Tune
from instrument.music import TICKS_PER_BEAT

LN2 = math.log(2.0)


def continuation_metrics(continuator: Continuator, tunes: Sequence[Tune]) -> dict[str, float]:
    """Teacher-forced next-note metrics over ``tunes`` (see module doc)."""
    from instrument.baselines.markov import MarkovContinuator

    online = isinstance(continuator, MarkovContinuator)
    n = correct = 0
    nll = rhythm_nll = 0.0
    for tune in tunes:
        if online:
            continuator.forget_online()
        continuator.reset()
        dist = continuator.step(None, tune.meter)
        prev_end = None
        for note in tune.melody:
            target = enc.pitch_index(note.pitch)
            nll -= dist.pitch[target]
            correct += int(np.argmax(dist.pitch) == target)
            rest = enc.first_rest(note.onset, tune.meter) if prev_end is None else (
                note.onset - prev_end
            )
            rhythm_nll -= dist.rest[enc.rest_index(rest)]
            rhythm_nll -= dist.duration[enc.duration_index(note.duration)]
            n += 1
            if online:
                continuator.learn_next(note, tune.meter)
            dist = continuator.step(note, tune.meter)
            prev_end = note.onset + note.duration
    if n == 0:
        return {"top1": float("nan"), "nll_bits": float("nan"), "notes": 0}
    return {
        "top1": correct / n,
        "nll_bits": nll / n / LN2,
        "rhythm_nll_bits": rhythm_nll / n / LN2,
        "notes": n,
    }


def beat_range(tune: Tune) -> range:
    """Beats from the one holding the first melody onset to the one holding the last."""
    if not tune.melody:
        return range(0)
    first = tune.melody[0].onset // TICKS_PER_BEAT
    last = tune.melody[-1].onset // TICKS_PER_BEAT
    return range(first, last + 1)


def run_accompanist(
    accompanist: Accompanist,
    tune: Tune,
    deadline_ticks: int,
    params: ChordSamplingParams | None = None,
    rng: np.random.Generator | None = None,
) -> list[Chord]:
    """Chords for beats 0..last melody beat, planned online (one step per beat)."""
    params = params or ChordSamplingParams(temperature=0.0)
    rng = rng or np.random.default_rng(0)
    accompanist.reset()
    notes = tune.melody
    i = 0
    prev: Chord | None = None
    chords = []
    for b in range(beat_range(tune).stop):
        beat_tick = b * TICKS_PER_BEAT
        deadline = beat_tick - deadline_ticks
        start = i
        while i < len(notes) and notes[i].onset < deadline:
            i += 1
        dist = accompanist.step(BeatInput(beat_tick, tune.meter, tuple(notes[start:i]), prev))
        prev = accompanist.sample(dist, params, rng)
        chords.append(prev)
    return chords


@dataclass
class _Tally:
    hits: int = 0
    counted: int = 0
    notes: int = 0
    changes: int = 0
    boundaries: int = 0
    identities: set = field(default_factory=set)
    per_tune_distinct: list[int] = field(default_factory=list)

    def add_chords(self, tune: Tune, chords: Sequence[Chord]) -> None:
        beats = beat_range(tune)
        span = [chords[b] if b < len(chords) else NO_CHORD for b in beats]
        if len(span) > 1:
            self.changes += round(change_rate(span) * (len(span) - 1))
            self.boundaries += len(span) - 1
        ids = {c.identity for c in span if not c.is_silent}
        self.identities |= ids
        self.per_tune_distinct.append(len(ids))

    def result(self) -> dict[str, float]:
        return {
            "note_in_chord": self.hits / self.counted if self.counted else float("nan"),
            "change_rate": self.changes / self.boundaries if self.boundaries else float("nan"),
            "coverage": self.counted / self.notes if self.notes else float("nan"),
            "distinct_chords": len(self.identities),
            "distinct_chords_per_tune": float(np.mean(self.per_tune_distinct))
            if self.per_tune_distinct
            else float("nan"),
        }


def _score_chords(tally: _Tally, tune: Tune, chords: Sequence[Chord]) -> None:
    for note in tune.melody:
        tally.notes += 1
        b = note.onset // TICKS_PER_BEAT
        chord = chords[b] if 0 <= b < len(chords) else NO_CHORD
        if chord.is_silent:
            continue
        tally.counted += 1
        tally.hits += int(note.pitch % 12 in chord.pitch_classes)
    tally.add_chords(tune, chords)


def accompaniment_metrics(
    accompanist: Accompanist,
    tunes: Sequence[Tune],
    deadline_ticks: int,
    params: ChordSamplingParams | None = None,
    seed: int = 0,
) -> dict[str, float]:
    """Online accompaniment metrics over ``tunes`` (micro-averaged; see module doc)."""
    tally = _Tally()
    rng = np.random.default_rng(seed)
    for tune in tunes:
        chords = run_accompanist(accompanist, tune, deadline_ticks, params, rng)
        _score_chords(tally, tune, chords)
    return tally.result()


def _sounding(notes: Sequence, tick: int) -> list[int]:
    return [n.pitch for n in notes if n.onset <= tick < n.onset + n.duration]


def reference_chords(tune: Tune) -> list[Chord]:
    """Per-beat chords labelled from the reference accompaniment (and melody) at each beat."""
    chords = []
    for b in range(beat_range(tune).stop):
        tick = b * TICKS_PER_BEAT
        acc = _sounding(tune.accompaniment, tick)
        if not acc:
            chords.append(NO_CHORD)
            continue
        weights = np.zeros(12, dtype=np.float32)
        for p in acc + _sounding(tune.melody, tick):
            weights[p % 12] += 1.0
        chords.append(fit_chord(weights, bass=min(acc)))
    return chords


def reference_metrics(tunes: Sequence[Tune]) -> dict[str, float] | None:
    """Metrics of the reference accompaniments, or None when no tune has one."""
    with_ref = [t for t in tunes if t.accompaniment]
    if not with_ref:
        return None
    tally = _Tally()
    for tune in with_ref:
        for note in tune.melody:
            tally.notes += 1
            pcs = {p % 12 for p in _sounding(tune.accompaniment, note.onset)}
            if not pcs:
                continue
            tally.counted += 1
            tally.hits += int(note.pitch % 12 in pcs)
        tally.add_chords(tune, reference_chords(tune))
    out = tally.result()
    out["files"] = len(with_ref)
    return out
