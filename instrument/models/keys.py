"""Key estimation from a pitch-class histogram (Krumhansl-Kessler), and a causal key
tracker: a slowly decaying histogram of what has sounded, with hysteresis so the key
does not flicker. Shared by the rule arranger (:mod:`instrument.baselines.rules`) and the
accompaniment model's beat encodings (``beat-features/2`` and ``/3``). Pure numpy."""

from __future__ import annotations

import math

import numpy as np

MAJOR_PROFILE = np.array([6.35, 2.23, 3.48, 2.33, 4.38, 4.09, 2.52, 5.19, 2.39, 3.66, 2.29, 2.88])
MINOR_PROFILE = np.array([6.33, 2.68, 3.52, 5.38, 2.60, 3.53, 2.54, 4.75, 3.98, 2.69, 3.34, 3.17])
#: Index used for "no key yet" by :class:`KeyTracker` (keys are 0-11 major, 12-23 minor).
NO_KEY = 24


def _normalised(rows: np.ndarray) -> np.ndarray:
    rows = rows - rows.mean(axis=-1, keepdims=True)
    return rows / np.linalg.norm(rows, axis=-1, keepdims=True)


#: The 24 key profiles (0-11 major, 12-23 minor), centred and scaled to unit length.
KEY_PROFILES = _normalised(np.array(
    [np.roll(MAJOR_PROFILE, t) for t in range(12)] + [np.roll(MINOR_PROFILE, t) for t in range(12)]
))


def key_correlations(histogram: np.ndarray) -> np.ndarray:
    """Pearson correlation of a pitch-class histogram with the 24 keys (all 0 for a flat
    histogram)."""
    h = np.asarray(histogram, dtype=np.float64)
    centred = h - h.sum() / len(h)  # h.mean(), bit for bit, without its overhead
    spread = math.sqrt(float(centred @ centred))
    if spread == 0:
        return np.zeros(24)
    return KEY_PROFILES @ centred / spread


def estimate_key(histogram: np.ndarray) -> tuple[int, bool]:
    """(tonic pitch class, is_minor) of the best-correlated key."""
    k = int(np.argmax(key_correlations(histogram)))
    return k % 12, k >= 12


class KeyTracker:
    """The key heard so far: each beat's sounding pitch classes are added to a histogram
    that decays with a half-life of ``half_life_beats``; the key changes only when another
    correlates better by ``margin``. ``key`` is None until something has sounded."""

    def __init__(self, half_life_beats: float = 16.0, margin: float = 0.05) -> None:
        self.decay = 0.5 ** (1.0 / half_life_beats)
        self.margin = margin
        self.reset()

    def reset(self) -> None:
        self.histogram = np.zeros(12)
        self.key: tuple[int, bool] | None = None

    def update(self, sounding: np.ndarray) -> tuple[int, bool] | None:
        self.histogram = self.histogram * self.decay + sounding
        corr = key_correlations(self.histogram)
        if not corr.any():  # flat: nothing weighs more than anything else
            return self.key
        best = int(np.argmax(corr))
        if self.key is not None:
            cur = self.key[0] + 12 * self.key[1]
            if corr[best] - corr[cur] < self.margin:
                return self.key
        self.key = (best % 12, best >= 12)
        return self.key

    @property
    def index(self) -> int:
        """0-11 major, 12-23 minor, :data:`NO_KEY` before anything sounded."""
        return NO_KEY if self.key is None else self.key[0] + 12 * self.key[1]
