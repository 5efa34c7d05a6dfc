"""Hotplug: a watcher thread that keeps looking for the controller and outputs.

With no controller the instrument runs and waits; a controller that appears, or is
unplugged and plugged back, is connected within ``interval`` seconds (plus the time the
system takes to show the device).
"""

from __future__ import annotations

import logging
import threading
from typing import Protocol

log = logging.getLogger(__name__)


class Pollable(Protocol):
    def poll(self) -> None:
        """Look at the ports now; connect what should be connected."""
        ...


class HotplugWatcher:
    """Calls ``poll`` on each port handler every ``interval`` seconds on its own thread."""

    def __init__(self, handlers: list[Pollable], interval: float = 0.5) -> None:
        self.handlers = handlers
        self.interval = interval
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="hotplug", daemon=True)
        self.failures = 0

    def poll_once(self) -> None:
        for handler in self.handlers:
            try:
                handler.poll()
            except Exception as exc:  # a port vanishing mid-call must not stop the watcher
                self.failures += 1
                log.debug("hotplug poll of %r failed: %s", handler, exc)

    def start(self) -> None:
        self.poll_once()
        self._thread.start()

    def _run(self) -> None:
        while not self._stop.wait(self.interval):
            self.poll_once()

    def stop(self) -> None:
        self._stop.set()
        if self._thread.is_alive():
            self._thread.join(timeout=2.0)
