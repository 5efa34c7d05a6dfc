"""Where in a beat a melody's onsets fall: the metrical prior the follower scores against.

A beat of ``TICKS_PER_BEAT`` (12) ticks has a few places an onset may fall: the beat,
its halves and quarters and thirds in simple meters (ticks 0, 3, 4, 6, 8, 9), its
eighths and sixteenths in compound ones (0, 2, 4, 6, 8, 10). Each place holds an onset
with some probability, independently (a lattice of Bernoulli trials): the likelihood of
a run of onsets under a beat hypothesis is the product over the lattice points it passed
of ``p`` where an onset fell and ``1 - p`` where none did, so hypotheses at different
tempos are compared on the same data.

Tunes differ in how busy they are (a chorale moves in quarters, a reel in eighths), and
a single set of probabilities would take every sparse tune for a dense one at half the
tempo. The prior is therefore a mixture of a few *styles* (sparse, moderate, busy), each
a set of per-tick probabilities; the follower keeps a score per style and lets the best
mixture explain each hypothesis. Downbeats carry an onset more often than other beats.

The figures are the training split's (``python -m training.evaluate_follow --stats``
prints them): the share of beats of each style tercile with an onset at each tick.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from instrument.music import TICKS_PER_BEAT, Meter

SIMPLE_OFFSETS = (0, 3, 4, 6, 8, 9)
COMPOUND_OFFSETS = (0, 2, 4, 6, 8, 10)


@dataclass(frozen=True)
class RhythmPrior:
    """Onset probabilities per tick of a beat, for each style, and on downbeats.

    ``styles[m][k]`` is the probability of an onset at tick ``k`` of a beat that is not
    a downbeat, in style ``m``; ticks outside ``offsets`` never hold one. ``downbeat``
    is the probability of an onset on a downbeat's tick 0 (in every style).
    """

    offsets: tuple[int, ...]
    styles: tuple[dict[int, float], ...]
    style_weights: tuple[float, ...]
    downbeat: float


SIMPLE_PRIOR = RhythmPrior(
    offsets=SIMPLE_OFFSETS,
    styles=(
        {0: 0.82, 3: 0.01, 4: 0.004, 6: 0.06, 8: 0.004, 9: 0.01},
        {0: 0.78, 3: 0.04, 4: 0.01, 6: 0.35, 8: 0.01, 9: 0.04},
        {0: 0.80, 3: 0.22, 4: 0.03, 6: 0.75, 8: 0.03, 9: 0.22},
    ),
    style_weights=(1 / 3, 1 / 3, 1 / 3),
    downbeat=0.96,
)

COMPOUND_PRIOR = RhythmPrior(
    offsets=COMPOUND_OFFSETS,
    styles=(
        {0: 0.90, 2: 0.01, 4: 0.10, 6: 0.01, 8: 0.55, 10: 0.01},
        {0: 0.93, 2: 0.02, 4: 0.55, 6: 0.03, 8: 0.85, 10: 0.02},
        {0: 0.95, 2: 0.10, 4: 0.85, 6: 0.12, 8: 0.93, 10: 0.10},
    ),
    style_weights=(1 / 3, 1 / 3, 1 / 3),
    downbeat=0.97,
)


def rhythm_prior(meter: Meter) -> RhythmPrior:
    return COMPOUND_PRIOR if meter.compound else SIMPLE_PRIOR


class PriorTables:
    """A :class:`RhythmPrior` as the arrays the hypothesis bank indexes.

    ``log_on[m, k]``: log-probability of an onset at tick ``k`` in style ``m`` (-inf off
    the lattice); ``skip(m, a, b)``: the summed ``log(1 - p)`` of the lattice points at
    absolute ticks ``a <= x < b`` (no onset there), in O(1) from prefix sums.
    ``mean_on``/``mean_skip``: the same for the style mixture's mean probabilities, used to
    choose where an onset sits before the styles score it.
    """

    def __init__(self, prior: RhythmPrior) -> None:
        n = TICKS_PER_BEAT
        p = np.zeros((len(prior.styles), n))
        for m, style in enumerate(prior.styles):
            for k, v in style.items():
                p[m, k] = v
        w = np.asarray(prior.style_weights)[:, None]
        p = np.vstack([p, (p * w).sum(axis=0, keepdims=True) / w.sum()])  # last row: mean
        with np.errstate(divide="ignore"):
            self._log_on = np.log(p)
        log_off = np.log1p(-p)
        self._cum = np.hstack([np.zeros((p.shape[0], 1)), np.cumsum(log_off, axis=1)])
        self._per_beat = self._cum[:, -1].copy()
        self.styles = len(prior.styles)
        self.log_style_weights = np.log(np.asarray(prior.style_weights))
        self.offsets = np.asarray(prior.offsets, dtype=np.int64)
        mean_beat = p[-1, 0]
        self.downbeat_on = float(np.log(prior.downbeat / mean_beat))
        self.downbeat_off = float(np.log1p(-prior.downbeat) - np.log1p(-mean_beat))
        self.log_on = self._log_on[:-1]
        self.mean_on = self._log_on[-1]

    def skip(self, a: np.ndarray, b: np.ndarray) -> np.ndarray:
        """Per style (rows) and hypothesis (columns): log-probability of no onset in [a, b)."""
        n = self.styles
        qa, ra = np.divmod(a, TICKS_PER_BEAT)
        qb, rb = np.divmod(b, TICKS_PER_BEAT)
        return (qb - qa) * self._per_beat[:n, None] + self._cum[:n, rb] - self._cum[:n, ra]

    def mean_skip(self, a: np.ndarray, b: np.ndarray) -> np.ndarray:
        """Like :meth:`skip` for the mean of the styles; ``a`` and ``b`` of any shape."""
        qa, ra = np.divmod(a, TICKS_PER_BEAT)
        qb, rb = np.divmod(b, TICKS_PER_BEAT)
        return (qb - qa) * self._per_beat[-1] + self._cum[-1, rb] - self._cum[-1, ra]
