"""Variable-order Markov continuation (Continuator-style), in pure numpy and dicts.

Two variable-order models, orders 0 to 4, blended by Witten-Bell interpolation so every
continuation keeps a non-zero probability:

- pitch, as the interval from the previous note (so what is learned in one key is known
  in all of them), plus a first-note pitch table;
- rhythm, as (rest, duration) class pairs from :mod:`instrument.models.melody`, with the
  first note of a melody in its own start context.

The dynamic level repeats the previous one, with some spread.

It starts from an optional prior (counts learned from the training split and shipped as
an ``.npz`` of integer arrays, no pickle) and learns online from what the player plays:
:meth:`MarkovContinuator.learn` adds a phrase's transitions, weighted. Stepping never
learns, so the instrument does not learn from its own output.

Real-time rules: ``step`` costs tens of microseconds and ``learn`` about the same per
note; both run on the engine thread, never in the audio or MIDI callback.
"""

from __future__ import annotations

import os
from collections.abc import Sequence

import numpy as np

from instrument.models import melody as enc
from instrument.models.continuation import Continuator, NextNoteDistribution
from instrument.music import GridNote, Meter

MAX_ORDER = 4
MAX_INTERVAL = 24
N_INTERVALS = 2 * MAX_INTERVAL + 1
N_RHYTHMS = len(enc.REST_TICKS) * len(enc.DURATION_TICKS)
RHYTHM_START = N_RHYTHMS  # context-only symbol before a melody's first note
PRIOR_FORMAT = 1
#: One note heard from the player counts as much as this many notes of the prior.
ONLINE_WEIGHT = 3.0


class VariableOrderMarkov:
    """Continuation counts for contexts of order 0..``max_order``, Witten-Bell blended."""

    def __init__(self, n_symbols: int, max_order: int = MAX_ORDER) -> None:
        self.n_symbols = n_symbols
        self.max_order = max_order
        self.tables: list[dict[tuple[int, ...], dict[int, float]]] = [
            {} for _ in range(max_order + 1)
        ]

    def add(self, context: Sequence[int], symbol: int, weight: float = 1.0) -> None:
        """Count ``symbol`` after every suffix of ``context`` up to ``max_order``."""
        ctx = tuple(context[-self.max_order :]) if self.max_order else ()
        for k in range(min(len(ctx), self.max_order) + 1):
            key = ctx[len(ctx) - k :]
            row = self.tables[k].setdefault(key, {})
            row[symbol] = row.get(symbol, 0.0) + weight

    def probabilities(
        self, context: Sequence[int], overlay: VariableOrderMarkov | None = None,
        overlay_weight: float = 1.0,
    ) -> np.ndarray:
        """P(next symbol | context): uniform, then each longer seen context blended in.

        ``overlay`` (same shape) adds its counts times ``overlay_weight``: the online
        counts on top of the prior.
        """
        p = np.full(self.n_symbols, 1.0 / self.n_symbols)
        ctx = tuple(context[-self.max_order :]) if self.max_order else ()
        for k in range(min(len(ctx), self.max_order) + 1):
            key = ctx[len(ctx) - k :]
            row = self.tables[k].get(key)
            extra = overlay.tables[k].get(key) if overlay is not None and overlay_weight else None
            if extra:
                merged = dict(row) if row else {}
                for s, c in extra.items():
                    merged[s] = merged.get(s, 0.0) + overlay_weight * c
                row = merged
            if not row:
                break  # a longer context containing this one is unseen too
            syms = np.fromiter(row.keys(), dtype=np.int64, count=len(row))
            counts = np.fromiter(row.values(), dtype=np.float64, count=len(row))
            n = counts.sum()
            if n <= 0:
                break
            lam = n / (n + len(row))
            p *= 1.0 - lam
            np.add.at(p, syms, lam * counts / n)
        return p

    def to_arrays(self, prefix: str, min_count: float = 1.0) -> dict[str, np.ndarray]:
        """Flat integer arrays per order (contexts, symbols, counts) for an .npz."""
        out = {}
        for k, table in enumerate(self.tables):
            rows = [
                (*ctx, s, c)
                for ctx, row in table.items()
                for s, c in row.items()
                if c >= min_count or k < 2
            ]
            arr = np.array(rows, dtype=np.int64).reshape(-1, k + 2)
            out[f"{prefix}_order{k}"] = arr
        return out

    def load_arrays(self, arrays: dict[str, np.ndarray], prefix: str) -> None:
        for k in range(self.max_order + 1):
            arr = arrays.get(f"{prefix}_order{k}")
            if arr is None:
                continue
            table = self.tables[k]
            for line in arr.tolist():
                ctx, s, c = tuple(line[:k]), line[k], line[k + 1]
                row = table.setdefault(ctx, {})
                row[s] = row.get(s, 0.0) + float(c)


