"""A verified ONNX session that runs one step at a time, with its state and its timer.

:class:`OnnxStepper` is the common part of the neural generators. It is built from a
manifest that has already been checked (sha256, signature), owns the session, feeds the
streaming state back from each step to the next, and times every ``run``.

Real-time rules: ``run_step`` is called on the engine thread, never in the audio or
MIDI callback. onnxruntime releases the GIL inside ``run``, and with the tuned session
options one step runs on one core without spinning.
"""

from __future__ import annotations

import time
from collections.abc import Mapping

import numpy as np

from instrument.models.manifest import ModelManifest, verify_signature
from instrument.realtime.histogram import TimingHistogram

_NP_DTYPES = {"float32": np.float32, "int64": np.int64}


class OnnxStepper:
    """Runs a streaming model: ``run_step(inputs)`` -> outputs, state carried internally."""

    def __init__(self, manifest: ModelManifest, session) -> None:
        verify_signature(manifest, session)
        self.manifest = manifest
        self.session = session
        self.timer = TimingHistogram()  # every session.run since the last reset
        self._output_names = [t.name for t in manifest.outputs]
        self._state_pairs = [(p.input, p.output) for p in manifest.state]
        self._state_specs = {p.input: manifest.input(p.input) for p in manifest.state}
        self._state: dict[str, np.ndarray] = {}
        self.reset_state()

    @property
    def providers(self) -> list[str]:
        return list(self.session.get_providers())

    def reset_state(self) -> None:
        self._state = {
            name: np.zeros(spec.shape, dtype=_NP_DTYPES[spec.dtype])
            for name, spec in self._state_specs.items()
        }

    def get_state(self) -> dict[str, np.ndarray]:
        """A copy of the streaming state (to branch or restore a context)."""
        return {k: v.copy() for k, v in self._state.items()}

    def set_state(self, state: Mapping[str, np.ndarray]) -> None:
        self._state = {k: np.array(v, copy=True) for k, v in state.items()}

    def run_step(self, inputs: Mapping[str, np.ndarray]) -> dict[str, np.ndarray]:
        """One ``session.run`` with ``inputs`` plus the current state; advances the state."""
        feeds = dict(inputs)
        feeds.update(self._state)
        t0 = time.perf_counter()
        values = self.session.run(self._output_names, feeds)
        self.timer.record(time.perf_counter() - t0)
        out = dict(zip(self._output_names, values, strict=True))
        for inp, outp in self._state_pairs:
            self._state[inp] = out[outp]
        return out
