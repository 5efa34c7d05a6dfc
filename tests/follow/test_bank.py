"""The hypothesis bank: two hypotheses with the same beats are one."""

import numpy as np
import pytest

from instrument.follow.bank import HypothesisBank
from instrument.follow.settings import FollowSettings
from instrument.music import Meter


def test_a_leader_merged_into_its_twin_keeps_its_id_its_beat_numbers_and_its_bar():
    bank = HypothesisBank(Meter(4, 4), FollowSettings())
    leader = bank.add(10.0, 0, 0.5, 0)  # beat 0 at 10 s, downbeats on beats 0, 4, 8...
    # The same beats counted from elsewhere: its beat 7 at 11 s is the leader's beat 2,
    # and a downbeat there (phase 3: beats 3, 7, 11...).
    twin = bank.add(11.0, 7, 0.5, 3)
    kept = bank.merge_and_prune(11.2, np.array([0.0, 5.0]), leader=leader)  # the twin better
    assert list(bank.ids) == [leader] and list(kept) == [5.0]
    assert bank.index_of(twin) is None
    assert bank.R[0] + (12.0 - bank.T[0]) / bank.P[0] == pytest.approx(4.0)  # 12 s: beat 4
    assert int(np.argmax(bank.stress[0])) == 2  # its downbeat, on the leader's beat 2


def test_without_a_leader_to_keep_the_better_twin_stays_as_it_is():
    bank = HypothesisBank(Meter(4, 4), FollowSettings())
    bank.add(10.0, 0, 0.5, 0)
    twin = bank.add(11.0, 7, 0.5, 3)
    bank.merge_and_prune(11.2, np.array([0.0, 5.0]))
    assert list(bank.ids) == [twin] and bank.R[0] == 7.0