def interval_symbol(interval: int) -> int:
    return int(np.clip(interval, -MAX_INTERVAL, MAX_INTERVAL)) + MAX_INTERVAL


def rhythm_symbol(rest_ticks: int, duration_ticks: int) -> int:
    return enc.rest_index(rest_ticks) * len(enc.DURATION_TICKS) + enc.duration_index(duration_ticks)


class MarkovContinuator(Continuator):
    """The Markov baseline behind the :class:`Continuator` interface.

    Counts live in two layers: the prior (from :meth:`from_prior`, or learned with
    ``learn(..., into_prior=True)``) and the online layer (what the player played,
    weighted by ``online_weight`` against the prior, cleared by :meth:`forget_online`).
    """

    def __init__(self, max_order: int = MAX_ORDER, online_weight: float = ONLINE_WEIGHT) -> None:
        super().__init__()
        self.max_order = max_order
        self.online_weight = online_weight
        self.pitch = VariableOrderMarkov(N_INTERVALS, max_order)
        self.rhythm = VariableOrderMarkov(N_RHYTHMS, max_order)
        self.first_pitch = np.ones(enc.N_PITCHES)  # add-one counts of first-note pitches
        self.forget_online()
        self._pitches: list[int] = []
        self._intervals: list[int] = []
        self._rhythms: list[int] = [RHYTHM_START]
        self._level = 5

    def forget_online(self) -> None:
        """Drop everything learned online; keep the prior."""
        self.online_pitch = VariableOrderMarkov(N_INTERVALS, self.max_order)
        self.online_rhythm = VariableOrderMarkov(N_RHYTHMS, self.max_order)
        self.online_first_pitch = np.zeros(enc.N_PITCHES)

    # -- learning -------------------------------------------------------------------
    def _layers(self, into_prior: bool):
        if into_prior:
            return self.pitch, self.rhythm, self.first_pitch
        return self.online_pitch, self.online_rhythm, self.online_first_pitch

    def learn(self, notes: Sequence[GridNote], meter: Meter, into_prior: bool = False) -> None:
        """Learn a phrase (notes in onset order), its first note as a melody start."""
        pitch_m, rhythm_m, first = self._layers(into_prior)
        intervals: list[int] = []
        rhythms = [RHYTHM_START]
        prev_end = None
        prev_pitch = None
        for n in notes:
            rest = enc.first_rest(n.onset, meter) if prev_end is None else n.onset - prev_end
            r = rhythm_symbol(rest, n.duration)
            rhythm_m.add(rhythms, r)
            rhythms.append(r)
            pitch = enc.fold_pitch(n.pitch)
            if prev_pitch is None:
                first[pitch - enc.PITCH_LOW] += 1.0
            else:
                iv = interval_symbol(pitch - prev_pitch)
                pitch_m.add(intervals, iv)
                intervals.append(iv)
            prev_pitch, prev_end = pitch, n.onset + n.duration

    def learn_next(self, note: GridNote, meter: Meter) -> None:
        """Learn online that ``note`` follows the notes stepped so far (call before stepping)."""
        rest = (
            enc.first_rest(note.onset, meter)
            if self._prev_end is None
            else note.onset - self._prev_end
        )
        self.online_rhythm.add(self._rhythms, rhythm_symbol(rest, note.duration))
        pitch = enc.fold_pitch(note.pitch)
        if not self._pitches:
            self.online_first_pitch[pitch - enc.PITCH_LOW] += 1.0
        else:
            self.online_pitch.add(self._intervals, interval_symbol(pitch - self._pitches[-1]))

    # -- streaming ------------------------------------------------------------------
    def reset(self, origin_tick: int = 0) -> None:
        super().reset(origin_tick)
        self._pitches, self._intervals, self._rhythms = [], [], [RHYTHM_START]

    def step(self, note: GridNote | None, meter: Meter) -> NextNoteDistribution:
        if note is None:
            self.reset(self._origin)
        else:
            rest = self._advance(note, meter)
            pitch = enc.fold_pitch(note.pitch)
            if self._pitches:
                self._intervals.append(interval_symbol(pitch - self._pitches[-1]))
                del self._intervals[: -self.max_order or len(self._intervals)]
            self._pitches = [pitch]
            self._rhythms.append(rhythm_symbol(rest, note.duration))
            del self._rhythms[: -self.max_order or len(self._rhythms)]
            self._level = enc.level_of(note.velocity)
        return self._distribution()

    def _distribution(self) -> NextNoteDistribution:
        w = self.online_weight
        if self._pitches:
            p_int = self.pitch.probabilities(self._intervals, self.online_pitch, w)
            offsets = np.arange(enc.N_PITCHES) + enc.PITCH_LOW - self._pitches[-1]
            inside = np.abs(offsets) <= MAX_INTERVAL
            pitch = np.full(enc.N_PITCHES, 1e-9)
            pitch[inside] += p_int[offsets[inside] + MAX_INTERVAL]
        else:
            pitch = self.first_pitch + w * self.online_first_pitch
        pitch = pitch / pitch.sum()
        joint = self.rhythm.probabilities(self._rhythms, self.online_rhythm, w).reshape(
            len(enc.REST_TICKS), len(enc.DURATION_TICKS)
        )
        levels = np.full(enc.N_LEVELS, 0.02)
        levels[self._level] += 0.7
        levels[max(0, self._level - 1)] += 0.1
        levels[min(enc.N_LEVELS - 1, self._level + 1)] += 0.1
        return NextNoteDistribution(
            pitch=np.log(pitch),
            rest=np.log(joint.sum(axis=1) + 1e-12),
            duration=np.log(joint.sum(axis=0) + 1e-12),
            level=np.log(levels / levels.sum()),
            after_tick=self.after_tick,
        )

    # -- prior files ----------------------------------------------------------------
    def save_prior(self, path: os.PathLike | str, min_count: float = 1.0) -> None:
        """Write the prior counts as integer arrays in an .npz (no pickle)."""
        arrays = {
            "format": np.array([PRIOR_FORMAT]),
            "max_order": np.array([self.max_order]),
            "rhythm_tables": np.array([len(enc.REST_TICKS), len(enc.DURATION_TICKS)]),
            "first_pitch": np.round(self.first_pitch).astype(np.int64),
        }
        arrays.update(self.pitch.to_arrays("pitch", min_count))
        arrays.update(self.rhythm.to_arrays("rhythm", min_count))
        np.savez_compressed(path, **arrays)

    @classmethod
    def from_prior(
        cls, path: os.PathLike | str, online_weight: float = ONLINE_WEIGHT
    ) -> MarkovContinuator:
        """A continuator starting from a prior written by :meth:`save_prior`."""
        with np.load(path, allow_pickle=False) as data:
            arrays = {k: data[k] for k in data.files}
        if int(arrays["format"][0]) != PRIOR_FORMAT:
            raise ValueError(f"{path}: Markov prior format {int(arrays['format'][0])} unsupported")
        if tuple(arrays["rhythm_tables"]) != (len(enc.REST_TICKS), len(enc.DURATION_TICKS)):
            raise ValueError(f"{path}: prior was built with another rhythm vocabulary")
        m = cls(int(arrays["max_order"][0]), online_weight)
        m.pitch.load_arrays(arrays, "pitch")
        m.rhythm.load_arrays(arrays, "rhythm")
        m.first_pitch = arrays["first_pitch"].astype(np.float64)
        return m
