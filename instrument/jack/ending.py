"""Stopping a JACK client's cycles without cancelling its thread inside Python.

JACK2's ``jack_deactivate`` (and ``jack_client_close``, which deactivates first) stops
the client's process thread with ``pthread_cancel`` once the server has taken the client
out of its graph. With a Python process callback that thread may still be inside the
interpreter then: a cycle running late (a busy machine), or one waiting for the GIL. A
thread cancelled there never gives the GIL back, and every other thread of the process
waits for it for ever: ``instrument run`` hung that way after SIGTERM, its main thread in
``Client.deactivate`` and its JACK process thread gone.

``ProcessEnd`` parks the cycles first: from the next one on the callback only silences
the client's outputs, a few microseconds, and ``deactivate`` waits until a parked cycle
has run before it asks JACK to stop them. With a synchronous server (the tests' and
benchmarks'), which waits for each client's cycle, the last cycle has always finished
when JACK cancels the thread. With an asynchronous one (the stage's), a parked cycle can
still be caught waiting for the GIL if another Python thread holds it at that instant;
the stop paths run nothing else then.

(Raising ``jack.CallbackExit`` instead, which has libjack end the cycles from its own
thread, cancels nothing, but on a synchronous server it stalls the whole graph for
seconds: the server triggers the client once more while its thread waits for the reply.)
"""

from __future__ import annotations

import contextlib
import time
from collections.abc import Callable

import jack

from instrument.realtime.cycle import silence


class ProcessEnd:
    """Registers ``process`` as ``client``'s process callback, in a wrapper that parks the
    cycles before the client is deactivated (see the module docstring)."""

    def __init__(self, client: jack.Client, process: Callable[[int], None]) -> None:
        self._client = client
        self._process = process
        self._parked = False
        self.parked_cycles = 0
        client.set_process_callback(self._callback)

    def _callback(self, frames: int) -> None:
        if self._parked:
            silence(self._client)
            self.parked_cycles += 1
            return
        self._process(frames)

    def deactivate(self, timeout: float = 2.0) -> None:
        """No more cycles: park them, wait (at most ``timeout``: a server that stopped or
        dropped the client runs none) until a parked one has finished, then deactivate."""
        self._parked = True
        target = self.parked_cycles + 2  # the first may have begun before the flag
        deadline = time.monotonic() + timeout
        while self.parked_cycles < target and time.monotonic() < deadline:
            time.sleep(0.001)
        with contextlib.suppress(jack.JackError):
            self._client.deactivate()
