"""Timings as a fixed histogram: audio cycles, model steps, benchmarks alike.

``record`` is O(1), allocates nothing and takes no lock, so the JACK process callback
can call it every cycle; percentiles then cover the whole session, not only the last few
seconds, and reading them costs the same in the third hour as in the first minute.
Resolution is 10 microseconds; anything beyond 50 ms lands in the last bin (its true
value is kept by ``max``). Percentiles are read in plain Python over a copy of the
bins up to the worst duration (a few hundred for audio cycles), so reading them takes
tens of microseconds and never holds the GIL for long in one C call.
"""

from __future__ import annotations

from collections.abc import Iterable

BIN_SECONDS = 1e-5
BINS = 5000  # 0 to 50 ms


class TimingHistogram:
    """Counts of durations in 10 us bins, with the count and the worst one."""

    def __init__(self) -> None:
        # A list, not an ndarray: incrementing a list item costs about half as much in the
        # audio callback as a numpy scalar round trip.
        self.counts = [0] * BINS
        self.count = 0
        self.max = 0.0

    def record(self, seconds: float) -> None:
        index = int(seconds / BIN_SECONDS)
        if index >= BINS:
            index = BINS - 1
        elif index < 0:
            index = 0
        self.counts[index] += 1
        self.count += 1
        if seconds > self.max:
            self.max = seconds

    def percentile(self, q: float) -> float:
        """The q-th percentile in seconds (the upper edge of its bin); NaN when empty."""
        return self._percentiles((q,))[0]

    def _percentiles(self, qs: tuple[float, ...]) -> list[float]:
        # Only the bins up to the worst duration can hold counts: copy and walk those.
        top = min(BINS - 1, int(self.max / BIN_SECONDS) + 1)
        counts = self.counts[: top + 1]  # a copy: the audio thread may be adding to it
        total = sum(counts)
        if total == 0:
            return [float("nan")] * len(qs)
        ranks = sorted((q / 100.0 * total, i) for i, q in enumerate(qs))
        out = [self.max] * len(qs)
        running, k = 0, 0
        for index, n in enumerate(counts):
            running += n
            while k < len(ranks) and running >= ranks[k][0] and running > 0:
                edge = self.max if index >= BINS - 1 else min((index + 1) * BIN_SECONDS, self.max)
                out[ranks[k][1]] = edge
                k += 1
            if k == len(ranks):
                break
        return out

    def reset(self) -> None:
        """Forget everything recorded (before a measurement starts)."""
        self.counts = [0] * BINS
        self.count = 0
        self.max = 0.0

    def record_all(self, seconds: Iterable[float]) -> None:
        for s in seconds:
            self.record(s)

    def summary_ms(self) -> dict[str, float]:
        """p50, p99, p99.9 and max in milliseconds (empty when nothing was recorded)."""
        if self.count == 0:
            return {}
        names = ("p50", "p99", "p999")
        values = self._percentiles((50.0, 99.0, 99.9))
        out = {name: round(v * 1000, 3) for name, v in zip(names, values, strict=True)}
        out["max"] = round(self.max * 1000, 3)
        return out
