"""The JSON manifest beside each ONNX model, parsed into typed dataclasses and checked.

A model is a file pair ``name.onnx`` + ``name.json``. The manifest holds the name,
version and task, every input and output with shape and dtype, which inputs/outputs
carry the streaming state, the event encoding and vocabulary, sampling defaults, the
training data and split, validation metrics (with the baselines' figures) and the
sha256 of the ONNX file. :func:`read_manifest` parses and validates it;
:func:`verify_file` checks the hash, :func:`verify_onnx` checks the file's inputs,
outputs and opset before any session exists, and :func:`verify_signature` checks a
session's view of them. Every failure is a :class:`ModelError` naming the file.
"""

from __future__ import annotations

import hashlib
import json
import os
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from instrument.models.onnx_sessions import ModelError
from instrument.models.onnx_signature import SignatureError, read_signature

MANIFEST_FORMAT = "instrument-model/1"
TASKS = ("continuation", "accompaniment", "bar", "meter")
DTYPES = ("float32", "int64")


@dataclass(frozen=True)
class TensorSpec:
    """One model input or output: a name, a fixed shape and a dtype."""

    name: str
    shape: tuple[int, ...]
    dtype: str
    description: str = ""

    def to_json(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "shape": list(self.shape),
            "dtype": self.dtype,
            "description": self.description,
        }


@dataclass(frozen=True)
class StatePair:
    """A streaming state: fed back from output ``output`` to input ``input`` each step."""

    input: str
    output: str


@dataclass(frozen=True)
class ModelManifest:
    """A parsed, validated manifest. ``path`` is the JSON file; ``onnx_path`` the model."""

    path: Path
    name: str
    version: str
    task: str
    onnx_file: str
    sha256: str
    opset: int
    inputs: tuple[TensorSpec, ...]
    outputs: tuple[TensorSpec, ...]
    state: tuple[StatePair, ...]
    encoding: dict[str, Any]
    sampling: dict[str, Any]
    training: dict[str, Any] = field(default_factory=dict)
    metrics: dict[str, Any] = field(default_factory=dict)

    @property
    def onnx_path(self) -> Path:
        return self.path.parent / self.onnx_file

    def input(self, name: str) -> TensorSpec:
        return next(t for t in self.inputs if t.name == name)

    def output(self, name: str) -> TensorSpec:
        return next(t for t in self.outputs if t.name == name)


def sha256_file(path: os.PathLike | str) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def _need(data: dict, key: str, kind: type | tuple[type, ...], path: Path) -> Any:
    if key not in data:
        raise ModelError(path, f"manifest has no {key!r}")
    value = data[key]
    if not isinstance(value, kind) or (isinstance(value, bool) and kind is not bool):
        kind_name = type(value).__name__
        raise ModelError(path, f"manifest field {key!r} has the wrong type ({kind_name})")
    return value


def _tensor(item: Any, where: str, path: Path) -> TensorSpec:
    if not isinstance(item, dict):
        raise ModelError(path, f"{where} entries must be objects")
    name = _need(item, "name", str, path)
    shape = _need(item, "shape", list, path)
    if not shape or not all(isinstance(d, int) and d > 0 for d in shape):
        raise ModelError(path, f"{where} {name!r}: shape must be positive integers, got {shape}")
    dtype = _need(item, "dtype", str, path)
    if dtype not in DTYPES:
        raise ModelError(path, f"{where} {name!r}: dtype {dtype!r} is not one of {DTYPES}")
    return TensorSpec(name, tuple(shape), dtype, str(item.get("description", "")))


