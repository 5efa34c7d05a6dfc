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
the melodic intervals into and out of each onset at its place in the beat, and per bar
phase (which beats are downbeats) the downbeats with and without onsets and their
accents. Hypotheses that come to predict the same beats are merged; those far behind
the leader are dropped.

The bank is a set of numpy arrays, one entry per hypothesis, updated together: the cost
of an onset is a fixed number of array operations over at most ``bank_size`` entries.
"""

from __future__ import annotations

import math

import numpy as np

from instrument.follow.prior import PriorTables, rhythm_prior
from instrument.follow.settings import FollowSettings
from instrument.music import TICKS_PER_BEAT, Meter
from instrument.timing.beat import MAX_BPM, MIN_BPM

TPB = TICKS_PER_BEAT
MIN_PERIOD = 60.0 / MAX_BPM
MAX_PERIOD = 60.0 / MIN_BPM
_FIELDS = ("ids", "T", "R", "P", "c11", "c12", "c22", "last", "common", "fit", "tight", "drift",
           "count")


class HypothesisBank:
    """The hypotheses (see the module docstring); fields are arrays, one entry each."""

    def __init__(self, meter: Meter, settings: FollowSettings) -> None:
        self.meter = meter
        self.settings = settings
        self.tables = PriorTables(rhythm_prior(meter))
        self.bar_beats = meter.beats_per_bar
        offsets = self.tables.offsets
        # Where an onset may sit, in ticks from the beat below it: this beat and the next,
        # with the lattice's log-probability of an onset there and none before it.
        self._cand = np.concatenate([offsets, offsets + TPB, [2 * TPB]]).astype(np.int64)
        self._cand_beats = self._cand / TPB
        zero = np.zeros_like(self._cand)
        self._cand_prior = self.tables.mean_on[self._cand % TPB] + self.tables.mean_skip(
            zero, self._cand)
        self._ticks_1 = np.arange(TPB, dtype=np.int64) + 1
        self._next_id = 0
        self.version = 0  # changes whenever entries are added, dropped or reordered
        self.clear()

    # -- entries --------------------------------------------------------------------

    def clear(self) -> None:
        self.version += 1
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
        self.tight = np.zeros(0)
        self.drift = np.zeros(0)
        self.count = np.zeros(0, dtype=np.int64)
        self.style = np.zeros((0, self.tables.styles))
        self.seen = np.zeros((0, TPB))
        self.seen_on = np.zeros((0, TPB))
        self.bar = np.zeros((0, self.bar_beats))
        self.stress = np.zeros((0, self.bar_beats))

    def __len__(self) -> int:
        return len(self.P)

    def index_of(self, ident: int) -> int | None:
        found = np.flatnonzero(self.ids == ident)
        return int(found[0]) if found.size else None

    def keep(self, mask: np.ndarray) -> None:
        """Keep only the hypotheses where ``mask`` is true."""
        self.version += 1
        for name in (*_FIELDS, "style", "seen", "seen_on", "bar", "stress"):
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
        self.version += 1
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
            "tight": np.full(n, 0.5),
            "drift": np.zeros(n),
            "count": np.ones(n, dtype=np.int64),
        }
        self._next_id += n
        style = self.tables.log_on[:, ticks].T.copy()
        bar, _ = self.tables.bar_after(ticks, ticks)
        for name, value in new.items():
            setattr(self, name, np.concatenate([getattr(self, name), value]))
        self.style = np.vstack([self.style, style])
        seen = np.zeros((n, TPB))
        seen[np.arange(n), ticks] = 1.0
        self.seen = np.vstack([self.seen, seen])
        self.seen_on = np.vstack([self.seen_on, seen])
        self.bar = np.vstack([self.bar, bar])
        self.stress = np.vstack([self.stress, np.zeros((n, self.bar_beats))])

    def add(self, t: float, beat: int, period: float, phase: int,
            tempo_sd: float | None = None) -> int:
        """One hypothesis with ``beat`` at ``t`` and downbeats at ``phase`` (tap, preset);
        ``tempo_sd``: how sure its period is, a share of it (default: four times the
        tempo's random walk a beat, for a tempo set without hearing the player)."""
        s = self.settings
        ident = self._next_id
        self._next_id += 1
        self.version += 1
        share = 4 * s.tempo_noise if tempo_sd is None else tempo_sd
        new = {
            "ids": ident, "T": t, "R": float(beat), "P": period,
            "c11": s.timing_noise**2, "c12": 0.0, "c22": (share * period) ** 2,
            "last": beat * TPB, "common": 0.0, "fit": 1.0, "tight": 1.0, "drift": 0.0,
            "count": 1,
        }
        for name, value in new.items():
            arr = getattr(self, name)
            setattr(self, name, np.concatenate([arr, np.asarray([value], dtype=arr.dtype)]))
        self.style = np.vstack([self.style, np.zeros((1, self.tables.styles))])
        self.seen = np.vstack([self.seen, np.zeros((1, TPB))])
        self.seen_on = np.vstack([self.seen_on, np.zeros((1, TPB))])
        self.bar = np.vstack([self.bar, np.zeros((1, self.bar_beats))])
        stress = np.zeros((1, self.bar_beats))
        stress[0, phase % self.bar_beats] = self.settings.relock_bonus
        self.stress = np.vstack([self.stress, stress])
        return ident

    def restart_scores(self, bonus: np.ndarray | float = 0.0) -> None:
        """Forget the evidence so far (after a pause); ``bonus`` is a head start."""
        self.count[:] = 1
        self.style[:] = 0.0
        self.common[:] = bonus
        for scores in (self.bar, self.stress):
            scores -= scores.max(axis=1, keepdims=True)
            scores *= 0.5

    # -- one onset ------------------------------------------------------------------

    def hear(self, t: float, accent: float, prev_accent: float, contour: int = -1) -> None:
        """Place an onset at ``t`` on every hypothesis, correct them, and score them.

        ``accent`` is the onset's accent strength; ``prev_accent`` and ``contour`` the
        previous onset's length accent and interval code (known now that this one has
        come; -1: none).
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
        c11 = self.c11 + s.phase_noise**2 * p2
        c12 = self.c12
        # Onsets late (or early) one after another: the tempo is moving (a ritardando),
        # so the period may move faster than its random walk.
        c22 = self.c22 + s.tempo_noise**2 * p2 * (1.0 + s.drift_gain * self.drift**2)

        # Where the onset sits: timing (with the variance at the predicted point) plus the
        # lattice's prior for each candidate point of this beat and the next.
        floor = np.floor(beat)
        h0 = beat - R
        var0 = c11 + h0 * (2.0 * c12 + h0 * c22) + obs
        dist = (beat - floor)[:, None] - self._cand_beats
        choice = dist * dist * (-0.5 * P * P / var0)[:, None] + self._cand_prior
        base = floor.astype(np.int64) * TPB
        choice = np.where(self._cand <= (last - base)[:, None], -np.inf, choice)
        g = base + self._cand[np.argmax(choice, axis=1)]

        # Kalman update at that point, re-anchored on the beat nearest to it.
        gb = g / TPB
        err = (beat - gb) * P
        anchor = np.rint(gb)
        d = anchor - R
        c11 = c11 + d * (2.0 * c12 + d * c22)
        c12 = c12 + d * c22
        hh = gb - anchor
        u1 = c11 + hh * c12
        u2 = c12 + hh * c22
        var = u1 + hh * u2 + obs
        x = np.abs(err) / np.sqrt(var)
        inlier = x <= k
        # Huber: quadratic near the grid, linear beyond k sigmas (an outlier costs less in
        # the score); in the update its variance grows as (x / k) ** outlier_power.
        ll = -0.5 * (np.minimum(x, k) * (2.0 * x - np.minimum(x, k)) + np.log(var))
        S = u1 + hh * u2 + obs * np.maximum(x / k, 1.0) ** s.outlier_power
        self.T = T + d * P + u1 / S * err
        step = s.max_tempo_step * np.maximum(elapsed, 1.0)
        new_p = np.minimum(np.maximum(P + u2 / S * err, P * (1.0 - step)), P * (1.0 + step))
        self.P = np.minimum(np.maximum(new_p, MIN_PERIOD), MAX_PERIOD)
        self.R = anchor
        self.c11 = c11 - u1 * u1 / S
        self.c12 = c12 - u1 * u2 / S
        self.c22 = np.maximum(c22 - u2 * u2 / S, 1e-10)
        cap = self.bar_beats * TPB + TPB
        lo = np.maximum(last + 1, g - cap)

        # Scores, with forgetting.
        f = s.forget
        tick = g % TPB
        self.style *= s.style_forget
        self.style += self._lattice(lo, g, tick)
        self.common *= f
        self.common += ll
        if contour >= 0:
            self.common += s.melody_weight * tab.melody(last, contour)
        corr, down = tab.bar_after(lo, g)
        prev_down = (last[:, None] - tab.phase_ticks) % tab.bar_ticks == 0
        self.bar *= f
        self.bar += corr
        self.stress *= f
        self.stress += down * accent + prev_down * prev_accent
        self.fit += 0.15 * (inlier - self.fit)
        window = np.minimum(s.pulse_window, P / s.pulse_window_share)
        self.tight += s.pulse_rate * ((np.abs(err) <= window) - self.tight)
        self.drift += s.drift_rate * (np.minimum(np.maximum(err / np.sqrt(var), -k), k)
                                      - self.drift)
        self.last = g
        self.count += 1

    def _lattice(self, lo: np.ndarray, g: np.ndarray, tick: np.ndarray) -> np.ndarray:
        """Per hypothesis and style: log-probability of no onset at the lattice points in
        ``[lo, g)`` and one at ``g``, then count them.

        Each hypothesis learns how often each tick of its beat holds an onset (counts
        that fade like the scores); a style's prior counts for ``lattice_prior_beats``
        beats. So a tune's own rhythm (all sixteenths, all quarters) soon costs little
        at the tempo that explains it, and the prior's styles mostly speak early on.
        """
        s = self.settings
        kappa = s.lattice_prior_beats
        passes = (g[:, None] - self._ticks_1) // TPB - (lo[:, None] - self._ticks_1) // TPB
        seen, seen_on = self.seen, self.seen_on
        p = (kappa * self.tables.style_p + seen_on[:, None, :]) / (kappa + seen[:, None, :])
        rows = np.arange(len(g))
        out = (passes[:, None, :] * np.log1p(-p)).sum(axis=2) + np.log(p[rows, :, tick])
        seen *= s.count_forget
        seen_on *= s.count_forget
        seen += passes
        seen[rows, tick] += 1.0
        seen_on[rows, tick] += 1.0
        return out

    # -- comparing ------------------------------------------------------------------

    def totals(self, center_period: float, prior_octaves: float) -> np.ndarray:
        """Each hypothesis's score: evidence, best bar phase and the tempo prior.

        The tempo prior is log-normal around ``center_period`` (the configured tempo)
        times one around ``resonance_bpm``, the beat rate tunes are mostly felt and
        notated at: a tune of quarters at 145 bpm is also one of eighths at 72, and to a
        box told 100 bpm the two are about as near; the second prior tips it to 145.
        The second counts only away from the configured tempo (``resonance_near``), so
        it chooses between tempo levels without moving the peak off the told tempo.
        """
        s = self.settings
        mix = np.logaddexp.reduce(self.style, axis=1) - math.log(self.tables.styles)
        mix *= s.style_weight
        away = np.log2(center_period / self.P)  # octaves faster than the configured tempo
        prior = -0.5 * (away / prior_octaves) ** 2
        if s.resonance_octaves > 0.0:
            # Relative to the configured tempo's, and faded in away from it (by
            # away² / (away² + near²)): the told tempo stays the prior's peak, and
            # the resonance speaks only between levels half an octave and more apart.
            here = math.log2(60.0 / (center_period * s.resonance_bpm))
            there = np.log2(60.0 / (self.P * s.resonance_bpm))
            lift = -0.5 * (there**2 - here**2) / s.resonance_octaves**2
            near = s.resonance_near**2
            prior += lift * away**2 / (away**2 + near)
        return mix + self.common + self.bar.max(axis=1) + prior

    def _take_place(self, j: int, i: int) -> None:
        """Hypothesis ``j`` (the same beats as ``i``) takes ``i``'s id and numbering:
        its beats renumbered by the whole beats ``k`` that make it count them as ``i``
        does, its bar scores with them."""
        k = round(float(self.R[i] + (self.T[j] - self.T[i]) / self.P[i] - self.R[j]))
        self.R[j] += k
        self.last[j] += k * TPB
        self.bar[j] = np.roll(self.bar[j], k)
        self.stress[j] = np.roll(self.stress[j], k)
        self.ids[j] = self.ids[i]

    def next_beats(self, t: float) -> np.ndarray:
        """Each hypothesis's first beat time after ``t``."""
        return self.T + np.ceil((t - self.T) / self.P) * self.P

    def merge_and_prune(self, t: float, totals: np.ndarray,
                        leader: int | None = None) -> np.ndarray:
        """Drop duplicates (same beats) and hopeless hypotheses; return the kept totals.

        Of two hypotheses that predict the same beats the better one stays; when the
        ``leader`` (an id) goes so, the one kept in its place takes its id: the leader's
        beats are still the leader, not one more rival.
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
        i = None if leader is None else self.index_of(leader)
        if i is not None and drop[i]:
            twins = np.flatnonzero(same[:, i] & ~drop)
            if twins.size:
                self._take_place(twins[np.argmax(totals[twins])], i)
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
