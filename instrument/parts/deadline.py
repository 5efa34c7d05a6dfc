"""Model steps with a deadline: the neural model proposes, the fallback disposes when late.

``DeadlineRunner`` runs each model step on one worker thread, in submission order (a
streaming model's state must see its inputs in order). The engine asks for a step's
result with ``take(future, deadline)``: it waits at most until the deadline; a step not
done by then is a miss, counted, and the caller plays the fallback's choice instead. The
late step still finishes and keeps the model's state right; only its prediction is lost.

onnxruntime releases the GIL inside ``run``, so the worker does not hold up the audio
callback or the engine.
"""

from __future__ import annotations

import contextlib
import logging
import threading
import time
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from concurrent.futures import TimeoutError as FutureTimeout
from dataclasses import dataclass, field
from typing import TypeVar

from instrument.realtime.histogram import TimingHistogram

T = TypeVar("T")

log = logging.getLogger(__name__)


@dataclass
class StepStats:
    """Counters of one model's steps: how many, how many late, how long they took (over
    the whole session, in a fixed histogram: reading it costs the same at any hour)."""

    steps: int = 0
    misses: int = 0
    durations: TimingHistogram = field(default_factory=TimingHistogram)

    def record(self, seconds: float) -> None:
        self.durations.record(seconds)

    def summary(self) -> dict[str, float | int]:
        out: dict[str, float | int] = {"steps": self.steps, "misses": self.misses}
        times = self.durations.summary_ms()
        if times:
            out.update(p50_ms=times["p50"], p99_ms=times["p99"], p999_ms=times["p999"],
                       max_ms=times["max"])
        return out


class DeadlineRunner:
    """One worker thread per model (see the module docstring)."""

    def __init__(self, name: str, now: Callable[[], float]) -> None:
        self.name = name
        self.now = now
        self.stats = StepStats()
        self._pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix=f"model-{name}")
        self._lock = threading.Lock()

    def submit(self, step: Callable[[], T], timed: bool = True) -> Future[T]:
        """Queue a step; its duration is recorded when it runs (``timed``; else the step
        records what it took itself, with :meth:`record`)."""
        if not timed:
            return self._pool.submit(step)

        def timed_step() -> T:
            started = time.perf_counter()
            try:
                return step()
            finally:
                self.record(time.perf_counter() - started)

        return self._pool.submit(timed_step)

    def record(self, seconds: float) -> None:
        """Count a step's duration (from any thread)."""
        with self._lock:
            self.stats.record(seconds)

    def submit_background(self, work: Callable[[], object]) -> None:
        """Queue ``work`` that no beat waits for, in order with the steps (it touches
        the same state): not timed as a step; a failure is logged, and the steps after it
        go on."""
        with contextlib.suppress(RuntimeError):  # closed: nothing is to run any more
            self._pool.submit(_logged(work, self.name))

    def take(self, future: Future[T], deadline: float) -> T | None:
        """The step's result if it is done by ``deadline`` (clock time), else None (a miss).

        A step that raised counts as a miss too: the fallback plays.
        """
        self.stats.steps += 1
        timeout = max(0.0, deadline - self.now())
        try:
            return future.result(timeout=timeout)
        except FutureTimeout:
            self.stats.misses += 1
            return None
        except Exception:
            self.stats.misses += 1
            return None

    def close(self) -> None:
        self._pool.shutdown(wait=False, cancel_futures=True)


class ImmediateRunner(DeadlineRunner):
    """Runs steps at once on the calling thread: offline rendering, deterministic."""

    def __init__(self, name: str, now: Callable[[], float]) -> None:
        self.name = name
        self.now = now
        self.stats = StepStats()

    def submit(self, step: Callable[[], T], timed: bool = True) -> Future[T]:
        future: Future[T] = Future()
        started = time.perf_counter()
        try:
            future.set_result(step())
        except Exception as exc:
            future.set_exception(exc)
        if timed:
            self.record(time.perf_counter() - started)
        return future

    def record(self, seconds: float) -> None:
        self.stats.record(seconds)

    def submit_background(self, work: Callable[[], object]) -> None:
        _logged(work, self.name)()

    def take(self, future: Future[T], deadline: float) -> T | None:
        self.stats.steps += 1
        if future.exception() is not None:
            self.stats.misses += 1
            return None
        return future.result()

    def close(self) -> None:
        return None


def _logged(work: Callable[[], object], name: str) -> Callable[[], None]:
    def run() -> None:
        try:
            work()
        except Exception:
            log.exception("%s: background work failed", name)

    return run
