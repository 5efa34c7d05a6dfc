"""The running instrument's health, readable from another shell: ``instrument status``.

A :class:`StatusServer` thread in the instrument listens on a unix stream socket and
answers every connection with one JSON object (the provider's dict, one line) and closes
it. The socket is local only: its directory is created mode 0700 and the socket itself
0600, so only the instrument's own user (and root) can connect. There is no network
listener. The client side is :func:`query`; :func:`format_status` prints it for people.

Where the socket lives (:func:`socket_path`), first match wins:

1. ``[status] socket`` in the config (``/run/instrument/status.sock`` for the systemd
   service installed by ``deploy/``);
2. ``$RUNTIME_DIRECTORY/status.sock`` (systemd's ``RuntimeDirectory=``);
3. ``$XDG_RUNTIME_DIR/instrument/status.sock`` (a desktop session);
4. ``<state dir>/run/status.sock``.

The object (the instrument's provider fills it; every key is optional, and keys not
listed here are shown too)::

    pid, version, uptime_s             the process
    mode, tempo_bpm                    what it plays (tempo null until a beat is found)
    tempo_source, tempo_confidence     where the beat comes from; following the player,
                                       how sure the follower is of it (0..1)
    meter, meter_confidence,           the meter the bar is read in ("(heard)" with
    bar_confidence                     ``[tempo] meter = "auto"``), how sure the
                                       follower is of it and of where the bar begins
    style, section, energy, drums      the band: its style ("(auto)": chosen from the
                                       playing), the section it plays (main, variation,
                                       fill, intro, ending), the energy it plays at
                                       (0..1) and whether the drums are on
    chords_move                        where the style's chords may move: "bar",
                                       "half_bar" or "beat" (any)
    midi_in, midi_out                  connected port names, or null
    audio                              {"backend", "rate", "buffer"}
    models                             {name: {"providers": [...], "fallback": reason|null,
                                        "steps", "p50_ms", "p99_ms", "missed_deadlines"}};
                                       the accompaniment's melody forecast, when it plays
                                       with foresight, under its "foresight" (same keys;
                                       missed_deadlines null where the model's step runs
                                       it: the model's misses count it; its work before
                                       the deadlines: ahead_p50_ms, ahead_p99_ms);
                                       and the whole beat's decision, from its notes
                                       to its chord, under "decision" (p50_ms, p99_ms;
                                       beats; stepped_ahead: how many found the
                                       model's step taken before the deadline; waited:
                                       how many found it not done yet)
    steps, missed_deadlines, xruns     totals
    recording                          the current recording file, or null
    input_received, input_dropped      counts; dropped by reason
    late_notes, midi_out_deferred,     late notes (planned and MIDI out together) and
      midi_out_dropped, plans_refused  the counters ``shared_stats.SOUND_COUNTERS``
                                       marks shown
    engine_loops, audio_cycles         increase while healthy (the watchdog checks them)
    dead                               the threads or processes that died
    engine_restarts, last_engine_death with the engine in a process of its own: how
                                       often it was started again, and how it last
                                       died (null while it never did)

Robustness: the server never reads from clients and writes with a short timeout, so a
client that connects and never reads cannot hold it up; the provider is called on the
server's thread, never on the audio or engine thread. A stale socket file left by a
killed instance is replaced; a live one (another instance answering) is not, and the
server reports it and stays off rather than steal it. The socket file is removed on
``stop()``.
"""

from __future__ import annotations

import contextlib
import errno
import json
import logging
import math
import os
import select
import socket
import stat
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

log = logging.getLogger(__name__)

SOCKET_NAME = "status.sock"
#: Seconds a client gets to take the reply before the server drops it.
SEND_TIMEOUT = 0.5


class StatusUnavailable(RuntimeError):
    """No running instrument answered at the socket (the message says why)."""


def socket_path(configured: str | None = None, environ: dict[str, str] | None = None) -> Path:
    """Where the status socket is (see the module doc for the order)."""
    env = os.environ if environ is None else environ
    if configured:
        return Path(configured).expanduser()
    if env.get("RUNTIME_DIRECTORY"):
        return Path(env["RUNTIME_DIRECTORY"].split(":")[0]) / SOCKET_NAME
    if env.get("XDG_RUNTIME_DIR"):
        return Path(env["XDG_RUNTIME_DIR"]) / "instrument" / SOCKET_NAME
    from instrument.places import state_dir

    return state_dir() / "run" / SOCKET_NAME


