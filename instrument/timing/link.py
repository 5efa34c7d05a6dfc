"""Ableton Link: share one beat with other boxes and laptops on the stage network.

Uses aalink (the optional ``link`` extra). aalink runs on an asyncio loop; here the loop
lives on a thread of its own, which every ``interval`` seconds reads Link's beat and
tempo together with the engine's clock time and publishes them as one tuple. The engine
thread reads the latest tuple (``latest``) and moves its beat clock; it never waits on
Link. A tempo set here (tap tempo) is proposed to the whole Link session.
"""

from __future__ import annotations

import asyncio
import logging
import threading
import warnings
from collections.abc import Callable

log = logging.getLogger(__name__)


class LinkUnavailable(RuntimeError):
    """aalink is not installed."""


class LinkSession:
    """A Link peer (see the module docstring)."""

    def __init__(
        self, bpm: float, now: Callable[[], float], quantum: float = 4.0, interval: float = 0.02
    ) -> None:
        try:
            import aalink  # noqa: F401
        except ImportError as exc:
            raise LinkUnavailable(
                "tempo.source is link but aalink is not installed: pip install 'instrument[link]'"
            ) from exc
        self.bpm = bpm
        self.now = now
        self.quantum = quantum
        self.interval = interval
        self._latest: tuple[float, float, float] | None = None
        self._peers = 0
        self._tempo_request: float | None = None
        self._stop = threading.Event()
        self._started = threading.Event()
        self._thread = threading.Thread(target=self._run, name="link", daemon=True)

    def start(self) -> None:
        self._thread.start()
        self._started.wait(2.0)

    def _run(self) -> None:
        asyncio.run(self._main())

    async def _main(self) -> None:
        from aalink import Link

        loop = asyncio.get_running_loop()
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", DeprecationWarning)
            link = Link(self.bpm, loop)
        link.quantum = self.quantum
        link.enabled = True
        self._started.set()
        while not self._stop.is_set():
            if self._tempo_request is not None:
                link.tempo, self._tempo_request = self._tempo_request, None
            # Read Link and our clock back to back: one consistent sample.
            self._latest = (self.now(), float(link.beat), float(link.tempo))
            if link.num_peers != self._peers:
                self._peers = link.num_peers
                log.info("Ableton Link: %d other peer(s)", self._peers)
            await asyncio.sleep(self.interval)
        link.enabled = False

    def latest(self) -> tuple[float, float, float] | None:
        """(clock time, beat at that time, tempo) of the last sample, or None yet."""
        return self._latest

    def propose_tempo(self, bpm: float) -> None:
        """Any thread: ask the Link session to change tempo (all peers follow)."""
        self._tempo_request = bpm

    def stop(self) -> None:
        self._stop.set()
        if self._thread.is_alive():
            self._thread.join(timeout=2.0)
