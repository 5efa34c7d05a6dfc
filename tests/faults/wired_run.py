"""``instrument run`` with the status socket and systemd notifications wired in, for tests.

Test-only stand-in for the wiring that belongs in ``instrument.session.Session`` (see
the ISSUE 5 report): a subclass starts a :class:`~instrument.status.StatusServer` and a
:class:`~instrument.systemd.Watchdog` after ``start()``, sends ``READY=1`` when the
instrument is ready to play and ``STOPPING=1`` when it stops. If ``Session`` already has
that wiring (it defines ``status_snapshot``), it runs unchanged.

Run as ``python -m tests.faults.wired_run run ARGS...`` (the same arguments as
``instrument``).
"""

from __future__ import annotations

import os
import sys
import threading
import time

from instrument import __version__, systemd
from instrument import session as session_module
from instrument.cli import main
from instrument.status import StatusServer, socket_path


class WiredSession(session_module.Session):
    def start(self) -> None:
        self._started_at = time.monotonic()
        self._engine_loops = 0
        self._loops_lock = threading.Lock()
        self._status = None
        self._watchdog = None
        super().start()
        engine = self.engine
        if engine is not None:
            step = engine.step

            def counted_step() -> None:
                self._engine_loops += 1
                step()

            engine.step = counted_step  # the engine thread looks it up on every pass
        service = self.config.service
        if service.status:
            self._status = StatusServer(socket_path(service.status_socket),
                                        self.status_snapshot)
            self._status.start()
        if service.watchdog:
            self._watchdog = systemd.Watchdog(self.status_snapshot)
            self._watchdog.start()
        systemd.notify_ready()

    def status_snapshot(self) -> dict:
        cfg = self.config
        host = self.host
        stats = self.stats()
        midi_in = None
        watcher = self.watcher
        if watcher is not None:
            for handler in getattr(watcher, "handlers", getattr(watcher, "_handlers", [])):
                if handler is not self.sender and getattr(handler, "connected_to", None):
                    midi_in = handler.connected_to
        return {
            "pid": os.getpid(),
            "version": __version__,
            "uptime_s": time.monotonic() - self._started_at,
            "mode": cfg.mode,
            "tempo_bpm": None,
            "midi_in": midi_in,
            "midi_out": getattr(self.sender, "connected_to", None),
            "audio": {
                "backend": self.plan.audio,
                "rate": host.rate if host else cfg.audio.rate,
                "buffer": host.period if host else cfg.audio.buffer,
            },
            "xruns": stats["xruns"],
            "recording": str(self.recorder.path) if self.recorder else None,
            "input_received": stats["input_received"],
            "input_dropped": stats["input_dropped"],
            "engine_loops": self._engine_loops,
            "audio_cycles": host.cycles if host else None,
        }

    def stop(self) -> None:
        systemd.notify_stopping()
        if self._watchdog is not None:
            self._watchdog.stop()
        if self._status is not None:
            self._status.stop()
        super().stop()


if __name__ == "__main__":
    if not hasattr(session_module.Session, "status_snapshot"):
        session_module.Session = WiredSession
    sys.exit(main(sys.argv[1:]))
