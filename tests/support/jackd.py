"""The tests' private JACK servers: dummy backend, synchronous (``SYNC_FLAGS``: no MIDI
is lost and frame times stay exact), each under a name of its own."""

from __future__ import annotations

from instrument.bench.jackd import SYNC_FLAGS, unique_server_name
from instrument.jack.server import JackServer, jackd_available, start_jackd

__all__ = ["JackServer", "jackd_available", "start_test_jackd"]


def start_test_jackd(period: int = 64, rate: int = 48000, name: str | None = None) -> JackServer:
    """Start a test server at ``rate`` Hz and ``period`` frames, named ``name`` (to start
    one again under the same name) or ``instrument-test-<random>``."""
    return start_jackd(name or unique_server_name("instrument-test"), rate, period, SYNC_FLAGS)
