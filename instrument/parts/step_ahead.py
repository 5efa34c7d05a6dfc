"""The accompaniment model's step for the next beat, taken before its deadline.

A beat's chord is decided at its deadline from the notes heard before it, but those
notes are mostly heard well before: a beat's last note usually begins half a beat or
more before the deadline, and a beat with no new note brings nothing after the last
decision. :class:`StepAhead` has the model's worker take the next beat's step as soon as
what the beat will bring is known so far (after each decision, and again after each
note heard for that beat; when the part begins, its lead-in beat and its first beat
together), with the model's context saved before it. At the deadline, when the beats
bring exactly what the step ahead was taken with (the same beat, meter, notes and
previous chord), its result is the step: the decision only waits for it if it is still
running. Otherwise the context is put back and the beats are stepped anew, as without a
step ahead. Either way the model sees each beat once, in order, and answers what it
would have answered at the deadline; only when the work is done moves.

Engine side: :meth:`StepAhead.take_ahead` (queue a step ahead), :meth:`StepAhead.
for_beat` (the deadline's step), :meth:`StepAhead.take_back` (before anything else is
queued that must find the context as it was before the step ahead: the forecast taking a
new note) and :meth:`StepAhead.forget` (the model is reset). Worker side, queued in order
with the model's other work: saving the context, stepping, putting the context back;
a step ahead that was replaced or taken back before the worker came to it is skipped, so
notes heard faster than the model steps cost one step. Nothing is queued at the deadline
when the step ahead is used (waking the worker there cost the decision more than the
step saved). The model needs ``save()`` and ``restore(context)`` (:meth:`~instrument.
models.accompaniment.NeuralAccompanist.save`). Cost: up to one more model step per note
heard and per beat, off the deadline, on the worker.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from concurrent.futures import Future
from typing import Generic, Protocol, TypeVar

from instrument.models.accompaniment import BeatInput
from instrument.parts.deadline import DeadlineRunner

T = TypeVar("T")


class Restorable(Protocol):
    def save(self) -> object: ...

    def restore(self, saved: object) -> None: ...


class StepAhead(Generic[T]):
    """See the module docstring. ``step``: the model's step for a beat (run on the
    worker); ``model``: what holds the context the step advances."""

    def __init__(self, model: Restorable, step: Callable[[BeatInput], T],
                 runner: DeadlineRunner) -> None:
        self.model = model
        self.step = step
        self.runner = runner
        self.used = 0  # deadlines that found their step taken ahead
        self.retaken = 0  # deadlines that had to step their beat anew
        # Engine side: what the step ahead was taken for, and its generation. Every step
        # ahead, take-back and reset starts a new generation; a step ahead whose
        # generation is no longer the newest when the worker comes to it is skipped
        # (notes heard faster than the model steps cost one step, not one each), unless
        # a deadline took it (pinned).
        self._beats: tuple[BeatInput, ...] | None = None
        self._future: Future[T | None] | None = None
        self._generation = 0
        self._pinned = -1
        self._before: object | None = None  # worker side: the context before it

    # -- engine side ------------------------------------------------------------------

    def take_ahead(self, beats: tuple[BeatInput, ...]) -> None:
        """Queue the steps for ``beats`` now (one beat; or the part's lead-in and its
        first beat), in case the deadline brings just those (a step ahead already queued
        is taken back first). The future's result is the last beat's step."""
        self.take_back()
        self._generation += 1
        generation = self._generation
        self._beats = beats
        self._future = self.runner.submit(lambda: self._step_ahead(beats, generation),
                                          timed=False)

    def take_back(self) -> None:
        """Queue putting the context back as it was before the step ahead, if one is
        outstanding (before work that must find it so)."""
        if self._beats is not None:
            self._beats = self._future = None
            self._generation += 1
            self.runner.submit_background(self._put_back)

    def for_beat(self, beats: tuple[BeatInput, ...]) -> Future[T | None]:
        """The steps for ``beats`` at the deadline of the last: the ones taken ahead when
        they were taken for the same inputs, else new ones queued after the context is
        put back."""
        if self._beats is not None and self._beats == beats and self._future is not None:
            future = self._future
            self._pinned = self._generation
            self._beats = self._future = None
            self.used += 1
            return future
        self.take_back()
        self.retaken += 1
        return self.runner.submit(lambda: self._steps(beats))

    def forget(self) -> None:
        """The model is being reset (queued after this): the step ahead is neither used
        nor taken back."""
        self._beats = self._future = None
        self._generation += 1

    # -- worker side ------------------------------------------------------------------

    def _steps(self, beats: tuple[BeatInput, ...]) -> T:
        results = [self.step(beat) for beat in beats]
        return results[-1]

    def _step_ahead(self, beats: tuple[BeatInput, ...], generation: int) -> T | None:
        self._before = None  # a context left by a step ahead that was used
        # The newest generation is read before the pin: a deadline pins its step ahead
        # before the engine starts another, so a step the deadline took always runs.
        newest = self._generation
        if generation != newest and generation != self._pinned:
            return None  # taken back or replaced before it began: never looked at
        started = time.perf_counter()  # timed as a step only when it is one
        try:
            self._before = self.model.save()
            return self._steps(beats)
        finally:
            self.runner.record(time.perf_counter() - started)

    def _put_back(self) -> None:
        # Queued only after the step ahead it takes back: None if that was skipped or
        # failed to save.
        if self._before is not None:
            self.model.restore(self._before)
            self._before = None
