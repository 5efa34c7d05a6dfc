"""Audio analysis shared by the benchmarks and the tests: loudness and the first onset."""

from __future__ import annotations

import numpy as np


def rms(x: np.ndarray) -> float:
    return float(np.sqrt(np.mean(np.square(x, dtype=np.float64)))) if x.size else 0.0


def first_onset(x: np.ndarray, threshold: float = 1e-3) -> int | None:
    """Index of the first sample whose magnitude exceeds ``threshold``."""
    idx = np.flatnonzero(np.abs(x) > threshold)
    return int(idx[0]) if idx.size else None
