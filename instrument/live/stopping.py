"""Stopping a running instrument, shared by both layouts (``instrument.live.layouts``): how
it is asked to stop, and how each piece is stopped so that one failing never keeps the
next from stopping (nothing may be left sounding)."""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable

log = logging.getLogger(__name__)


class StopRequests:
    """How a running instrument (``RunningInstrument``) is asked to stop: from any thread
    or a signal handler; the first non-zero code becomes ``exit_code``."""

    def __init__(self) -> None:
        self.exit_code = 0
        self.stop_requested = threading.Event()

    def request_stop(self, code: int = 0, reason: str = "") -> None:
        """Ask the main thread to stop (it is waiting in ``wait``)."""
        if reason:
            log.log(logging.ERROR if code else logging.INFO, "stopping: %s", reason)
        if code and not self.exit_code:
            self.exit_code = code
        self.stop_requested.set()


def stop_safely(name: str, action: Callable[[], object]) -> None:
    """Run one stopping step; an error is logged and the caller goes on to the next."""
    try:
        action()
    except Exception:
        log.exception("error while stopping %s", name)
