"""Continuation that learns the player: the neural model, the online Markov model and the
copy model over this tune's notes, mixed by how long the copy's match is.

:func:`mix_continuation` is the one place the three distributions are combined. The
mixture weights (neural, Markov, copy) depend on the copy's longest match
(:class:`~instrument.memory.note_memory.CopyPrediction` ``length``), binned by
:data:`MATCH_BINS`; they were fitted by EM on the dev part of the training split
(``python -m training.adaptation``; the figures are in training/README.md). With no
match the copy weighs nothing and the neural model and the Markov model (its prior plus
what it learned from the player in this gig) share the distribution; the longer the
player's current run equals something played before in this tune, the more the copy
leads. When the neural step missed its deadline its weight goes to the others.

:class:`AdaptiveContinuator` wraps the three behind the :class:`Continuator` interface
for evaluation (``instrument evaluate``) and offline use: every ``step`` steps all three
and mixes. Live, :class:`instrument.parts.continuation.Responder` steps the neural model
on its worker thread and calls :func:`mix_continuation` on the engine thread with
whatever came back in time.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from instrument.baselines.markov import MarkovContinuator
from instrument.memory.note_memory import CopyPrediction, NoteMemory
from instrument.models.continuation import Continuator, NextNoteDistribution
from instrument.music import GridNote, Meter

#: Lower edges of the longest-match bins (notes).
MATCH_BINS = (0, 2, 3, 4, 6, 8, 12)


@dataclass(frozen=True)
class MixWeights:
    """Per match bin, (neural, Markov, copy) weights for the pitch and for the rhythm."""

    pitch: tuple[tuple[float, float, float], ...]
    rhythm: tuple[tuple[float, float, float], ...]

    def __post_init__(self) -> None:
        for table in (self.pitch, self.rhythm):
            if len(table) != len(MATCH_BINS):
                raise ValueError(f"one weight triple per match bin {MATCH_BINS}")


#: Fitted by ``python -m training.adaptation continuation`` on the dev part of the
#: training split, for the shipped continuation model (the Transformer, which copies well
#: by itself within its window: it needs the copy model only on long matches). Refit
#: when the model changes.
DEFAULT_WEIGHTS = MixWeights(
    pitch=((0.825, 0.175, 0.0), (0.82, 0.083, 0.097), (0.744, 0.019, 0.238),
           (0.491, 0.017, 0.491), (0.316, 0.009, 0.675), (0.184, 0.014, 0.802),
           (0.082, 0.006, 0.913)),
    rhythm=((1.0, 0.0, 0.0), (1.0, 0.0, 0.0), (0.99, 0.0, 0.01), (0.765, 0.0, 0.235),
            (0.559, 0.0, 0.441), (0.413, 0.0, 0.587), (0.182, 0.0, 0.818)),
)


def match_bin(length: int) -> int:
    return int(np.searchsorted(MATCH_BINS, length, side="right")) - 1


def _mixed(parts: list[tuple[float, np.ndarray]]) -> np.ndarray:
    total = sum(w for w, _ in parts)
    if total <= 1e-9:  # every expert that is here was given no weight: share equally
        parts, total = [(1.0, q) for _, q in parts], float(len(parts))
    p = sum(w * q for w, q in parts) / total
    return np.log(np.maximum(p, 1e-12))


def mix_continuation(
    neural: NextNoteDistribution | None,
    markov: NextNoteDistribution,
    copy: CopyPrediction,
    weights: MixWeights = DEFAULT_WEIGHTS,
) -> NextNoteDistribution:
    """The three predictions mixed (see the module doc); ``neural`` None: it was late."""
    k = match_bin(copy.length)
    out = {}
    for attr, table, copied in (("pitch", weights.pitch, copy.pitch),
                                ("rest", weights.rhythm, copy.rest),
                                ("duration", weights.rhythm, copy.duration)):
        wn, wm, wc = table[k]
        parts = [(wm, np.exp(getattr(markov, attr)))]
        if neural is not None:
            parts.append((wn, np.exp(getattr(neural, attr))))
        if copy.length > 0 and wc > 0:
            parts.append((wc, copied))
        out[attr] = _mixed(parts)
    level = neural.level if neural is not None else markov.level
    return NextNoteDistribution(out["pitch"], out["rest"], out["duration"], level,
                                markov.after_tick)


class AdaptiveContinuator(Continuator):
    """The neural model (or none), the online Markov model and the copy model, mixed.

    ``learn_next`` teaches the Markov model and the copy model the player's next note
    (call it before stepping with that note, after scoring it); ``forget_online`` starts
    a new tune for both (evaluation runs each tune on its own).
    """

    def __init__(self, neural: Continuator | None, markov: MarkovContinuator,
                 memory: NoteMemory | None = None, weights: MixWeights = DEFAULT_WEIGHTS) -> None:
        super().__init__()
        self.neural = neural
        self.markov = markov
        self.memory = memory or NoteMemory()
        self.weights = weights

    def reset(self, origin_tick: int = 0) -> None:
        super().reset(origin_tick)
        if self.neural is not None:
            self.neural.reset(origin_tick)
        self.markov.reset(origin_tick)
        self.memory.restart()

    def forget_online(self) -> None:
        self.markov.forget_online()
        self.memory.reset()

    def learn_next(self, note: GridNote, meter: Meter) -> None:
        self.markov.learn_next(note, meter)
        self.memory.learn(note, meter)

    def step(self, note: GridNote | None, meter: Meter) -> NextNoteDistribution:
        if note is None:
            super().reset(self._origin)
            self.memory.restart()
        else:
            self._advance(note, meter)
            self.memory.follow(note, meter)
        neural = self.neural.step(note, meter) if self.neural is not None else None
        markov = self.markov.step(note, meter)
        return mix_continuation(neural, markov, self.memory.predict(), self.weights)
