"""Shared fixtures: a private JACK server (dummy backend) started for the test run."""

from __future__ import annotations

import os

import pytest

from instrument.bench.rig import jack_environment
from tests.support.jackd import JackServer, jackd_available, start_test_jackd

os.environ.setdefault("PYO_GUI_WX", "0")


def _server(period: int) -> JackServer:
    if not jackd_available():
        pytest.fail("jackd is not installed: run the README test command (it installs jackd2)")
    return start_test_jackd(period=period)


@pytest.fixture(scope="session")
def jack_server():
    """A private jackd (dummy backend, 48 kHz, 64 frames) for the whole run."""
    server = _server(64)
    with jack_environment(server):
        yield server
    server.stop()
