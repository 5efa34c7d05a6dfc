"""Private JACK servers (dummy backend) for benchmarks and tests, started with
``instrument.jack.server.start_jackd`` under a name of their own, so that parallel runs
never share one.

Latency and onset measurements use synchronous mode (``SYNC_FLAGS``): the server waits
for every client each cycle, so a slow client makes a cycle late rather than losing its
MIDI, and frame times stay exact. ``STAGE_FLAGS`` run it as on stage.
"""

from __future__ import annotations

import uuid

from instrument.jack.server import JackServer, start_jackd

#: No real-time scheduling needed, and synchronous so that no MIDI is lost.
SYNC_FLAGS: list[str] = ["--no-realtime", "--sync"]
#: As on stage (the systemd unit runs jackd -R): real-time threads, asynchronous graph.
STAGE_FLAGS: list[str] = ["-R"]


def unique_server_name(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:8]}"


def start_private_jackd(period: int, flags: list[str], rate: int = 48000) -> JackServer:
    """A benchmark's own server (``instrument-bench-<random>``), ``rate`` Hz, ``period``
    frames, dummy backend."""
    return start_jackd(unique_server_name("instrument-bench"), rate, period, flags)
