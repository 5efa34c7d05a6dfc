"""The player's touch as a smoothed level: chords count once, accents move it a little."""

import pytest

from instrument.parts.dynamics import Dynamics


def test_level_is_unset_until_the_player_plays_then_follows_smoothly():
    d = Dynamics(span=8)
    assert d.level is None
    d.hear(40, 0.0)
    assert d.level == 40
    for i in range(1, 30):
        d.hear(100, i * 0.5)
    assert d.level == pytest.approx(100, abs=1)


def test_a_chord_counts_once_at_its_loudest():
    d = Dynamics(span=8)
    d.hear(50, 0.0)
    for v in (60, 90, 70):  # a chord, within 40 ms
        d.hear(v, 1.0 + 0.01 * v / 90)
    alone = Dynamics(span=8)
    alone.hear(50, 0.0)
    alone.hear(90, 1.0)
    assert d.level == pytest.approx(alone.level)
