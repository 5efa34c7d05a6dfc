"""Competing beat hypotheses, each a Kalman filter over (beat time, period), scored.

A hypothesis says where the beats are: beat ``R`` (an integer of its own numbering) at
time ``T``, ``P`` seconds per beat, with a 2x2 covariance. Each onset is placed on the
lattice point of the hypothesis (a tick of :mod:`instrument.follow.prior`) that best
explains it, then corrects phase and period as a Kalman update (Cemgil's tempo tracker):
the covariance grows with the beats elapsed (rubato moves the phase, drift the period)
and shrinks with each onset. An onset far off the grid is down-weighted (a Huber
weight), and the period moves at most ``max_tempo_step`` per beat, so one early or late
note does not yank the beat.

Each hypothesis is also scored, as a log-likelihood with forgetting: the timing of the
onsets, the lattice points passed with and without an onset (per style of the prior),
the accents on beats against off them, and per bar phase (which beats are downbeats)
the downbeats with and without onsets and their accents. Hypotheses that come to
predict the same beats are merged; those far behind the leader are dropped.

The bank is a set of numpy arrays, one entry per hypothesis, updated together: the cost
of an onset is a fixed number of array operations over at most ``bank_size`` entries.
"""

from __future__ import annotations

import math

import numpy as np

from instrument.beat import MAX_BPM, MIN_BPM
from instrument.follow.prior import PriorTables, rhythm_prior
from instrument.follow.settings import FollowSettings
from instrument.music import TICKS_PER_BEAT, Meter

TPB = TICKS_PER_BEAT
MIN_PERIOD = 60.0 / MAX_BPM
MAX_PERIOD = 60.0 / MIN_BPM
_FIELDS = ("ids", "T", "R", "P", "c11", "c12", "c22", "last", "common", "fit", "count")


