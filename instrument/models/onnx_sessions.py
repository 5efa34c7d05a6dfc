"""onnxruntime sessions: execution providers from config, low-latency options, errors.

Provider names in config are short (``"tensorrt"``, ``"cuda"``, ``"cpu"``), tried in the
order given. A provider that is not compiled into this onnxruntime, or that cannot be
initialised on this machine (no GPU, missing CUDA or TensorRT libraries), is skipped with
a logged reason; the CPU provider is always the last resort. TensorRT gets an engine
cache directory so its engines are built once, not at every start.

Sessions are created on the engine thread or before it starts, never in the audio
callback. Creating one takes milliseconds on CPU and can take minutes the first time
TensorRT builds an engine.
"""

from __future__ import annotations

import ctypes
import logging
import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from instrument.names import Provider

log = logging.getLogger(__name__)

#: onnxruntime's name of each of our execution providers.
PROVIDERS = {
    Provider.TENSORRT: "TensorrtExecutionProvider",
    Provider.CUDA: "CUDAExecutionProvider",
    Provider.CPU: "CPUExecutionProvider",
}
_failed: dict[str, str] = {}  # provider -> why it failed, for this process

# Libraries a GPU provider needs before onnxruntime can even try it. Asking onnxruntime
# without them prints a banner on stdout and costs a failed session; checking is cheap.
# CUDA's runtime and cuDNN are left to onnxruntime: its wheels find them in pip packages.
_DRIVER = ("libcuda.so.1",)
_TENSORRT = ("libnvinfer.so.10", "libnvinfer.so.11", "libnvinfer.so.8")
_NEEDS = {
    "CUDAExecutionProvider": [_DRIVER],
    "TensorrtExecutionProvider": [_DRIVER, _TENSORRT],
}


class ModelError(Exception):
    """A model file pair cannot be used; the message names the file and what is wrong."""

    def __init__(self, path: os.PathLike | str, problem: str) -> None:
        self.path = str(path)
        self.problem = problem
        super().__init__(f"{self.path}: {problem}")


def _ort():
    import onnxruntime

    return onnxruntime


def session_options(tuned: bool = True):
    """Session options. ``tuned``: one intra-op thread, no spinning, sequential execution.

    Spinning threads burn a core waiting for work, which steals time from the audio
    thread; a single intra-op thread keeps a one-note step on one core with no hand-offs.
    ``tuned=False`` gives onnxruntime's defaults (for benchmarks).
    """
    ort = _ort()
    so = ort.SessionOptions()
    so.log_severity_level = 3
    if tuned:
        so.intra_op_num_threads = 1
        so.inter_op_num_threads = 1
        so.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
        so.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
        so.add_session_config_entry("session.intra_op.allow_spinning", "0")
        so.add_session_config_entry("session.inter_op.allow_spinning", "0")
    return so


def _provider_entry(name: str, engine_cache_dir: Path | None) -> Any:
    if name == "TensorrtExecutionProvider":
        opts: dict[str, Any] = {}
        if engine_cache_dir is not None:
            engine_cache_dir.mkdir(parents=True, exist_ok=True)
            opts.update(
                trt_engine_cache_enable=True,
                trt_engine_cache_path=str(engine_cache_dir),
                trt_timing_cache_enable=True,
                trt_timing_cache_path=str(engine_cache_dir),
            )
        return (name, opts)
    return name


def _quiet_session(ort, path: str, so, entries: list[Any]):
    """Create a session with onnxruntime's own provider-failure noise turned down."""
    ort.set_default_logger_severity(4)
    try:
        return ort.InferenceSession(path, so, providers=entries)
    finally:
        ort.set_default_logger_severity(2)


def requested_providers(names: Sequence[str]) -> list[str]:
    """onnxruntime names for config names, in order, CPU appended if missing.

    Raises ValueError for a name that is not one of :data:`PROVIDERS`. Providers not
    compiled into this onnxruntime are dropped here, with a logged reason.
    """
    ort = _ort()
    compiled = set(ort.get_available_providers())
    out: list[str] = []
    for name in names:
        key = name.lower()
        if key not in PROVIDERS:
            raise ValueError(f"unknown execution provider {name!r}: use one of {list(PROVIDERS)}")
        ort_name = PROVIDERS[key]
        if ort_name not in compiled:
            log.warning(
                "execution provider %r skipped: not compiled into onnxruntime %s",
                name,
                ort.__version__,
            )
        elif ort_name not in out:
            out.append(ort_name)
    if "CPUExecutionProvider" not in out:
        out.append("CPUExecutionProvider")
    return out


def _pip_library_dirs() -> list[Path]:
    """Where pip's TensorRT packages put their libraries (tensorrt-cu12-libs and kin)."""
    import importlib.util

    dirs = []
    for package in ("tensorrt_libs", "tensorrt_cu12_libs", "tensorrt_cu13_libs"):
        spec = importlib.util.find_spec(package)
        if spec is not None and spec.submodule_search_locations:
            dirs += [Path(p) for p in spec.submodule_search_locations]
    return dirs


def _loadable(names: Sequence[str]) -> bool:
    candidates = list(names) + [
        str(d / n) for d in _pip_library_dirs() for n in names if names is _TENSORRT
    ]
    for name in candidates:
        try:
            ctypes.CDLL(name)
        except OSError:
            continue
        return True
    return False


def missing_libraries(ort_name: str) -> str | None:
    """Why ``ort_name`` cannot start on this machine (a library not found), or None.

    Only a first check: a provider that passes it can still fail to initialise.
    """
    for alternatives in _NEEDS.get(ort_name, []):
        if not _loadable(alternatives):
            what = "no NVIDIA driver" if alternatives is _DRIVER else "TensorRT not installed"
            return f"{' or '.join(alternatives)} not found ({what})"
    return None


def create_session(
    onnx_path: os.PathLike | str,
    providers: Sequence[str] = ("cpu",),
    tuned: bool = True,
    engine_cache_dir: os.PathLike | str | None = None,
):
    """An ``InferenceSession`` for ``onnx_path`` on the first provider that initialises.

    Each requested provider is tried in order; one that cannot be initialised here (no
    GPU, missing CUDA/cuDNN/TensorRT libraries) is logged with the reason and remembered
    for the rest of the process, and the next one is tried, down to the CPU.
    """
    ort = _ort()
    cache = Path(engine_cache_dir) if engine_cache_dir is not None else None
    chain = requested_providers(providers)
    path = str(onnx_path)
    for i, ort_name in enumerate(chain):
        if ort_name in _failed:
            continue
        missing = missing_libraries(ort_name)
        if missing is not None:
            _failed[ort_name] = missing
            log.warning("execution provider %s skipped: %s", ort_name, missing)
            continue
        entries = [_provider_entry(n, cache) for n in chain[i:] if n not in _failed]
        try:
            sess = _quiet_session(ort, path, session_options(tuned), entries)
        except Exception as exc:  # onnxruntime raises its own RuntimeError subclasses
            if ort_name == "CPUExecutionProvider":
                raise ModelError(onnx_path, f"onnxruntime cannot load it: {exc}") from exc
            _failed[ort_name] = f"session creation raised {type(exc).__name__}: {exc}"
        else:
            if sess.get_providers()[0] == ort_name:
                log.info("%s: running on %s", Path(path).name, sess.get_providers())
                return sess
            _failed[ort_name] = (
                "could not be initialised here (no GPU, or its CUDA/cuDNN/TensorRT "
                "libraries are missing)"
            )
        log.warning("execution provider %s skipped: %s", ort_name, _failed[ort_name])
    raise ModelError(onnx_path, "no execution provider could run it")  # pragma: no cover
