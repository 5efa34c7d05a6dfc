"""`python -m training.evaluate_follow`'s arguments (the evaluation itself needs the
corpora's extraction cache: tests/follow/test_evaluate.py runs the same scoring)."""

import pytest

from training import evaluate_follow


def test_a_start_tempo_range_below_zero_is_refused_before_the_corpora_are_read(capsys):
    with pytest.raises(SystemExit) as exc:
        evaluate_follow.main(["--bpm", "0", "80"])
    assert exc.value.code == 2
    assert "--bpm: tempi must be above 0" in capsys.readouterr().err
