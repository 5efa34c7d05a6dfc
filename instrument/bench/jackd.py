"""A private JACK server with the dummy backend, for tests and benchmarks.

Synchronous mode (``--sync``): the server waits for every client each cycle, so a slow
client makes a cycle late rather than losing its MIDI; frame times stay exact.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import time
import uuid
from dataclasses import dataclass


@dataclass
class JackServer:
    name: str
    rate: int
    period: int
    process: subprocess.Popen

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


# Tests: no real-time scheduling needed, and synchronous so that no MIDI is lost.
FLAGS: list[str] = ["--no-realtime", "--sync"]
# As on stage (the systemd unit runs jackd -R): real-time threads, asynchronous graph.
STAGE_FLAGS: list[str] = ["-R"]


def jackd_available() -> bool:
    return shutil.which("jackd") is not None


def start_jackd(
    rate: int = 48000, period: int = 64, name: str | None = None, flags: list[str] | None = None
) -> JackServer:
    """Start ``jackd -d dummy`` under a unique name and wait until it takes clients."""
    name = name or f"instrument-test-{uuid.uuid4().hex[:8]}"
    flags = FLAGS if flags is None else flags
    process = subprocess.Popen(
        ["jackd", "-n", name, *flags, "-d", "dummy", "-r", str(rate), "-p", str(period)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    server = JackServer(name, rate, period, process)
    env = server.env()
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"jackd exited with {process.returncode}")
        done = subprocess.run(["jack_wait", "-c"], env=env, capture_output=True, text=True)
        if "running" in done.stdout and "not" not in done.stdout:
            return server
        time.sleep(0.1)
    server.stop()
    raise RuntimeError("jackd did not come up within 10 s")