def _json_default(obj: Any) -> Any:
    if isinstance(obj, Path):
        return str(obj)
    if isinstance(obj, (set, frozenset, tuple)):
        return list(obj)
    if hasattr(obj, "item"):  # numpy scalars
        return obj.item()
    return repr(obj)


def _clean(obj: Any) -> Any:
    """NaN and infinities are not JSON: send null."""
    if isinstance(obj, float) and not math.isfinite(obj):
        return None
    if isinstance(obj, dict):
        return {str(k): _clean(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [_clean(v) for v in obj]
    return obj


def encode(status: dict) -> bytes:
    """One JSON line."""
    return (json.dumps(_clean(status), default=_json_default, sort_keys=True) + "\n").encode()


def _private_dir(directory: Path) -> None:
    """Create ``directory`` 0700, or check an existing one is ours and not open to others."""
    directory.mkdir(mode=0o700, parents=True, exist_ok=True)
    info = directory.lstat()
    if not stat.S_ISDIR(info.st_mode):
        raise OSError(errno.ENOTDIR, f"{directory} is not a directory")
    if info.st_uid != os.geteuid():
        raise PermissionError(
            errno.EPERM, f"{directory} belongs to uid {info.st_uid}, not to us ({os.geteuid()})"
        )
    if info.st_mode & 0o077:
        os.chmod(directory, 0o700)


class StatusServer:
    """Answers each connection on ``path`` with ``provider()`` as one JSON line.

    ``start()`` binds the socket and runs a daemon thread; it returns False (and logs
    why) if the socket cannot be served, which never stops the instrument. ``stop()``
    ends the thread and removes the socket file. Both are safe to call twice.
    """

    def __init__(
        self,
        path: os.PathLike | str,
        provider: Callable[[], dict],
        send_timeout: float = SEND_TIMEOUT,
    ) -> None:
        self.path = Path(path)
        self.provider = provider
        self.send_timeout = send_timeout
        self.served = 0
        self.failed = 0
        self._sock: socket.socket | None = None
        self._inode: tuple[int, int] | None = None
        self._stop = threading.Event()
        self._wake_r, self._wake_w = -1, -1
        self._thread: threading.Thread | None = None

    # -- lifecycle ---------------------------------------------------------------------

    def start(self) -> bool:
        if self._thread is not None:
            return True
        try:
            self._bind()
        except OSError as exc:
            log.warning("status socket %s not available: %s", self.path, exc)
            return False
        self._wake_r, self._wake_w = os.pipe()
        self._thread = threading.Thread(target=self._run, name="status", daemon=True)
        self._thread.start()
        log.info("status: `instrument status` reads %s", self.path)
        return True

    def _bind(self) -> None:
        _private_dir(self.path.parent)
        self._remove_stale()
        sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM | socket.SOCK_CLOEXEC)
        try:
            # The directory is 0700 already; the umask makes the socket 0600 from birth.
            old = os.umask(0o177)
            try:
                sock.bind(str(self.path))
            finally:
                os.umask(old)
            os.chmod(self.path, 0o600)
            sock.listen(socket.SOMAXCONN)
            sock.setblocking(False)
        except OSError:
            sock.close()
            raise
        info = self.path.lstat()
        self._inode = (info.st_dev, info.st_ino)
        self._sock = sock

    def _remove_stale(self) -> None:
        """Remove a socket file nobody answers on; refuse if an instance is live."""
        try:
            info = self.path.lstat()
        except FileNotFoundError:
            return
        if not stat.S_ISSOCK(info.st_mode):
            raise FileExistsError(errno.EEXIST, f"{self.path} exists and is not a socket")
        probe = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        probe.settimeout(0.5)
        try:
            probe.connect(str(self.path))
        except OSError:
            self.path.unlink(missing_ok=True)  # stale: left by an instance that died
            return
        finally:
            probe.close()
        raise FileExistsError(
            errno.EADDRINUSE, f"another running instrument answers on {self.path}"
        )

    def stop(self) -> None:
        self._stop.set()
        if self._wake_w >= 0:
            with contextlib.suppress(OSError):
                os.write(self._wake_w, b"x")
        if self._thread is not None and self._thread is not threading.current_thread():
            self._thread.join(timeout=2.0)
        self._thread = None
        if self._sock is not None:
            self._sock.close()
            self._sock = None
            self._unlink_ours()
        for fd in (self._wake_r, self._wake_w):
            if fd >= 0:
                with contextlib.suppress(OSError):
                    os.close(fd)
        self._wake_r = self._wake_w = -1

    def _unlink_ours(self) -> None:
        """Remove the socket file, unless another instance has replaced it since."""
        try:
            info = self.path.lstat()
        except FileNotFoundError:
            return
        if (info.st_dev, info.st_ino) == self._inode:
            self.path.unlink(missing_ok=True)

    # -- serving -----------------------------------------------------------------------

    def _run(self) -> None:
        sock = self._sock
        assert sock is not None
        while not self._stop.is_set():
            try:
                ready, _, _ = select.select([sock, self._wake_r], [], [], 1.0)
            except (OSError, ValueError):
                return
            if sock not in ready:
                continue
            try:
                conn, _ = sock.accept()
            except (BlockingIOError, InterruptedError):
                continue
            except OSError as exc:
                log.debug("status accept failed: %s", exc)
                continue
            self._answer(conn)

    def _answer(self, conn: socket.socket) -> None:
        with conn:
            try:
                status = self.provider()
                payload = encode(status)
            except Exception as exc:  # a provider bug must not end the server
                self.failed += 1
                log.debug("status provider failed", exc_info=True)
                payload = encode({"error": f"status provider failed: {exc!r}"})
            try:
                conn.settimeout(self.send_timeout)
                conn.sendall(payload)
                self.served += 1  # before the client can see the end of the reply
                conn.shutdown(socket.SHUT_WR)
            except OSError:  # the client went away, or did not read in time
                self.failed += 1


def _connect(sock: socket.socket, path: Path, timeout: float) -> None:
    """Connect, waiting while the server's backlog is full.

    A unix socket with a timeout answers a full backlog with EAGAIN at once rather than
    waiting, so many clients asking together would fail for no good reason.
    """
    deadline = time.monotonic() + timeout
    while True:
        try:
            sock.connect(str(path))
            return
        except BlockingIOError:
            if time.monotonic() >= deadline:
                raise TimeoutError(f"the backlog at {path} stayed full") from None
            time.sleep(0.01)


def query(path: os.PathLike | str, timeout: float = 2.0) -> dict:
    """Ask the instance listening on ``path`` for its status. Raises StatusUnavailable."""
    path = Path(path)
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    sock.settimeout(timeout)
    try:
        try:
            _connect(sock, path, timeout)
        except FileNotFoundError:
            raise StatusUnavailable(f"no instrument is running (no socket at {path})") from None
        except ConnectionRefusedError:
            raise StatusUnavailable(
                f"no instrument is running (nothing answers at {path}; a stale socket)"
            ) from None
        except PermissionError:
            raise StatusUnavailable(
                f"permission denied on {path}: it belongs to the instrument's user; "
                "run `sudo instrument status` or as that user"
            ) from None
        except OSError as exc:
            raise StatusUnavailable(f"cannot connect to {path}: {exc}") from None
        chunks = []
        try:
            while True:
                chunk = sock.recv(65536)
                if not chunk:
                    break
                chunks.append(chunk)
        except TimeoutError:
            raise StatusUnavailable(f"the instrument at {path} did not answer in time") from None
    finally:
        sock.close()
    try:
        reply = json.loads(b"".join(chunks))
    except ValueError:
        raise StatusUnavailable(f"the reply from {path} is not JSON") from None
    if not isinstance(reply, dict):
        raise StatusUnavailable(f"the reply from {path} is not a JSON object")
    return reply


# -- for people ------------------------------------------------------------------------


def _ms(value: Any) -> str:
    return "-" if value is None else f"{float(value):.2f} ms"


def _duration(seconds: Any) -> str:
    if seconds is None:
        return "-"
    s = int(seconds)
    h, rem = divmod(s, 3600)
    m, s = divmod(rem, 60)
    return f"{h}:{m:02d}:{s:02d}" if h else f"{m}:{s:02d}"


def _text(value: Any, none: str = "none") -> str:
    if value is None or value == "":
        return none
    if isinstance(value, float):
        return f"{value:g}"
    if isinstance(value, dict):
        return ", ".join(f"{k} {_text(v)}" for k, v in value.items()) or none
    if isinstance(value, (list, tuple)):
        return ", ".join(_text(v) for v in value) or none
    return str(value)


# (key, label) shown first, in this order; everything else follows as ``key: value``.
_MAIN = (
    ("mode", "mode"),
    ("tempo_bpm", "tempo (bpm)"),
    ("tempo_source", "beat from"),
    ("tempo_confidence", "beat confidence"),
    ("meter", "meter"),
    ("bar_confidence", "bar confidence"),
    ("meter_confidence", "meter confidence"),
    ("style", "style"),
    ("chords_move", "chords move on"),
    ("section", "section"),
    ("energy", "energy"),
    ("drums", "drums"),
    ("midi_in", "MIDI in"),
    ("midi_out", "MIDI out"),
    ("audio", "audio"),
    ("recording", "recording"),
    ("uptime_s", "uptime"),
    ("xruns", "xruns"),
    ("missed_deadlines", "missed deadlines"),
    ("steps", "model steps"),
    ("input_dropped", "input dropped"),
    ("engine_restarts", "engine restarts"),
    ("last_engine_death", "engine last died"),
)


def format_status(status: dict) -> str:
    """The status as aligned ``label: value`` lines, models as a small table."""
    if "error" in status and len(status) == 1:
        return f"error: {status['error']}"
    rows: list[tuple[str, str]] = []
    shown = {"models", "pid"}
    for key, label in _MAIN:
        if key not in status:
            continue
        shown.add(key)
        value = status[key]
        if key == "uptime_s":
            text = _duration(value)
        elif key == "audio" and isinstance(value, dict):
            parts = [str(value.get("backend", "?"))]
            if value.get("rate"):
                parts.append(f"{value['rate']} Hz")
            if value.get("buffer"):
                parts.append(f"{value['buffer']} frames")
            extra = {k: v for k, v in value.items() if k not in ("backend", "rate", "buffer")}
            text = ", ".join(parts) + (f" ({_text(extra)})" if extra else "")
        elif key in ("midi_in", "midi_out"):
            text = _text(value, "not connected")
        elif key == "tempo_bpm" and isinstance(value, (int, float)):
            text = f"{value:.1f}"
        else:
            text = _text(value)
        rows.append((label, text))
    for key in sorted(set(status) - shown):
        rows.append((key, _text(status[key])))
    width = max((len(label) for label, _ in rows), default=0)
    lines = []
    if "pid" in status:
        lines.append(f"instrument (pid {status['pid']})")
    lines += [f"  {label:<{width}}  {text}" for label, text in rows]
    models = status.get("models")
    if isinstance(models, dict) and models:
        lines.append("  models:")
        lines.append(
            f"    {'name':<16} {'running on':<24} {'steps':>8} {'p50':>10} {'p99':>10} "
            f"{'missed':>7}"
        )
        reasons = []
        for name, m in sorted(models.items()):
            if not isinstance(m, dict):
                lines.append(f"    {name:<16} {_text(m)}")
                continue
            providers = m.get("providers") or m.get("provider") or []
            if isinstance(providers, str):
                providers = [providers]
            where = str(providers[0]).removesuffix("ExecutionProvider") if providers else "-"
            if m.get("fallback"):
                where = "fallback"
                reasons.append(f"    {name}: {m['fallback']}")
            lines.append(
                f"    {name:<16} {where:<24} {_text(m.get('steps'), '-'):>8} "
                f"{_ms(m.get('p50_ms')):>10} {_ms(m.get('p99_ms')):>10} "
                f"{_text(m.get('missed_deadlines'), '-'):>7}"
            )
            ahead = m.get("foresight")
            if isinstance(ahead, dict):
                lines.append(
                    f"    {'  foresight':<16} {where:<24} {_text(ahead.get('steps'), '-'):>8} "
                    f"{_ms(ahead.get('p50_ms')):>10} {_ms(ahead.get('p99_ms')):>10} "
                    f"{_text(ahead.get('missed_deadlines'), '-'):>7}"
                )
                if ahead.get("ahead_p50_ms") is not None:  # before the deadlines
                    lines.append(
                        f"    {'    ahead':<16} {where:<24} {'':>8} "
                        f"{_ms(ahead.get('ahead_p50_ms')):>10} "
                        f"{_ms(ahead.get('ahead_p99_ms')):>10} {'':>7}"
                    )
            decision = m.get("decision")
            if isinstance(decision, dict):  # the beat's whole decision, as the part makes it
                lines.append(
                    f"    {'  decision':<16} {where:<24} {'':>8} "
                    f"{_ms(decision.get('p50_ms')):>10} {_ms(decision.get('p99_ms')):>10} "
                    f"{'':>7}"
                )
        lines += reasons
    return "\n".join(lines)
