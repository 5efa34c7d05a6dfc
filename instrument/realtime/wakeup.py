"""Waking the engine thread from a real-time callback without a lock.

``threading.Event.set`` takes the lock of a ``Condition`` that the waiting engine
holds, so a callback calling it can wait. A ``Wakeup`` is an eventfd (a pipe where
there is none): ``set`` is one non-blocking write, the waiter ``select``s on the fd.
``set`` and ``is_set`` may be called from any thread, including the audio cycle;
``wait`` and ``clear`` from the one waiting thread.

Between two processes (``shared=True``, or ``Wakeup.from_fd`` on the inherited fd in the
other process) there is no "already pending" shortcut: a flag in one process's memory
says nothing about the other's reads, so every ``set`` writes the eventfd, and
``is_set`` asks the fd itself.
"""

from __future__ import annotations

import contextlib
import os
import select


class Wakeup:
    """A lock-free event: ``set`` (any thread), ``wait(timeout)``, ``clear``."""

    def __init__(self, shared: bool = False, fd: int | None = None) -> None:
        self.shared = shared or fd is not None
        self._flag = False
        if fd is not None:
            self._read_fd = self._write_fd = fd
            return
        if hasattr(os, "eventfd"):
            fd = os.eventfd(0, os.EFD_NONBLOCK | os.EFD_CLOEXEC)
            self._read_fd = self._write_fd = fd
        else:  # pragma: no cover - not Linux
            self._read_fd, self._write_fd = os.pipe()
            os.set_blocking(self._read_fd, False)
            os.set_blocking(self._write_fd, False)

    @classmethod
    def from_fd(cls, fd: int) -> Wakeup:
        """The other process's end: the eventfd it inherited (``fileno``)."""
        return cls(fd=fd)

    def fileno(self) -> int:
        """The eventfd, to hand to a child process (``pass_fds``); shared Wakeups only."""
        if self._read_fd != self._write_fd:  # pragma: no cover - not Linux
            raise RuntimeError("a pipe-based Wakeup cannot be shared between processes")
        return self._read_fd

    def set(self) -> None:
        if self.shared:
            self._write()
            return
        if self._flag:
            return  # already pending: no syscall
        self._flag = True
        self._write()

    def _write(self) -> None:
        try:  # noqa: SIM105 - no context manager object per call: this runs in the cycle
            os.write(self._write_fd, b"\x01\x00\x00\x00\x00\x00\x00\x00")
        except BlockingIOError:
            pass  # the counter is full: the waiter is woken anyway

    def is_set(self) -> bool:
        if self.shared:
            ready, _, _ = select.select([self._read_fd], [], [], 0)
            return bool(ready)
        return self._flag

    def wait(self, timeout: float | None = None) -> bool:
        """Block until ``set`` or ``timeout`` seconds; True if it was set."""
        if self._flag and not self.shared:
            return True
        ready, _, _ = select.select([self._read_fd], [], [], timeout)
        return bool(ready) or self._flag

    def clear(self) -> None:
        self._flag = False
        with contextlib.suppress(BlockingIOError):
            os.read(self._read_fd, 64)

    def close(self) -> None:
        for fd in {self._read_fd, self._write_fd}:
            os.close(fd)
