"""Starting a JACK server: the instrument's own when a machine has none, and private ones.

``instrument run`` on a machine with neither a JACK server nor an ALSA sequencer (a
headless box before its audio is set up, a container, a CI runner) starts a JACK server
of its own (``EmbeddedJack``): the ALSA backend on the first sound card when the
machine has one, the dummy backend otherwise. It runs under the server name clients use
by default (``$JACK_DEFAULT_SERVER``, else ``default``), so ``jack_connect`` and
patchbays reach the instrument's ports; it is stopped when the instrument exits, and it
dies with it (``PR_SET_PDEATHSIG``) if the instrument is killed. A server the instrument
did not start is never stopped.

``start_jackd`` also starts the private servers of benchmarks and tests
(``instrument.bench.jackd``).
"""

from __future__ import annotations

import ctypes
import glob
import logging
import os
import shutil
import signal
import subprocess
import tempfile
import time
from dataclasses import dataclass

log = logging.getLogger(__name__)

DUMMY = "dummy"


@dataclass
class JackServer:
    name: str
    rate: int
    period: int
    process: subprocess.Popen
    backend: str = DUMMY

    def env(self) -> dict[str, str]:
        env = dict(os.environ)
        env["JACK_DEFAULT_SERVER"] = self.name
        env["JACK_NO_START_SERVER"] = "1"
        return env

    def alive(self) -> bool:
        return self.process.poll() is None

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=5)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()


def jackd_available() -> bool:
    return shutil.which("jackd") is not None


def default_server_name() -> str:
    return os.environ.get("JACK_DEFAULT_SERVER") or "default"


def first_sound_card() -> str | None:
    """``hw:N`` of the first ALSA card with a playback device, or None."""
    for path in sorted(glob.glob("/dev/snd/pcmC*D*p")):
        card = os.path.basename(path)[len("pcmC"):].split("D")[0]
        return f"hw:{card}"
    return None


def _die_with_parent() -> None:
    """In the child before exec: get SIGTERM when the instrument dies, however it dies."""
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(1, signal.SIGTERM)  # PR_SET_PDEATHSIG
    except (OSError, AttributeError):
        pass


def _running(env: dict[str, str]) -> bool:
    done = subprocess.run(["jack_wait", "-c"], env=env, capture_output=True, text=True)
    return "running" in done.stdout and "not" not in done.stdout


def start_jackd(
    name: str,
    rate: int,
    period: int,
    flags: list[str],
    backend: str = DUMMY,
    timeout: float = 10.0,
    die_with_parent: bool = False,
) -> JackServer:
    """Start ``jackd -n name`` with ``flags`` (before the driver's) and ``backend``
    (``dummy``, or an ALSA device such as ``hw:0``), and wait until it takes clients.
    Raises RuntimeError naming why it did not."""
    driver = ["-d", "dummy"] if backend == DUMMY else ["-d", "alsa", "-d", backend, "-P"]
    with tempfile.TemporaryFile(mode="w+") as errors:  # jackd keeps its own copy open
        process = subprocess.Popen(
            ["jackd", "-n", name, *flags, *driver, "-r", str(rate), "-p", str(period)],
            stdout=subprocess.DEVNULL, stderr=errors,
            preexec_fn=_die_with_parent if die_with_parent else None,
        )
        server = JackServer(name, rate, period, process, backend)
        env = server.env()
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if process.poll() is not None:
                errors.seek(0)
                why = [line for line in errors.read().splitlines() if line.strip()]
                raise RuntimeError(f"jackd exited with {process.returncode}"
                                   + (f": {why[-1].strip()}" if why else ""))
            if _running(env):
                return server
            time.sleep(0.1)
    server.stop()
    raise RuntimeError(f"jackd did not come up within {timeout:.0f} s")


class EmbeddedJack:
    """The JACK server the instrument starts for itself (see the module docstring)."""

    def __init__(self, rate: int, period: int) -> None:
        self.rate = rate
        self.period = period
        self.card = first_sound_card()
        self.server: JackServer | None = None

    @property
    def backend(self) -> str:
        return self.card or DUMMY

    def describe(self) -> str:
        where = f"the ALSA backend on {self.card}" if self.card else "the dummy backend (no " \
            "sound card here)"
        return f"a JACK server of its own ({default_server_name()!r}, {where})"

    def start(self) -> JackServer:
        if not jackd_available():
            raise RuntimeError("no JACK server is running and jackd is not installed "
                               "(Debian: apt-get install jackd2)")
        name = default_server_name()
        attempts = [(self.backend, flags) for flags in ([], ["--no-realtime"])]
        if self.card:  # a busy or odd card: fall back to no sound card rather than to nothing
            attempts.append((DUMMY, ["--no-realtime"]))
        errors = []
        for backend, flags in attempts:
            try:
                self.server = start_jackd(name, self.rate, self.period, flags, backend,
                                          die_with_parent=True)
            except RuntimeError as exc:
                errors.append(f"{backend}: {exc}")
                continue
            log.info("started a JACK server of its own: %r, %s backend, %d Hz, %d frames",
                     name, "ALSA " + backend if backend != DUMMY else "dummy",
                     self.rate, self.period)
            return self.server
        raise RuntimeError("could not start a JACK server: " + "; ".join(errors))

    def stop(self) -> None:
        if self.server is not None:
            self.server.stop()
            log.info("stopped the JACK server it had started (%r)", self.server.name)
            self.server = None
