"""A tiny training run of the models, through export, load and `instrument evaluate`.

Uses the two smallest files of each folk collection and 24 chorales (parsed once and
cached under training/cache/), a one-layer 32-unit GRU and five optimizer steps: it
proves the pipeline runs end to end, not that the result is any good.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

pytest.importorskip("torch")
pytest.importorskip("music21")

from instrument.models import load_model
from instrument.models.accompaniment import NeuralAccompanist
from instrument.models.continuation import NeuralContinuator
from instrument.models.manifest import read_manifest

REPO = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def tiny_models(tmp_path_factory) -> Path:
    from training import accompaniment, bar_net, continuation

    out = tmp_path_factory.mktemp("tiny-models")
    assert continuation.main(["--tiny", "--out", str(out), "--threads", "1"]) == 0
    # The shipped policy's flags (its manifest's training command names them).
    assert accompaniment.main(["--tiny", "--out", str(out), "--threads", "1", "--encoding",
                               "beat-features/4", "--key-weight", "2", "--rules-between", "off",
                               "--weak-hold", "8", "--weak-hold-rules", "25",
                               "--foresight", "20", "--held-foresight", "10"]) == 0
    assert bar_net.main(["--tiny", "--out", str(out), "--threads", "1"]) == 0
    assert bar_net.main(["--tiny", "--task", "meter", "--out", str(out), "--threads", "1"]) == 0
    return out


@pytest.mark.slow
def test_tiny_training_exports_loadable_models_with_manifests(tiny_models):
    for name in ("continuation", "accompaniment"):
        manifest = read_manifest(tiny_models / f"{name}.json")
        assert manifest.opset == 17
        assert manifest.metrics["split"] == "validation"
        assert "--tiny" in manifest.training["command"].split()
    assert (tiny_models / "markov_prior.npz").is_file()
    cont = load_model("continuation", models_dir=tiny_models)
    acc = load_model("accompaniment", models_dir=tiny_models)
    assert isinstance(cont, NeuralContinuator) and isinstance(acc, NeuralAccompanist)
    assert "model" in read_manifest(tiny_models / "continuation.json").metrics
    assert "all" in read_manifest(tiny_models / "accompaniment.json").metrics["by_source"]
    shipped = json.loads((REPO / "exported_models" / "accompaniment.json").read_text())
    written = json.loads((tiny_models / "accompaniment.json").read_text())
    assert written["sampling"]["harmony_policy"] == shipped["sampling"]["harmony_policy"]
    assert acc.policy.weak_hold == 8.0 and acc.policy.weak_hold_rules == 25.0
    # It read the forecast of its own run's continuation model in training, as it will live.
    assert acc.takes_forecast
    assert written["training"]["forecast"]["continuation_sha256"] == cont.manifest.sha256


@pytest.mark.slow
def test_tiny_training_exports_bar_and_meter_networks_the_bar_reader_can_run(tiny_models):
    from instrument.follow.bar_net import OnsetNet, onset_features

    checkpoints = {"bars_2", "bars_4", "bars_8", "whole"}
    manifest = read_manifest(tiny_models / "bar.json")
    assert manifest.task == "bar" and "--tiny" in manifest.training["command"].split()
    for who in ("network_alone", "reader_tables"):
        assert set(manifest.metrics[who]["validation"]) == checkpoints
    manifest = read_manifest(tiny_models / "meter.json")
    assert manifest.task == "meter"
    assert "--task meter" in manifest.training["command"]
    for who in ("network", "reader", "reader_with_network"):
        assert set(manifest.metrics["validation"][who]) == checkpoints
    row = onset_features([0, 6, 12], [60, 62, 64], [0, 0, 0], 2)[-1]
    for task, classes in (("bar", 4), ("meter", 6)):
        net = load_model(task, models_dir=tiny_models)
        assert isinstance(net, OnsetNet)
        logits, state = net.step(row, net.zero_state())
        assert logits.shape == (classes,) and state.shape == net.zero_state().shape


@pytest.mark.slow
def test_instrument_evaluate_runs_on_the_tiny_models(tiny_models):
    proc = subprocess.run(
        [sys.executable, "-m", "instrument", "evaluate", str(REPO / "tests" / "data"),
         "--json", "--models-dir", str(tiny_models)],
        capture_output=True, text=True, timeout=120, cwd=REPO, check=False,
    )
    assert proc.returncode == 0, proc.stderr
    result = json.loads(proc.stdout)
    assert result["files"] == 4
    assert set(result["continuation"]["model"]) >= {"top1", "nll_bits"}
    assert set(result["accompaniment"]["rules"]) >= {"note_in_chord", "change_rate"}
