"""Where in a beat and a bar a melody's onsets fall: the prior the follower scores against.

A beat of ``TICKS_PER_BEAT`` (12) ticks has a few places an onset may fall: the beat,
its halves and quarters and thirds in simple meters (ticks 0, 3, 4, 6, 8, 9), its
eighths and sixteenths in compound ones (0, 2, 4, 6, 8, 10). Each place holds an onset
with some probability, independently (a lattice of Bernoulli trials): the likelihood of
a run of onsets under a beat hypothesis is the product over the lattice points it passed
of ``p`` where an onset fell and ``1 - p`` where none did, so hypotheses at different
tempos are compared on the same data.

Tunes differ in how busy they are (a chorale moves in quarters, a reel in eighths), and
a single set of probabilities would take every sparse tune for a busy one at half the
tempo. The beat's probabilities are therefore a mixture of *styles* (density quantiles
of the training tunes); the follower keeps a score per style and lets the mixture
explain each hypothesis. On top of the style, each beat of the bar has its own
tendency (the downbeat almost always has an onset; in 3/4 the second beat is often held;
in 4/4 beats 2 and 4 are more often divided): a correction per bar position, scored
per bar phase.

Melodies move differently on and off the beat (a leap tends to land on it, a passing
note to fall between): the intervals into and out of a note, per place in the beat,
are a third piece of evidence, a log-ratio per interval pair.

The figures are the training split's, in :mod:`instrument.follow.prior_data`; a meter
without its own bar table has a generic one: an onset on 98 % of downbeats.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from instrument.follow.prior_data import BARS, MELODY, STYLES
from instrument.music import TICKS_PER_BEAT, Meter

SIMPLE_OFFSETS = (0, 3, 4, 6, 8, 9)
COMPOUND_OFFSETS = (0, 2, 4, 6, 8, 10)
GENERIC_DOWNBEAT = 0.98
FLOOR, CEILING = 0.001, 0.995  # no lattice point is certain or impossible


@dataclass(frozen=True)
class RhythmPrior:
    """Onset probabilities at the lattice ``offsets`` of a beat.

    ``styles[m]``: in style ``m``, for a beat that is not a downbeat; ``bar[b]``: for
    beat ``b`` of the bar, all styles pooled; ``melody[c][f]``: the log-ratio of the
    interval code ``f`` (into and out of a note) at tick class ``c`` (:func:`tick_class`)
    against anywhere.
    """

    offsets: tuple[int, ...]
    styles: tuple[tuple[float, ...], ...]
    bar: tuple[tuple[float, ...], ...]
    compound: bool = False
    melody: tuple[tuple[float, ...], ...] | None = None


INTERVAL_CODES = 11
TICK_CLASSES = 4


def interval_code(interval: int) -> int:
    """A melodic interval as 0..10 (``INTERVAL_CODES``): unison, up 1..5+ semitones,
    down 1..5+."""
    if interval == 0:
        return 0
    return min(abs(interval), 5) + (0 if interval > 0 else 5)


def tick_class(tick: int, compound: bool) -> int:
    """Where in the beat a tick is, for the melody table: 0 the beat, 1 and 2 the
    main divisions (the half; or the second and third eighths), 3 anything finer."""
    if compound:
        return {0: 0, 4: 1, 8: 2}.get(tick, 3)
    return {0: 0, 6: 1, 3: 2, 9: 2}.get(tick, 3)


def rhythm_prior(meter: Meter) -> RhythmPrior:
    kind = "compound" if meter.compound else "simple"
    offsets = COMPOUND_OFFSETS if meter.compound else SIMPLE_OFFSETS
    styles = STYLES[kind]
    beats = meter.beats_per_bar
    bar = BARS.get((kind, beats))
    if bar is None:
        mean = tuple(float(v) for v in np.mean(styles, axis=0))
        bar = ((GENERIC_DOWNBEAT, *mean[1:]), *([mean] * (beats - 1)))
    return RhythmPrior(offsets, styles, bar, meter.compound, MELODY.get(kind))


class PriorTables:
    """A :class:`RhythmPrior` as the arrays the hypothesis bank indexes.

    Ticks are absolute grid ticks of a hypothesis's numbering. ``style_p[m, k]``: the
    probability of an onset at tick ``k`` of a beat in style ``m`` (0 off the lattice);
    ``log_on``: its log (-inf off the lattice); ``mean_on``: the same for the mean of the
    styles; ``mean_skip(a, b)``: the summed ``log(1 - p)`` of the mean's lattice points
    in ``[a, b)`` (no onset there), in O(1) from prefix sums; ``bar_after(a, b)``: per
    bar phase (phase ``f``: beats ``f``, ``f + bar``... are downbeats), the bar-position
    correction of no onset in ``[a, b)`` and one at ``b``; ``melody(ticks, code)``: the
    melodic intervals' evidence.
    """

    def __init__(self, prior: RhythmPrior) -> None:
        n = TICKS_PER_BEAT
        offsets = list(prior.offsets)
        m = len(prior.styles)
        p = np.zeros((m + 1, n))
        p[:m, offsets] = np.clip(prior.styles, FLOOR, CEILING)
        p[m] = p[:m].mean(axis=0)
        with np.errstate(divide="ignore"):
            log_on = np.log(p)
        cum = np.hstack([np.zeros((m + 1, 1)), np.cumsum(np.log1p(-p), axis=1)])
        self.styles = m
        self.style_p = p[:m].copy()
        self.offsets = np.asarray(offsets, dtype=np.int64)
        self.log_on = log_on[:m]
        self.mean_on = log_on[m]
        self._mean_per_beat = float(cum[m, -1])
        self._mean_cum = cum[m, :-1].copy()

        beats = len(prior.bar)
        q = np.zeros((beats, n))
        q[:, offsets] = np.clip(prior.bar, FLOOR, CEILING)
        ref = q[1:].mean(axis=0) if beats > 1 else q[0]
        on = np.zeros((beats, n))
        on[:, offsets] = np.log(q[:, offsets]) - np.log(ref[offsets])
        off = np.log1p(-q) - np.log1p(-ref)
        cum_bar = np.concatenate([[0.0], np.cumsum(off.ravel())])
        self.bar_beats = beats
        self.bar_ticks = beats * n
        self._bar_total = float(cum_bar[-1])
        self._bar_cum = cum_bar[:-1].copy()
        self._bar_on_cum = self._bar_cum + on.ravel()
        self.phase_ticks = np.arange(beats, dtype=np.int64) * n

        classes = [tick_class(k, prior.compound) for k in range(n)]
        melody = np.zeros((TICK_CLASSES, INTERVAL_CODES**2 + 1))  # the last column: unknown
        if prior.melody is not None:
            melody[:, :-1] = prior.melody
        self._melody_at = melody[classes]

    def melody(self, ticks: np.ndarray, code: int) -> np.ndarray:
        """Log-ratio of an onset with interval code ``code`` at each of ``ticks`` (grid
        ticks) against anywhere; 0 for ``code`` -1 (unknown)."""
        return self._melody_at[ticks % TICKS_PER_BEAT, code]

    def bar_after(self, a: np.ndarray, b: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Per hypothesis (rows) and bar phase (columns): the bar correction of no onset
        in ``[a, b)`` and one at ``b``; and whether ``b`` is a downbeat."""
        qa, ra = np.divmod(a[:, None] - self.phase_ticks, self.bar_ticks)
        qb, rb = np.divmod(b[:, None] - self.phase_ticks, self.bar_ticks)
        return (qb - qa) * self._bar_total + self._bar_on_cum[rb] - self._bar_cum[ra], rb == 0

    def mean_skip(self, a: np.ndarray, b: np.ndarray) -> np.ndarray:
        """No onset in ticks ``[a, b)``, for the mean of the styles; any shapes."""
        qa, ra = np.divmod(a, TICKS_PER_BEAT)
        qb, rb = np.divmod(b, TICKS_PER_BEAT)
        return (qb - qa) * self._mean_per_beat + self._mean_cum[rb] - self._mean_cum[ra]
