"""Security: models only from the configured directory and only with a matching sha256;
no pickle or eval of anything a user supplies; no network listener, the status socket
local and owner-only (tests/deploy/test_status.py checks its permissions)."""

from __future__ import annotations

import ast
import json
import shutil
from pathlib import Path

import pytest

from instrument.commands.warmup import warm_one
from instrument.models import ModelError, load_model

REPO = Path(__file__).resolve().parents[2]
PACKAGE = REPO / "instrument"


def python_files():
    return sorted(PACKAGE.rglob("*.py"))


def calls(tree: ast.AST):
    for node in ast.walk(tree):
        if isinstance(node, ast.Call):
            f = node.func
            name = f.attr if isinstance(f, ast.Attribute) else getattr(f, "id", "")
            base = f.value.id if isinstance(f, ast.Attribute) and isinstance(
                f.value, ast.Name) else ""
            yield node, base, name


def test_no_pickle_eval_or_exec_in_the_runtime():
    found = []
    for path in python_files():
        tree = ast.parse(path.read_text(), str(path))
        for node in ast.walk(tree):
            if isinstance(node, (ast.Import, ast.ImportFrom)):
                names = [a.name for a in node.names] + [getattr(node, "module", "") or ""]
                if any(n.split(".")[0] in ("pickle", "cPickle", "dill", "marshal", "shelve",
                                           "joblib") for n in names):
                    found.append(f"{path}:{node.lineno}: imports {names}")
        for node, base, name in calls(tree):
            if name in ("eval", "exec") and not base:
                found.append(f"{path}:{node.lineno}: {name}()")
            if base == "torch" and name == "load":
                found.append(f"{path}:{node.lineno}: torch.load")
            if name == "load" and base in ("np", "numpy"):
                kw = {k.arg: k.value for k in node.keywords}
                value = kw.get("allow_pickle")
                if not (isinstance(value, ast.Constant) and value.value is False):
                    found.append(f"{path}:{node.lineno}: np.load without allow_pickle=False")
    assert found == []


def test_no_network_listener_in_the_runtime():
    found = []
    for path in python_files():
        text = path.read_text()
        for needle in ("AF_INET", "socketserver", "http.server", "HTTPServer", "0.0.0.0"):
            if needle in text:
                found.append(f"{path}: {needle}")
    assert found == []


@pytest.fixture
def escaping_model(tmp_path, model_pair):
    """A models directory whose manifest names an ONNX file outside it (same bytes, so
    the sha256 matches)."""
    models = tmp_path / "models"
    outside = tmp_path / "elsewhere"
    models.mkdir()
    outside.mkdir()
    shutil.copy(model_pair / "continuation.onnx", outside / "evil.onnx")
    data = json.loads((model_pair / "continuation.json").read_text())
    data["onnx"] = "../elsewhere/evil.onnx"
    (models / "continuation.json").write_text(json.dumps(data))
    return models


def test_warmup_refuses_a_manifest_naming_a_file_outside_the_models_dir(escaping_model):
    with pytest.raises(ModelError, match="models load only from their own directory"):
        warm_one(escaping_model / "continuation.json", escaping_model, ["cpu"],
                 escaping_model / "cache")


def test_loader_refuses_a_manifest_naming_a_file_outside_the_models_dir(escaping_model):
    with pytest.raises(ModelError, match="models load only from their own directory"):
        load_model("continuation", ["cpu"], escaping_model)


def test_a_valid_model_loads_and_a_changed_one_is_refused_by_its_sha256(tmp_path, model_pair):
    for suffix in (".json", ".onnx"):
        shutil.copy(model_pair / f"continuation{suffix}", tmp_path / f"continuation{suffix}")
    assert load_model("continuation", ["cpu"], tmp_path).manifest.name == "continuation"
    data = bytearray((tmp_path / "continuation.onnx").read_bytes())
    data[-1] ^= 0x01
    (tmp_path / "continuation.onnx").write_bytes(bytes(data))
    with pytest.raises(ModelError, match="sha256 mismatch"):
        load_model("continuation", ["cpu"], tmp_path)
