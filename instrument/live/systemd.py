"""systemd integration without dependencies: ``sd_notify`` and a health-checked watchdog.

Under ``Type=notify`` systemd passes ``$NOTIFY_SOCKET``, a unix datagram socket (a path,
or an abstract name written with a leading ``@``). The service tells it ``READY=1`` once
it can be played, ``WATCHDOG=1`` regularly while it is healthy (``WatchdogSec=`` in the
unit; systemd passes the interval as ``$WATCHDOG_USEC``), ``STATUS=...`` for
``systemctl status`` and ``STOPPING=1`` when it shuts down. Without ``$NOTIFY_SOCKET``
(not started by systemd) every call here does nothing.

The :class:`Watchdog` pings only while the instrument is really alive: the engine loop
and the audio callback must both have advanced since the last check, and no thread or
output may have died (the provider's ``dead`` list: the engine, MIDI out's sender
thread, the recorder). With the engine in a process of its own, the audio process is
the one systemd knows: it reads the engine's counters from the shared stats block, and
the engine process being down (while it is restarted) counts as the engine dead. If any
of that fails, the pings stop and systemd kills and restarts the service after
``WatchdogSec``.
"""

from __future__ import annotations

import logging
import os
import socket
import threading
from collections.abc import Callable, Sequence

log = logging.getLogger(__name__)

#: Counters the watchdog checks in the provider's dict; each must increase while healthy.
#: A counter that is missing or None is not checked (e.g. no audio callback offline).
HEALTH_COUNTERS = ("engine_loops", "audio_cycles")


def notify(state: str, environ: dict[str, str] | None = None) -> bool:
    """Send ``state`` (e.g. ``"READY=1"``) to systemd; False if not under systemd or it
    failed. Never raises: a notification must not take the instrument down."""
    env = os.environ if environ is None else environ
    address = env.get("NOTIFY_SOCKET", "")
    if not address:
        return False
    if address[0] == "@":  # abstract namespace
        address = "\0" + address[1:]
    elif address[0] != "/":
        return False  # only unix sockets (vsock addresses are for VMs)
    try:
        with socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM | socket.SOCK_CLOEXEC) as sock:
            sock.connect(address)
            sock.sendall(state.encode("utf-8", "replace"))
        return True
    except OSError as exc:
        log.debug("sd_notify %r failed: %s", state, exc)
        return False


def notify_ready(status: str = "ready to play") -> bool:
    return notify(f"READY=1\nSTATUS={status}")


def notify_stopping(status: str = "stopping") -> bool:
    return notify(f"STOPPING=1\nSTATUS={status}")


def watchdog_interval(environ: dict[str, str] | None = None) -> float | None:
    """Seconds systemd allows between pings (``$WATCHDOG_USEC``), or None if off.

    ``$WATCHDOG_PID``, when set, must be this process (systemd's rule, so a child that
    inherited the environment does not ping for its parent).
    """
    env = os.environ if environ is None else environ
    usec = env.get("WATCHDOG_USEC", "")
    if not usec or not env.get("NOTIFY_SOCKET"):
        return None
    pid = env.get("WATCHDOG_PID", "")
    if pid and pid != str(os.getpid()):
        return None
    try:
        seconds = int(usec) / 1e6
    except ValueError:
        return None
    return seconds if seconds > 0 else None


class Watchdog:
    """Pings ``WATCHDOG=1`` every ``interval`` seconds while the instrument is healthy.

    ``provider()`` returns a dict with the :data:`HEALTH_COUNTERS` and, optionally,
    ``dead``: names of threads or outputs that died (``running.health_report``). A ping is
    sent only if every checked counter increased since the previous check and nothing died;
    a stall is logged once (and again each time health comes back and is lost again).
    ``interval`` defaults to half of systemd's ``$WATCHDOG_USEC``; with neither,
    ``start()`` does nothing.

    ``send`` is for tests (default :func:`notify`). ``start()`` runs a daemon thread;
    ``stop()`` ends it. The provider is called on that thread: it must be cheap and
    safe to call from any thread (reading counters is).
    """

    def __init__(
        self,
        provider: Callable[[], dict],
        interval: float | None = None,
        counters: Sequence[str] = HEALTH_COUNTERS,
        send: Callable[[str], bool] = notify,
    ) -> None:
        if interval is None:
            allowed = watchdog_interval()
            interval = allowed / 2 if allowed else None
        self.interval = interval
        self.provider = provider
        self.counters = tuple(counters)
        self.send = send
        self.pings = 0
        self.stalls = 0
        self.healthy = True
        self._last: dict[str, int] = {}
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    @property
    def enabled(self) -> bool:
        return self.interval is not None

    def check(self) -> bool:
        """One check: ping if every counter advanced; return whether it was healthy."""
        try:
            status = self.provider()
        except Exception as exc:  # a broken provider means we cannot vouch for health
            stalled = [f"status provider raised {exc!r}"]
        else:
            stalled = [f"{name} died" for name in status.get("dead") or ()]
            for name in self.counters:
                value = status.get(name)
                if value is None:
                    continue
                previous = self._last.get(name)
                self._last[name] = value
                if previous is not None and value <= previous:
                    stalled.append(f"{name} stuck at {value}")
        if stalled:
            if self.healthy:
                self.stalls += 1
                log.error(
                    "watchdog: not healthy (%s); not pinging systemd, which restarts the "
                    "service if this lasts", "; ".join(stalled),
                )
            self.healthy = False
            return False
        if not self.healthy:
            log.warning("watchdog: healthy again")
        self.healthy = True
        if self.send("WATCHDOG=1"):
            self.pings += 1
        return True

    def start(self) -> None:
        if not self.enabled or self._thread is not None:
            return
        self._thread = threading.Thread(target=self._run, name="watchdog", daemon=True)
        self._thread.start()
        log.info("systemd watchdog: checking health every %.1f s", self.interval)

    def _run(self) -> None:
        assert self.interval is not None
        while not self._stop.wait(self.interval):
            self.check()

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None and self._thread is not threading.current_thread():
            self._thread.join(timeout=2.0)
        self._thread = None
