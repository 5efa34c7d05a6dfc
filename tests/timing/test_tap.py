"""Tap tempo."""

import pytest

from instrument.timing.tap import TapTempo


def test_tap_tempo_takes_the_median_interval_and_restarts_after_a_pause():
    taps = TapTempo()
    assert taps.tap(0.0) is None
    assert taps.tap(0.5) == pytest.approx(120)
    assert taps.tap(1.0) == pytest.approx(120)
    assert taps.tap(1.7) == pytest.approx(120)  # one sloppy tap does not move the median
    assert taps.tap(10.0) is None  # a long pause: counting starts again
    assert taps.tap(10.4) == pytest.approx(150)
