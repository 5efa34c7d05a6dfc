"""Loading through the manifest: every mismatch fails with a ModelError naming the file."""

from __future__ import annotations

import json
import logging
import shutil
from pathlib import Path

import pytest

from instrument.models import ModelError, load_model
from instrument.models.loader import verify
from instrument.models.manifest import read_manifest
from instrument.models.onnx_sessions import create_session, requested_providers
from instrument.models.onnx_signature import read_signature
from instrument.places import SOURCE_MODELS_DIR

NAMES = ("continuation", "accompaniment")


@pytest.fixture
def model_copy(tmp_path) -> Path:
    """A private copy of the shipped continuation model pair to tamper with."""
    for suffix in (".onnx", ".json"):
        shutil.copy(SOURCE_MODELS_DIR / f"continuation{suffix}", tmp_path / f"m{suffix}")
    data = json.loads((tmp_path / "m.json").read_text())
    data["onnx"] = "m.onnx"
    (tmp_path / "m.json").write_text(json.dumps(data))
    return tmp_path


def edit(path: Path, change) -> None:
    data = json.loads((path / "m.json").read_text())
    change(data)
    (path / "m.json").write_text(json.dumps(data))


@pytest.mark.parametrize("name", NAMES)
def test_shipped_manifests_match_their_onnx_files(name):
    manifest = verify(name)
    sig = read_signature(manifest.onnx_path.read_bytes())
    assert sig.opset == manifest.opset == 17
    assert [v.name for v in sig.inputs] == [t.name for t in manifest.inputs]
    assert [tuple(v.shape) for v in sig.outputs] == [t.shape for t in manifest.outputs]
    assert manifest.metrics["split"] == "validation"
    assert manifest.training["data"]["split"].startswith("validation = ")


def test_a_copy_loads(model_copy):
    assert load_model(model_copy / "m.json").manifest.name == "continuation"


def test_changed_onnx_bytes_fail_the_sha256_check(model_copy):
    with open(model_copy / "m.onnx", "ab") as f:
        f.write(b"\0")
    with pytest.raises(ModelError, match=r"m\.onnx: sha256 mismatch"):
        load_model(model_copy / "m.json")


def test_missing_onnx_file_is_named(model_copy):
    (model_copy / "m.onnx").unlink()
    with pytest.raises(ModelError, match=r"m\.onnx: model file missing"):
        load_model(model_copy / "m.json")


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (lambda d: d["inputs"][0].update(name="notes"), r"inputs differ .*missing \['notes'\]"),
        (lambda d: d["inputs"][0].update(shape=[1, 8]), r"input 'event' has shape \[1, 7\]"),
        (lambda d: d["inputs"][0].update(dtype="float32"), r"input 'event' is int64"),
        (lambda d: d["outputs"][0].update(shape=[1, 99]), r"output 'pitch_logits' has shape"),
        (lambda d: d.update(opset=13), r"opset is 17, manifest says 13"),
    ],
)
def test_signature_mismatches_are_caught_before_a_session_exists(model_copy, change, message):
    edit(model_copy, change)
    # the sha256 still matches: only the declared signature is wrong
    with pytest.raises(ModelError, match=message) as info:
        load_model(model_copy / "m.json")
    assert str(model_copy / "m.onnx") in str(info.value)


def test_an_encoding_this_runtime_does_not_speak_is_refused(model_copy):
    edit(model_copy, lambda d: d["encoding"].update(duration_ticks=[1, 2, 3]))
    with pytest.raises(ModelError, match=r"m\.json: encoding field 'duration_ticks'"):
        load_model(model_copy / "m.json")


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("{not json", "not valid JSON"),
        (json.dumps({"format": "other/1"}), "format 'other/1'"),
        (json.dumps({"format": "instrument-model/1", "task": "dance"}), "task 'dance'"),
    ],
)
def test_broken_manifests_name_the_file(model_copy, text, message):
    (model_copy / "m.json").write_text(text)
    with pytest.raises(ModelError, match=message) as info:
        read_manifest(model_copy / "m.json")
    assert info.value.path == str(model_copy / "m.json")


def test_unknown_provider_names_are_rejected():
    with pytest.raises(ValueError, match="unknown execution provider 'gpu'"):
        requested_providers(["gpu"])


def test_unusable_gpu_providers_fall_back_to_cpu_with_a_logged_reason(
    caplog, tmp_path, monkeypatch
):
    from instrument.models import onnx_sessions

    monkeypatch.setattr(onnx_sessions, "_failed", {})  # reasons are logged once per process
    caplog.set_level(logging.INFO, logger="instrument.models.onnx_sessions")
    sess = create_session(SOURCE_MODELS_DIR / "continuation.onnx", ["tensorrt", "cuda", "cpu"],
                          engine_cache_dir=tmp_path / "trt")
    used = sess.get_providers()[0]
    for short, full in (("tensorrt", "TensorrtExecutionProvider"),
                        ("cuda", "CUDAExecutionProvider")):
        if used == full:
            break
        assert any(full in r.getMessage() or short in r.getMessage()
                   for r in caplog.records if r.levelno >= logging.WARNING), short
    assert any("running on" in r.getMessage() for r in caplog.records)


def test_a_gpu_provider_without_its_libraries_is_skipped_quietly(monkeypatch, capfd, caplog):
    """No onnxruntime banner on the console: the missing library is named in the log."""
    import onnxruntime

    from instrument.models import onnx_sessions

    if "CUDAExecutionProvider" not in onnxruntime.get_available_providers():
        pytest.skip("needs onnxruntime-gpu: plain onnxruntime has no GPU providers to try")

    monkeypatch.setattr(onnx_sessions, "_failed", {})
    for provider in ("CUDAExecutionProvider", "TensorrtExecutionProvider"):
        monkeypatch.setitem(onnx_sessions._NEEDS, provider, [("libno-such-driver.so.1",)])
    caplog.set_level(logging.WARNING, logger="instrument.models.onnx_sessions")
    sess = create_session(SOURCE_MODELS_DIR / "continuation.onnx", ["tensorrt", "cuda", "cpu"])
    assert sess.get_providers() == ["CPUExecutionProvider"]
    out, err = capfd.readouterr()
    assert "EP Error" not in out + err
    skipped = [r.getMessage() for r in caplog.records]
    assert sum("libno-such-driver.so.1 not found" in m for m in skipped) == 2