def parse_manifest(data: Any, path: os.PathLike | str) -> ModelManifest:
    """Validate a manifest already loaded from JSON."""
    p = Path(path)
    if not isinstance(data, dict):
        raise ModelError(p, "manifest must be a JSON object")
    fmt = data.get("format")
    if fmt != MANIFEST_FORMAT:
        raise ModelError(p, f"manifest format {fmt!r} is not {MANIFEST_FORMAT!r}")
    task = _need(data, "task", str, p)
    if task not in TASKS:
        raise ModelError(p, f"task {task!r} is not one of {TASKS}")
    inputs = tuple(_tensor(t, "input", p) for t in _need(data, "inputs", list, p))
    outputs = tuple(_tensor(t, "output", p) for t in _need(data, "outputs", list, p))
    for kind, specs in (("input", inputs), ("output", outputs)):
        names = [t.name for t in specs]
        if len(set(names)) != len(names):
            raise ModelError(p, f"duplicate {kind} names in {names}")
    state = []
    for item in _need(data, "state", list, p):
        pair = StatePair(_need(item, "input", str, p), _need(item, "output", str, p))
        if pair.input not in {t.name for t in inputs}:
            raise ModelError(p, f"state input {pair.input!r} is not a declared input")
        if pair.output not in {t.name for t in outputs}:
            raise ModelError(p, f"state output {pair.output!r} is not a declared output")
        spec_in = next(t for t in inputs if t.name == pair.input)
        spec_out = next(t for t in outputs if t.name == pair.output)
        if (spec_in.shape, spec_in.dtype) != (spec_out.shape, spec_out.dtype):
            raise ModelError(p, f"state {pair.input!r} and {pair.output!r} differ in shape/dtype")
        state.append(pair)
    onnx_file = _need(data, "onnx", str, p)
    if not onnx_file or Path(onnx_file).name != onnx_file or onnx_file in (".", ".."):
        raise ModelError(
            p, f"onnx {onnx_file!r} must be a file name beside the manifest, not a path: "
            "models load only from their own directory"
        )
    sha = _need(data, "sha256", str, p)
    if len(sha) != 64 or any(c not in "0123456789abcdef" for c in sha):
        raise ModelError(p, f"sha256 {sha!r} is not 64 lowercase hex digits")
    return ModelManifest(
        path=p,
        name=_need(data, "name", str, p),
        version=_need(data, "version", str, p),
        task=task,
        onnx_file=onnx_file,
        sha256=sha,
        opset=_need(data, "opset", int, p),
        inputs=inputs,
        outputs=outputs,
        state=tuple(state),
        encoding=_need(data, "encoding", dict, p),
        sampling=_need(data, "sampling", dict, p),
        training=data.get("training", {}),
        metrics=data.get("metrics", {}),
    )


def read_manifest(path: os.PathLike | str) -> ModelManifest:
    p = Path(path)
    try:
        text = p.read_text(encoding="utf-8")
    except OSError as exc:
        raise ModelError(p, f"cannot read manifest: {exc.strerror or exc}") from exc
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        raise ModelError(p, f"manifest is not valid JSON: {exc}") from exc
    return parse_manifest(data, p)


def verify_file(manifest: ModelManifest) -> bytes:
    """Check the ONNX file exists and its sha256 matches the manifest; return its bytes."""
    onnx_path = manifest.onnx_path
    try:
        data = onnx_path.read_bytes()
    except OSError as exc:
        raise ModelError(
            onnx_path, f"model file missing or unreadable (named by {manifest.path.name})"
        ) from exc
    actual = hashlib.sha256(data).hexdigest()
    if actual != manifest.sha256:
        raise ModelError(
            onnx_path,
            f"sha256 mismatch: manifest {manifest.path.name} says {manifest.sha256}, "
            f"file has {actual}",
        )
    return data


_ORT_DTYPES = {"tensor(float)": "float32", "tensor(int64)": "int64"}


def _check_side(kind: str, declared: Sequence[TensorSpec], actual: Sequence[Any], path) -> None:
    """``actual`` items have ``name``, ``shape`` and ``type`` (onnxruntime) or ``dtype``."""
    want = {t.name: t for t in declared}
    have = {a.name: a for a in actual}
    if set(want) != set(have):
        missing = sorted(set(want) - set(have))
        extra = sorted(set(have) - set(want))
        raise ModelError(
            path, f"{kind}s differ from the manifest: missing {missing}, undeclared {extra}"
        )
    for name, spec in want.items():
        a = have[name]
        dtype = a.dtype if hasattr(a, "dtype") else _ORT_DTYPES.get(a.type, a.type)
        if dtype != spec.dtype:
            raise ModelError(path, f"{kind} {name!r} is {dtype}, manifest says {spec.dtype}")
        if tuple(a.shape) != spec.shape:
            raise ModelError(
                path, f"{kind} {name!r} has shape {list(a.shape)}, manifest says {list(spec.shape)}"
            )


def verify_onnx(manifest: ModelManifest, data: bytes) -> None:
    """Check the ONNX bytes' inputs, outputs and opset against the manifest (no session)."""
    path = manifest.onnx_path
    try:
        sig = read_signature(data)
    except SignatureError as exc:
        raise ModelError(path, f"not a readable ONNX model: {exc}") from exc
    _check_side("input", manifest.inputs, sig.inputs, path)
    _check_side("output", manifest.outputs, sig.outputs, path)
    if sig.opset != manifest.opset:
        raise ModelError(path, f"opset is {sig.opset}, manifest says {manifest.opset}")


def verify_signature(manifest: ModelManifest, session: Any) -> None:
    """Check a session's inputs and outputs (names, shapes, dtypes) against the manifest."""
    path = manifest.onnx_path
    _check_side("input", manifest.inputs, session.get_inputs(), path)
    _check_side("output", manifest.outputs, session.get_outputs(), path)


def write_manifest(data: dict[str, Any], path: os.PathLike | str) -> None:
    """Write a manifest (validating it first) with stable formatting."""
    parse_manifest(data, path)
    Path(path).write_text(json.dumps(data, indent=2, sort_keys=False) + "\n", encoding="utf-8")
