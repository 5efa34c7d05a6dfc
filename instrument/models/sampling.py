"""Sampling from logits: temperature, nucleus (top-p) and a mask of allowed classes.

Deterministic for a given ``numpy.random.Generator`` state: each draw consumes exactly
one ``rng.random()``, whatever the distribution. Pure numpy, allocation-light; runs on
the engine thread.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class SamplingParams:
    """How to turn a next-note distribution into a note.

    ``temperature`` 0 means greedy (argmax). ``top_p`` 1.0 keeps the whole distribution.
    ``pitch_classes``, when given, is the scale or key constraint: only pitches whose
    pitch class is in the set may be drawn (ignored if it would exclude every pitch).
    """

    temperature: float = 1.0
    top_p: float = 0.95
    pitch_classes: frozenset[int] | None = None

    def __post_init__(self) -> None:
        if self.temperature < 0:
            raise ValueError(f"temperature must be >= 0, got {self.temperature}")
        if not 0 < self.top_p <= 1:
            raise ValueError(f"top_p must be in (0, 1], got {self.top_p}")


def log_softmax(logits: np.ndarray) -> np.ndarray:
    z = np.asarray(logits, dtype=np.float64)
    m = np.max(z)
    if not np.isfinite(m):
        raise ValueError("logits have no finite entry")
    z = z - m
    return z - np.log(np.sum(np.exp(z)))


def logsumexp(x: np.ndarray) -> float:
    """log(sum(exp(x))), -inf when every entry is -inf (a few times cheaper than
    ``np.logaddexp.reduce``, which the beat's decision would otherwise call)."""
    m = float(np.max(x))
    if not np.isfinite(m):
        return m
    return m + float(np.log(np.sum(np.exp(x - m))))


def sample_index(
    logits: np.ndarray,
    rng: np.random.Generator,
    temperature: float = 1.0,
    top_p: float = 1.0,
    mask: np.ndarray | None = None,
) -> int:
    """Draw one index from ``logits`` (natural-log scale, any offset).

    ``mask`` (bool, same length) removes classes; if it would remove all of them it is
    ignored. One ``rng.random()`` is consumed even when greedy, so a stream of draws
    stays aligned whatever the settings.
    """
    u = rng.random()
    z = np.asarray(logits, dtype=np.float64).copy()
    if mask is not None and np.any(mask & np.isfinite(z)):
        z[~mask] = -np.inf
    if temperature == 0:
        return int(np.argmax(z))
    p = np.exp(log_softmax(z / temperature))
    if top_p < 1.0:
        order = np.argsort(-p, kind="stable")
        cum = np.cumsum(p[order])
        keep = order[: int(np.searchsorted(cum, top_p)) + 1]
        q = np.zeros_like(p)
        q[keep] = p[keep]
        p = q
    cdf = np.cumsum(p)
    return int(min(np.searchsorted(cdf, u * cdf[-1], side="right"), len(p) - 1))
