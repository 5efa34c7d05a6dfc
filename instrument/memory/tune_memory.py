"""The tune memory of the accompaniment: what was heard where, and what fitted it.

A :class:`TuneMemory` is fed the same :class:`~instrument.models.accompaniment.BeatInput`
as the accompanists, one per beat, and keeps, per beat of the tune so far (a ring of
``capacity_beats``; older beats are overwritten, so a three-hour session costs what the
first minutes did):

- the melody's *shape*: the pitch sounding at each sixteenth of the beat (live, only
  onsets are known, so a note sounds until the next one, for at most two beats), the
  interval from the sixteenth before, and whether a note began there;
- its pitch-class evidence (:func:`~instrument.memory.hindsight.beat_evidence`);
- once its bar is over, the **hindsight chord**: the chord that fits the bar's melody
  best (:func:`~instrument.memory.hindsight.fit_chords`) in the key heard so far.

**Recognising a repeat.** For every lag ``d`` (in beats) the memory keeps a running
similarity of the music just heard with the music ``d`` beats earlier: after each beat,
``similarity[d] = persistence * similarity[d] + (1 - persistence) * match``, where
``match`` is the share of the beat's note onsets (its own and those ``d`` beats back,
sixteenth by sixteenth) that both have, with the same interval from the pitch before; a
beat with no onset on either side (a held note, a rest) counts half when both sound or
are silent alike. Held sixteenths are not counted, so an even run of eighths does not
look like every other one. Intervals make
a transposed passage match too; its chords are then transposed by the pitch difference,
and a match in another key counts ``transposed_factor`` as much. Beats at another place
in the bar count ``phase_factor``. The similarity rises only after several beats that
agree, so a single shared motif, a varied repeat (it dips, and recovers) and a different
tune (it never rises) are told apart by melody, not by counting bars.

**Recalling.** To plan beat ``b``, the ``candidates`` best lags ``d`` whose beat ``b - d``
already has a hindsight chord vote for it, weighted by their quality; the best quality is
the match quality. Each votes for the chord its remembered beat was labelled with in
hindsight, so a repeat is played with the chords that fitted the first pass, not with
the ones first played; with ``hold_votes`` (off by default) a remembered beat whose chord
is the one of the beat before it votes instead for the chord being played now (the
memory asks to hold, not to move to its own labelling); with the stop-18 model on the
dev split, turning it off raised first passes 0.621 -> 0.630 and repeats 0.823 -> 0.839
at 0.51 -> 0.55 changes a beat (at hold 0.5). The lag that led on the beat before gets
``lag_bonus`` (a repeat keeps its lag), so the memory changes chords where the remembered
music changed. :meth:`TuneMemory.blend`
mixes the vote into an accompanist's distribution with weight ``max_weight`` times the
quality's place between ``min_quality`` (none) and ``full_quality`` (all of
``max_weight``), so the memory leads on a clear repeat and the model (or the rule
arranger) everywhere else. The memory keeps learning as it plays: every bar,
first pass or repeat, is labelled again.

Call order per beat (engine thread, after the model's step result is taken):
``observe(beat)`` then ``blend(dist)``, and once the beat's chord is decided
:meth:`TuneMemory.settle`. Work per beat is bounded by the capacity (a few vectorised
passes over ``capacity_beats`` lags). The hindsight labelling of a bar that has just
ended is the one piece of work no decision waits for: the bar ends when the next bar's
first beat is planned, and that beat is decided before the bar is labelled, so its
recollection never reads the bar just ended (a lag of a bar or less). ``settle`` does the
labelling after the decision, off the deadline; whatever ``settle`` has not done, the
next ``observe`` does first, so the chords are the same whether or not it is called.
:meth:`TuneMemory.reset` starts a new tune.
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass

import numpy as np

from instrument.baselines.rules import estimate_key
from instrument.memory.hindsight import (
    DEFAULT_SETTINGS,
    HindsightSettings,
    beat_evidence,
    change_costs,
    fit_chords,
    key_chords,
)
from instrument.models.accompaniment import BeatInput, ChordDistribution
from instrument.models.chords import CHORD_INDEX, CHORD_VOCAB, IDENTITY, N_CHORDS, TRANSPOSED
from instrument.music import TICKS_PER_BEAT, GridNote, Meter

SAMPLES = 4  # shape samples per beat: every sixteenth
SAMPLE_TICKS = TICKS_PER_BEAT // SAMPLES
HOLD_TICKS = 2 * TICKS_PER_BEAT  # live, a note is taken to sound at most this long
SILENT = -1
NO_INTERVAL = 1000
NO_LABEL = -1
RECENT_NOTES = 64
_WORD = np.dtype(np.uint32)  # SAMPLES booleans of one beat, a byte each
assert _WORD.itemsize == SAMPLES


def _bytes_set(words: np.ndarray) -> np.ndarray:
    """How many bytes of each word are 1 (each byte 0 or 1): their sum, in the top byte."""
    return (words * np.uint32(0x01010101)) >> np.uint32(24)


@dataclass(frozen=True)
class MemorySettings:
    """How the memory recognises and recalls (defaults tuned on a held-out part of the
    training split; see training/README.md)."""

    capacity_beats: int = 1024
    persistence: float = 0.6
    min_quality: float = 0.4
    full_quality: float = 0.8
    max_weight: float = 0.95
    candidates: int = 4
    lag_bonus: float = 0.1
    hold_votes: bool = False
    phase_factor: float = 0.7
    transposed_factor: float = 0.9
    key_half_life_beats: float = 64.0
    hindsight: HindsightSettings = DEFAULT_SETTINGS


@dataclass(frozen=True)
class Recollection:
    """What the memory proposes for one beat: ``probs`` over the chord vocabulary, the
    match ``quality`` (0..1), and the best match's lag (beats) and transposition. A
    recollection at or below ``min_quality`` weighs nothing: it holds no ``probs`` (an
    empty array) and the lag that leads, untransposed."""

    probs: np.ndarray
    quality: float
    lag: int
    transposition: int

    @property
    def chord(self):
        """The chord it votes for most; None when it weighs nothing (no votes)."""
        return CHORD_VOCAB[int(np.argmax(self.probs))] if len(self.probs) else None


class TuneMemory:
    """See the module docstring."""

    def __init__(self, settings: MemorySettings | None = None) -> None:
        self.settings = settings or MemorySettings()
        n = self.settings.capacity_beats
        self._pitch = np.full((n, SAMPLES), SILENT, dtype=np.int16)
        self._interval = np.full((n, SAMPLES), NO_INTERVAL, dtype=np.int16)
        self._onset = np.zeros((n, SAMPLES), dtype=bool)
        self._quiet = np.ones((n, SAMPLES), dtype=bool)  # no interval at the sample
        # Each beat's four samples of those two as one word (one byte a sample), so the
        # similarity compares a beat with every other in a few word-wide operations.
        self._onset_word = self._onset.view(_WORD).reshape(n)
        self._quiet_word = self._quiet.view(_WORD).reshape(n)
        self._evidence = np.zeros((n, 12))
        self._phase = np.zeros(n, dtype=np.int16)
        self._label = np.full(n, NO_LABEL, dtype=np.int16)
        self._similarity = np.zeros(n)  # by lag in beats; index 0 unused
        self._lags = np.arange(n)
        # (-k) % n for k < 2n: the ring's slots going back from any slot (see _back).
        self._backwards = (-np.arange(2 * n)) % n
        self._key_decay = 0.5 ** (1.0 / self.settings.key_half_life_beats)
        self._recent: deque[GridNote] = deque(maxlen=RECENT_NOTES)
        self.reset()

    # -- state --------------------------------------------------------------------------

    def reset(self) -> None:
        """Forget the tune: a new one starts (a long silence, a program change)."""
        self._pitch.fill(SILENT)
        self._interval.fill(NO_INTERVAL)
        self._onset.fill(False)
        self._quiet.fill(True)
        self._evidence.fill(0.0)
        self._label.fill(NO_LABEL)
        self._similarity.fill(0.0)
        self._recent.clear()
        self._histogram = np.zeros(12)
        self._count = 0  # beats stored so far (the next beat's index)
        self._pending: int | None = None  # tick of the beat being planned, not yet stored
        self._meter = Meter(4, 4)
        self._bar_start: int | None = None  # index of the first stored beat of this bar
        # A bar stored but not labelled yet (first and last index, beats per bar): settle.
        self._unlabelled: tuple[int, int, int] | None = None
        self._last_label = None
        self.recollection: Recollection | None = None

    @property
    def beats(self) -> int:
        """Beats heard in this tune (those still in the ring: at most the capacity)."""
        return min(self._count, self.settings.capacity_beats)

    @property
    def labels(self) -> list:
        """Hindsight chords of the beats in the ring, oldest first (None: not labelled)."""
        n = self.settings.capacity_beats
        idx = [(self._count - self.beats + i) % n for i in range(self.beats)]
        return [None if self._label[i] == NO_LABEL else CHORD_VOCAB[self._label[i]]
                for i in idx]

    # -- feeding ------------------------------------------------------------------------

    def observe(self, beat: BeatInput) -> None:
        """Take the melody heard up to this beat's deadline; store the beat before it.

        Beats must come one by one in order; a jump (the clock restarted) breaks the
        running similarity but keeps what was learned.
        """
        self.settle()
        self._recent.extend(beat.notes)
        if self._pending is not None:
            self._store(self._pending)
            if beat.beat_tick != self._pending + TICKS_PER_BEAT:
                self._similarity.fill(0.0)
                self._bar_start = None
        self._pending = beat.beat_tick
        self._meter = beat.meter
        self.recollection = self._recall(beat.beat_tick, beat.previous_chord)

    def _sample(self, tick: int) -> tuple[int, bool]:
        """(pitch sounding at ``tick`` or SILENT, whether a note began in the sixteenth
        ending there)."""
        pitch, began = SILENT, False
        for n in reversed(self._recent):
            if n.onset <= tick:
                if tick - n.onset < HOLD_TICKS:
                    pitch = n.pitch
                    began = tick - n.onset < SAMPLE_TICKS
                break
        return pitch, began

    def _store(self, tick: int) -> None:
        s = self.settings
        n = s.capacity_beats
        g = self._count
        slot = g % n
        prev_pitch = self._pitch[(g - 1) % n, -1] if g > 0 else SILENT
        for k in range(SAMPLES):
            p, began = self._sample(tick + k * SAMPLE_TICKS)
            self._pitch[slot, k] = p
            self._onset[slot, k] = began
            both = p != SILENT and prev_pitch != SILENT
            self._interval[slot, k] = p - prev_pitch if both else NO_INTERVAL
            self._quiet[slot, k] = not both
            prev_pitch = p
        # Durations are not known live: each note sounds until the next, at most HOLD_TICKS.
        notes = []
        for m in reversed(self._recent):  # in the order heard: the newest first
            if m.onset < tick - HOLD_TICKS:
                break
            notes.append(GridNote(m.pitch, m.onset, HOLD_TICKS))
        notes.reverse()
        ev = beat_evidence(notes, tick // TICKS_PER_BEAT, 1, s.hindsight)[0]
        self._evidence[slot] = ev
        self._histogram = self._histogram * self._key_decay + ev
        phase = (tick // TICKS_PER_BEAT) % self._meter.beats_per_bar
        self._phase[slot] = phase
        self._label[slot] = NO_LABEL
        self._count = g + 1
        if phase == 0 or self._bar_start is None:
            self._bar_start = g
        self._update_similarity(g)
        if phase == self._meter.beats_per_bar - 1:
            self._unlabelled = (self._bar_start, g, self._meter.beats_per_bar)
            self._bar_start = None

    def settle(self) -> None:
        """Label the bar that ended at the last :meth:`observe` in hindsight, if any (the
        work that can wait until the beat's chord is decided: see the module docstring)."""
        if self._unlabelled is not None:
            self._label_bar(*self._unlabelled)
            self._unlabelled = None

    def _back(self, b: int, lags: int) -> slice | np.ndarray:
        """The ring's slots of beats ``b - 1``, ``b - 2``, ... ``b - lags`` (``lags`` <
        capacity), in that order: a reversed slice while the ring has not wrapped."""
        if b - lags >= 0 and b <= self.settings.capacity_beats:
            return slice(b - 1, b - lags - 1 if b - lags > 0 else None, -1)
        n = self.settings.capacity_beats
        start = n - b % n + 1
        return self._backwards[start : start + lags]

    def _update_similarity(self, g: int) -> None:
        n = self.settings.capacity_beats
        m = min(g, n - 1)
        if m == 0:
            return
        slot = g % n
        # Matched against the slots of every lag (while the ring is full, all of them).
        past = slice(0, min(g, n))
        onsets, quiet = self._onset_word[past], self._quiet_word[past]
        on = self._onset_word[slot]
        interval = self._interval[past]
        same = (interval == self._interval[slot]).view(_WORD).reshape(len(onsets))
        events = _bytes_set(onsets | on)
        agree = _bytes_set(onsets & on & same)
        quiet_alike = quiet == self._quiet_word[slot]
        by_slot = np.where(events > 0, agree / np.maximum(events, 1), 0.5 * quiet_alike)
        match = by_slot[self._back(g, m)]
        rho = self.settings.persistence
        sim = self._similarity[1 : m + 1]
        sim[:] = rho * sim + (1.0 - rho) * match

    def _label_bar(self, first: int, last: int, beats_per_bar: int) -> None:
        n = self.settings.capacity_beats
        slots = [(g % n) for g in range(first, last + 1)]
        if self._histogram.sum() <= 0:
            return
        tonic, minor = estimate_key(self._histogram)
        h = self.settings.hindsight
        key = key_chords(tonic, minor, h.sevenths)
        costs = change_costs([int(self._phase[s]) for s in slots], beats_per_bar, h)
        chords = fit_chords(self._evidence[slots], key, costs, self._last_label, h)
        for s, c in zip(slots, chords, strict=True):
            self._label[s] = CHORD_INDEX[c]
        self._last_label = chords[-1] if chords else self._last_label

    # -- recalling ----------------------------------------------------------------------

    def _recall(self, beat_tick: int, previous) -> Recollection | None:
        s = self.settings
        n = s.capacity_beats
        b = self._count  # index the planned beat will have
        m = min(b, n - 1)
        if m == 0:
            return None
        lags = self._lags[1 : m + 1]
        back = self._back(b, m)
        labelled = self._label[back] != NO_LABEL
        if not labelled.any():
            return None
        phase = (beat_tick // TICKS_PER_BEAT) % self._meter.beats_per_bar
        quality = self._similarity[1 : m + 1] * np.where(self._phase[back] == phase, 1.0,
                                                         s.phase_factor)
        if self.recollection is not None and s.lag_bonus and \
                1 <= self.recollection.lag <= m:
            quality[self.recollection.lag - 1] += s.lag_bonus
        quality = np.where(labelled, quality, 0.0)
        k = min(s.candidates, len(lags))
        top = np.argpartition(-quality, k - 1)[:k]
        top = top[quality[top] > 0.0]
        if not len(top):
            return None
        leader = top[np.argmax(quality[top])]
        if quality[leader] <= s.min_quality:
            # Too faint to weigh (a transposition only lowers it): no vote is counted,
            # only the lag that leads, for the next beat's lag bonus.
            return Recollection(np.zeros(0), float(quality[leader]), int(lags[leader]), 0)
        shifts = self._transpositions(b, lags[top])
        q = quality[top] * np.where(shifts == 0, 1.0, s.transposed_factor)
        remembered = (b - lags[top]) % n
        chords = TRANSPOSED[self._label[remembered], shifts]
        if s.hold_votes and previous is not None and not previous.is_silent:
            before = self._label[(remembered - 1) % n]
            same = (before != NO_LABEL) & (IDENTITY[np.maximum(before, 0)] ==
                                           IDENTITY[self._label[remembered]])
            chords = np.where(same, CHORD_INDEX[previous], chords)
        probs = np.zeros(N_CHORDS)
        np.add.at(probs, chords, q ** 4)
        best = int(np.argmax(q))
        return Recollection(probs / probs.sum(), float(q[best]), int(lags[top][best]),
                            int(shifts[best]))

    def _transpositions(self, b: int, lags: np.ndarray) -> np.ndarray:
        """Per lag, the most common pitch difference (semitones, mod 12) between the last
        two beats and the same two beats ``lag`` earlier (0 when nothing sounded in both)."""
        n = self.settings.capacity_beats
        now = self._pitch[[(b - 2) % n, (b - 1) % n]].reshape(-1).astype(np.int64)
        then_slots = (np.array([b - 2, b - 1])[None, :] - lags[:, None]) % n
        then = self._pitch[then_slots].reshape(len(lags), -1).astype(np.int64)
        both = (now[None, :] != SILENT) & (then != SILENT)
        diffs = np.where(both, (now[None, :] - then) % 12, -1)
        votes = ((diffs[:, :, None] == diffs[:, None, :]) & both[:, None, :]).sum(axis=2)
        votes = np.where(both, votes, -1)
        pick = np.argmax(votes, axis=1)
        out = diffs[np.arange(len(lags)), pick]
        return np.where(out < 0, 0, out)

    def expected_onsets(self) -> int | None:
        """How many notes the player began in the remembered beat the recollection
        leads with (what they will likely play in the beat being planned: a repeat's
        rhythm), or None when there is no recollection worth its weight."""
        r = self.recollection
        if r is None or self.weight() <= 0.0:
            return None
        n = self.settings.capacity_beats
        return int(self._onset[(self._count - r.lag) % n].sum())

    def weight(self) -> float:
        """The blend weight of the current recollection (0 when there is none)."""
        r = self.recollection
        s = self.settings
        if r is None or r.quality <= s.min_quality:
            return 0.0
        ramp = (r.quality - s.min_quality) / max(s.full_quality - s.min_quality, 1e-9)
        return s.max_weight * min(1.0, ramp)

    def recall(self) -> float:
        """How clearly the music now is music heard before, 0..1: the current
        recollection's blend weight as a share of ``max_weight`` (0 with none)."""
        return self.weight() / self.settings.max_weight if self.settings.max_weight > 0 else 0.0

    def blend(self, dist: ChordDistribution) -> ChordDistribution:
        """``dist`` mixed with the recollection for its beat (see the module doc)."""
        w = self.weight()
        if w <= 0.0 or self.recollection is None:
            return dist
        p = (1.0 - w) * np.exp(dist.logp) + w * self.recollection.probs
        return ChordDistribution(np.log(np.maximum(p, 1e-30)), dist.beat_tick, dist.previous)
