"""``load_model``: from a name or path to a verified, ready-to-step generator.

Order of checks, each failing with a :class:`~instrument.models.onnx_sessions.ModelError` that
names the file and the mismatch, before any session exists:

1. the manifest parses and is complete;
2. the ONNX file's sha256 matches the manifest;
3. the file's inputs, outputs (names, shapes, dtypes) and opset match the manifest;
4. the manifest's encoding is the one this code speaks.

Then a session is created on the first usable execution provider, its own view of the
inputs and outputs is checked once more, and the task's generator is returned
(:class:`NeuralContinuator`, :class:`NeuralAccompanist`, or for the bar and meter
networks :class:`~instrument.follow.bar_net.OnsetNet`). Call its ``warm_up()``
before the first note is accepted. Loading runs before or beside the engine thread,
never in the audio callback.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING

from instrument import places
from instrument.models import accompaniment, melody
from instrument.models.accompaniment import NeuralAccompanist
from instrument.models.continuation import NeuralContinuator
from instrument.models.manifest import ModelManifest, read_manifest, verify_file, verify_onnx
from instrument.models.onnx_sessions import ModelError, create_session

if TYPE_CHECKING:
    from instrument.follow.bar_net import OnsetNet


def manifest_path(path_or_name: os.PathLike | str, models_dir: os.PathLike | str | None) -> Path:
    """The manifest for a model name (``continuation``), a ``.json`` or an ``.onnx`` path."""
    p = Path(path_or_name)
    if p.suffix == ".json":
        return p
    if p.suffix == ".onnx":
        return p.with_suffix(".json")
    if p.parent == Path(".") and not p.exists():
        return Path(models_dir or places.models_dir()) / f"{p.name}.json"
    return p.with_suffix(".json")


def check_encoding(manifest: ModelManifest) -> None:
    """The manifest's event encoding must equal the one this runtime implements."""
    if manifest.task == "continuation":
        expected = melody.encoding_spec()
    elif manifest.task in ("bar", "meter"):
        from instrument.follow.bar_net import encoding_spec

        expected = encoding_spec(manifest.task)
    else:
        deadline = manifest.encoding.get("deadline_ticks_before_beat")
        if not isinstance(deadline, int):
            raise ModelError(manifest.path, "encoding has no integer deadline_ticks_before_beat")
        name = manifest.encoding.get("name")
        if name not in accompaniment.ENCODINGS:
            raise ModelError(manifest.path, f"unknown accompaniment encoding {name!r}")
        expected = accompaniment.encoding_spec(deadline, name)
    actual = manifest.encoding
    for key, value in expected.items():
        if actual.get(key) != value:
            raise ModelError(
                manifest.path,
                f"encoding field {key!r} differs from this runtime's "
                f"({actual.get(key)!r} != {value!r}); re-export the model or update instrument",
            )


def verify(path_or_name: os.PathLike | str, models_dir=None) -> ModelManifest:
    """Run every check that needs no session; return the manifest."""
    manifest = read_manifest(manifest_path(path_or_name, models_dir))
    data = verify_file(manifest)
    verify_onnx(manifest, data)
    check_encoding(manifest)
    return manifest


def load_model(
    path_or_name: os.PathLike | str,
    providers: Sequence[str] = ("cpu",),
    models_dir: os.PathLike | str | None = None,
    engine_cache_dir: os.PathLike | str | None = None,
    tuned: bool = True,
) -> NeuralContinuator | NeuralAccompanist | OnsetNet:
    """Verify and open a model; see the module doc for the checks.

    ``providers``: config names in order of preference (``"tensorrt"``, ``"cuda"``,
    ``"cpu"``); unusable ones are skipped with a logged reason. ``engine_cache_dir``:
    where TensorRT keeps its engines. ``tuned``: low-latency session options.
    """
    manifest = verify(path_or_name, models_dir)
    session = create_session(manifest.onnx_path, providers, tuned, engine_cache_dir)
    if manifest.task == "continuation":
        return NeuralContinuator(manifest, session)
    if manifest.task in ("bar", "meter"):
        from instrument.follow.bar_net import OnsetNet

        return OnsetNet(manifest, session)
    return NeuralAccompanist(manifest, session)
