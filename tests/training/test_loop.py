"""The training loop: an interrupted run resumed from its checkpoint ends where an
uninterrupted one does."""

from __future__ import annotations

import numpy as np
import pytest

torch = pytest.importorskip("torch")

from training.loop import train  # noqa: E402
from training.nets import NetConfig, StepNet  # noqa: E402


class Interrupted(Exception):
    pass


def _net() -> StepNet:
    torch.manual_seed(0)
    return StepNet(NetConfig(int_vocab=[10], int_dims=[4], hidden=8, layers=1,
                             heads={"y": 10}))


def _loss(stop_after: int | None = None):
    calls = 0

    def loss_fn(net: StepNet, g: np.random.Generator):
        nonlocal calls
        calls += 1
        if stop_after is not None and calls > stop_after:
            raise Interrupted
        x = torch.from_numpy(g.integers(10, size=(4, 5, 1)))
        logits, _ = net(x)
        return torch.nn.functional.cross_entropy(logits["y"].reshape(-1, 10), x.reshape(-1))

    return loss_fn


def test_a_resumed_run_ends_with_the_weights_of_an_uninterrupted_one(tmp_path):
    whole = _net()
    train(whole, _loss(), 10, 1e-2, np.random.default_rng(0), monitor_every=3)

    checkpoint = tmp_path / "run.ckpt"
    with pytest.raises(Interrupted):
        train(_net(), _loss(stop_after=7), 10, 1e-2, np.random.default_rng(0),
              monitor_every=3, checkpoint=checkpoint)
    assert checkpoint.exists()

    resumed = _net()
    torch.manual_seed(123)  # the checkpoint restores the generators, whatever they are now
    history = train(resumed, _loss(), 10, 1e-2, np.random.default_rng(99), monitor_every=3,
                    checkpoint=checkpoint)
    assert not checkpoint.exists()
    assert history["steps"] == 10
    for a, b in zip(whole.parameters(), resumed.parameters(), strict=True):
        assert torch.equal(a, b)