class HypothesisBank:
    """The hypotheses (see the module docstring); fields are arrays, one entry each."""

    def __init__(self, meter: Meter, settings: FollowSettings) -> None:
        self.meter = meter
        self.settings = settings
        self.tables = PriorTables(rhythm_prior(meter))
        self.bar_beats = meter.beats_per_bar
        offsets = self.tables.offsets
        # Where an onset may sit, in ticks from the beat below it: this beat and the next.
        self._cand = np.concatenate([offsets, offsets + TPB, [2 * TPB]]).astype(np.int64)
        strength = np.full(TPB, -1.0)
        strength[0] = 1.0
        strength[[4, 8] if meter.compound else [6]] = 0.0
        self._strength = strength
        self._phases = np.arange(self.bar_beats, dtype=np.int64)
        self._next_id = 0
        self.clear()

    # -- entries --------------------------------------------------------------------

    def clear(self) -> None:
        self.ids = np.zeros(0, dtype=np.int64)
        self.T = np.zeros(0)
        self.R = np.zeros(0)
        self.P = np.zeros(0)
        self.c11 = np.zeros(0)
        self.c12 = np.zeros(0)
        self.c22 = np.zeros(0)
        self.last = np.zeros(0, dtype=np.int64)
        self.common = np.zeros(0)
        self.fit = np.zeros(0)
        self.count = np.zeros(0, dtype=np.int64)
        self.style = np.zeros((0, self.tables.styles))
        self.bar = np.zeros((0, self.bar_beats))

    def __len__(self) -> int:
        return len(self.P)

    def index_of(self, ident: int) -> int | None:
        found = np.flatnonzero(self.ids == ident)
        return int(found[0]) if found.size else None

    def keep(self, mask: np.ndarray) -> None:
        """Keep only the hypotheses where ``mask`` is true."""
        for name in (*_FIELDS, "style", "bar"):
            setattr(self, name, getattr(self, name)[mask])

    def seed(self, t: float, periods: np.ndarray) -> None:
        """Add hypotheses for an onset at ``t``: each period, the onset at each lattice tick.

        The onset gets beat ``0 + tick/12`` of each new hypothesis's numbering. New
        entries are scored on this onset alone; the bank keeps at most ``bank_size``.
        """
        s = self.settings
        room = s.bank_size - len(self)
        offsets = self.tables.offsets
        periods = np.asarray(periods, dtype=float)
        p = np.repeat(periods, len(offsets))[:room]
        ticks = np.tile(offsets, len(periods))[:room]
        n = len(p)
        if n <= 0:
            return
        new = {
            "ids": np.arange(self._next_id, self._next_id + n, dtype=np.int64),
            "T": t - ticks / TPB * p,
            "R": np.zeros(n),
            "P": p,
            "c11": np.full(n, s.timing_noise**2),
            "c12": np.zeros(n),
            "c22": (0.5 * (_grid_ratio(s) - 1.0) * p) ** 2,
            "last": ticks.astype(np.int64),
            "common": np.zeros(n),
            "fit": np.full(n, 0.5),
            "count": np.ones(n, dtype=np.int64),
        }
        self._next_id += n
        style = self.tables.log_on[:, ticks].T.copy()
        bar = np.zeros((n, self.bar_beats))
        bar[ticks == 0, 0] = self.tables.downbeat_on
        for name, value in new.items():
            setattr(self, name, np.concatenate([getattr(self, name), value]))
        self.style = np.vstack([self.style, style])
        self.bar = np.vstack([self.bar, bar])

    def add(self, t: float, beat: int, period: float, phase: int) -> int:
        """One hypothesis with ``beat`` at ``t`` and downbeats at ``phase`` (tap, preset)."""
        s = self.settings
        ident = self._next_id
        self._next_id += 1
        new = {
            "ids": ident, "T": t, "R": float(beat), "P": period,
            "c11": s.timing_noise**2, "c12": 0.0, "c22": (s.tempo_noise * 4 * period) ** 2,
            "last": beat * TPB, "common": 0.0, "fit": 1.0, "count": 1,
        }
        for name, value in new.items():
            arr = getattr(self, name)
            setattr(self, name, np.concatenate([arr, np.asarray([value], dtype=arr.dtype)]))
        self.style = np.vstack([self.style, np.zeros((1, self.tables.styles))])
        bar = np.zeros((1, self.bar_beats))
        bar[0, phase % self.bar_beats] = 1.0
        self.bar = np.vstack([self.bar, bar])
        return ident

    def restart_scores(self, bonus: np.ndarray | float = 0.0) -> None:
        """Forget the evidence so far (after a pause); ``bonus`` is a head start."""
        self.style[:] = 0.0
        self.common[:] = bonus
        self.bar -= self.bar.max(axis=1, keepdims=True)
        self.bar *= 0.5

    # -- one onset ------------------------------------------------------------------

    def hear(self, t: float, accent: float, prev_accent: float) -> None:
        """Place an onset at ``t`` on every hypothesis, correct them, and score them.

        ``accent`` is the onset's accent strength, ``prev_accent`` the previous onset's
        length accent (known now that this one has come).
        """
        if not len(self):
            return
        s = self.settings
        tab = self.tables
        T, R, P = self.T, self.R, self.P
        last = self.last
        obs = s.timing_noise**2
        k = s.outlier_sigmas

        beat = R + (t - T) / P
        elapsed = np.maximum(beat - last / TPB, 0.0)
        p2 = P * P * elapsed
        self.c11 += s.phase_noise**2 * p2
        self.c22 += s.tempo_noise**2 * p2
        c11, c12, c22 = self.c11, self.c12, self.c22

        cand = (np.floor(beat).astype(np.int64) * TPB)[:, None] + self._cand
        h = cand / TPB - R[:, None]
        err = t - (T[:, None] + h * P[:, None])
        var = c11[:, None] + h * (2.0 * c12[:, None] + h * c22[:, None]) + obs
        x2 = err * err / var
        # Huber: quadratic near the grid, linear beyond k sigmas (an outlier costs less).
        ll = -0.5 * (np.where(x2 < k * k, x2, 2.0 * k * np.sqrt(x2) - k * k) + np.log(var))
        cap = self.bar_beats * TPB + TPB
        lo = np.maximum(last[:, None] + 1, cand - cap)
        choice = ll + tab.mean_on[cand % TPB] + tab.mean_skip(lo, cand)
        choice[cand <= last[:, None]] = -np.inf
        j = np.argmax(choice, axis=1)
        rows = np.arange(len(j))
        g = cand[rows, j]
        err = err[rows, j]
        var = var[rows, j]
        ll = ll[rows, j]
        lo = lo[rows, j]

        # Kalman update at the chosen point, re-anchored on the beat nearest to it.
        sd = np.sqrt(var)
        inlier = np.abs(err) <= k * sd
        weight = np.where(inlier, 1.0, k * sd / np.maximum(np.abs(err), 1e-12))
        anchor = np.rint(g / TPB)
        d = anchor - R
        T = T + d * P
        c11 = c11 + d * (2.0 * c12 + d * c22)
        c12 = c12 + d * c22
        hh = g / TPB - anchor
        u1 = c11 + hh * c12
        u2 = c12 + hh * c22
        S = u1 + hh * u2 + obs / weight
        self.T = T + u1 / S * err
        step = s.max_tempo_step * np.maximum(elapsed, 1.0)
        new_p = np.clip(P + u2 / S * err, P * (1.0 - step), P * (1.0 + step))
        self.P = np.clip(new_p, MIN_PERIOD, MAX_PERIOD)
        self.R = anchor
        self.c11 = c11 - u1 * u1 / S
        self.c12 = c12 - u1 * u2 / S
        self.c22 = np.maximum(c22 - u2 * u2 / S, 1e-10)

        # Scores, with forgetting.
        f = s.forget
        tick = g % TPB
        self.style *= f
        self.style += (tab.log_on[:, tick] + tab.skip(lo, g)).T
        strength = self._strength
        self.common *= f
        self.common += ll + s.level_accent * (
            accent * strength[tick] + prev_accent * strength[last % TPB]
        )
        B = self.bar_beats
        ph = self._phases
        first = -((-lo) // TPB)  # first beat at or after lo
        end = -((-g) // TPB)  # first beat at or after g
        skipped = (end[:, None] - 1 - ph) // B - (first[:, None] - 1 - ph) // B
        on_down = (tick == 0)[:, None] & (((g // TPB)[:, None] - ph) % B == 0)
        prev_down = (last % TPB == 0)[:, None] & (((last // TPB)[:, None] - ph) % B == 0)
        self.bar *= f
        self.bar += (
            skipped * tab.downbeat_off
            + on_down * (tab.downbeat_on + s.bar_accent * accent)
            + prev_down * (s.bar_accent * prev_accent)
        )
        self.fit += 0.15 * (inlier - self.fit)
        self.last = g
        self.count += 1

    # -- comparing ------------------------------------------------------------------

    def totals(self, center_period: float, prior_octaves: float) -> np.ndarray:
        """Each hypothesis's score: evidence, best bar phase and the tempo prior."""
        mix = self.style + self.tables.log_style_weights
        top = mix.max(axis=1)
        mix = top + np.log(np.exp(mix - top[:, None]).sum(axis=1))
        prior = -0.5 * (np.log2(self.P / center_period) / prior_octaves) ** 2
        return mix + self.common + self.bar.max(axis=1) + prior

    def next_beats(self, t: float) -> np.ndarray:
        """Each hypothesis's first beat time after ``t``."""
        return self.T + np.ceil((t - self.T) / self.P) * self.P

    def merge_and_prune(self, t: float, totals: np.ndarray) -> np.ndarray:
        """Drop duplicates (same beats) and hopeless hypotheses; return the kept totals.

        Of two hypotheses that predict the same beats the better one stays.
        """
        s = self.settings
        n = len(self)
        if n == 0:
            return totals
        nb = self.next_beats(t)
        P = self.P
        ratio = P[:, None] / P[None, :]
        phase = (nb[:, None] - nb[None, :]) / P[:, None]
        phase -= np.rint(phase)
        same = (np.abs(ratio - 1.0) < s.same_period) & (np.abs(phase) < s.same_phase)
        order = np.arange(n)
        better = (totals[:, None] > totals[None, :]) | (
            (totals[:, None] == totals[None, :]) & (order[:, None] < order[None, :])
        )
        drop = (same & better).any(axis=0)
        drop |= totals < totals.max() - s.prune_margin
        if drop.any():
            self.keep(~drop)
            return totals[~drop]
        return totals


def _grid_ratio(settings: FollowSettings) -> float:
    """Ratio between neighbouring starting periods of a lock."""
    span = settings.max_lock_bpm / settings.min_lock_bpm
    return math.exp(math.log(span) / max(1, settings.lock_periods - 1))


def lock_periods(settings: FollowSettings) -> np.ndarray:
    """The starting periods of a lock, log-spaced over the lock's tempo range."""
    bpm = np.geomspace(settings.min_lock_bpm, settings.max_lock_bpm, settings.lock_periods)
    return 60.0 / bpm
