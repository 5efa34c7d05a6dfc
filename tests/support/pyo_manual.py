"""pyo's manual server: compute audio block by block, deterministically, no sound card."""

from __future__ import annotations

import os

os.environ.setdefault("PYO_GUI_WX", "0")

import numpy as np
import pyo

RATE = 48000
BLOCK = 64

_server: pyo.Server | None = None


def manual_server() -> pyo.Server:
    """One booted manual server per test process (pyo allows a single server)."""
    global _server
    if _server is None:
        _server = pyo.Server(sr=RATE, nchnls=2, buffersize=BLOCK, audio="manual", duplex=0)
        _server.deactivateMidi()
        _server.boot()
        _server.start()
    return _server


class Recorder:
    """Records a pyo signal while the test calls ``blocks(n)``."""

    def __init__(self, signal: pyo.PyoObject, seconds: float = 4.0) -> None:
        self.server = manual_server()
        self.table = pyo.NewTable(seconds)
        self.rec = pyo.TableRec(signal, self.table).play()
        self.count = 0

    def blocks(self, n: int) -> None:
        for _ in range(n):
            self.server.process()
        self.count += n

    def seconds(self, s: float) -> None:
        self.blocks(round(s * RATE / BLOCK))

    def audio(self) -> np.ndarray:
        return np.asarray(self.table.getTable(), dtype=np.float64)[: self.count * BLOCK]
