"""The shipped accompaniment model's ONNX step against its training graph: the network
read back from the ONNX weights, run over a whole tune as in training, gives the same
chord logits as the ONNX step run beat by beat as live."""

from __future__ import annotations

import json

import numpy as np
import onnx
import pytest

from instrument.config import Config
from instrument.models import load_model
from instrument.models.tune import Tune
from instrument.music import GridNote, Meter
from training import data, harmonize

torch = pytest.importorskip("torch")

from training.nets import NetConfig, StepNet  # noqa: E402
from training.onnx_export import build_graph, gru_net_from_graph  # noqa: E402


def shipped():
    directory = Config().models_dir()
    manifest = json.loads((directory / "accompaniment.json").read_text())
    return directory, manifest


def test_reading_an_exported_gru_back_gives_the_same_weights():
    cfg = NetConfig(int_vocab=[7, 4], int_dims=[3, 2], n_floats=5, hidden=8, layers=2,
                    heads={"a": 5})
    net = StepNet(cfg).eval()
    back = gru_net_from_graph(build_graph(net, "ints", "floats"), cfg)
    for k, v in net.state_dict().items():
        torch.testing.assert_close(back.state_dict()[k], v)


def test_the_shipped_onnx_step_equals_the_training_graph_on_a_fixed_tune():
    directory, manifest = shipped()
    cfg = NetConfig(**manifest["network"])
    net = gru_net_from_graph(onnx.load(directory / manifest["onnx"]), cfg)
    encoding = manifest["encoding"]["name"]
    pitches = [67, 71, 74, 71, 72, 69, 66, 69, 71, 67, 74, 71, 69, 66, 62, 66] * 3
    tune = Tune("fixed", Meter(4, 4), [GridNote(p, 6 * i, 6) for i, p in enumerate(pitches)])
    tune.chords = harmonize.harmonize(tune)
    deadline = manifest["encoding"]["deadline_ticks_before_beat"]
    seq = data.beat_sequence(tune, tune.chords, deadline, "offline", encoding)
    with torch.no_grad():
        logits, _ = net(torch.from_numpy(seq.ints[None]), torch.from_numpy(seq.floats[None]))
    expected = logits["chord"][0].numpy()
    model = load_model("accompaniment")
    model.stepper.reset_state()
    got = np.stack([
        model.stepper.run_step({"beat_ints": seq.ints[b: b + 1],
                                "beat_floats": seq.floats[b: b + 1]})["chord_logits"][0]
        for b in range(len(seq.labels))
    ])
    assert len(got) == 24
    np.testing.assert_allclose(got, expected, atol=1e-4, rtol=1e-4)
    assert (got.argmax(-1) == expected.argmax(-1)).all()
