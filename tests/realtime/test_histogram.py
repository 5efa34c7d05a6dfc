"""TimingHistogram: whole-session percentiles of timings, recorded without allocating."""

import math

import numpy as np

from instrument.realtime.histogram import BIN_SECONDS, TimingHistogram


def test_empty_histogram_reports_nothing():
    h = TimingHistogram()
    assert h.summary_ms() == {}
    assert math.isnan(h.percentile(50))


def test_percentiles_match_numpy_to_bin_resolution():
    rng = np.random.default_rng(1)
    durations = rng.gamma(2.0, 0.0001, size=20000)  # about 0.2 ms, a long tail
    h = TimingHistogram()
    for d in durations:
        h.record(float(d))
    for q in (50, 99, 99.9):
        exact = np.percentile(durations, q, method="inverted_cdf")  # a recorded duration
        assert 0 <= h.percentile(q) - exact <= BIN_SECONDS
    assert h.max == durations.max()
    summary = h.summary_ms()
    assert summary["max"] == round(durations.max() * 1000, 3)
    assert summary["p50"] <= summary["p99"] <= summary["p999"] <= summary["max"]


def test_every_cycle_counts_not_only_the_last_few_seconds():
    h = TimingHistogram()
    for _ in range(100):
        h.record(0.004)  # early stalls
    for _ in range(100000):
        h.record(0.0001)
    assert h.count == 100100
    assert sum(h.counts[int(0.001 / BIN_SECONDS) + 1:]) == 100  # longer than 1 ms
    assert h.percentile(99.95) > 0.003


def test_huge_and_negative_durations_are_clamped_not_lost():
    h = TimingHistogram()
    h.record(3.0)
    h.record(-1e-6)  # frame_time can read a hair before last_frame_time
    assert h.count == 2
    assert h.max == 3.0
    assert h.percentile(100) == 3.0  # the last bin reports the true worst
    assert h.percentile(50) == BIN_SECONDS
