"""A JACK client whose Python cycles run late still deactivates and closes.

JACK2 cancels a process thread it has to stop; cancelled inside Python, that thread
never gives the GIL back and the whole process hangs (``instrument run`` did, after
SIGTERM, on a loaded machine). The rounds run in a child process, so a hang fails the
test instead of hanging the run.
"""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap

import pytest

from instrument.bench.jackd import SYNC_FLAGS, unique_server_name
from instrument.jack.server import start_jackd

ROUNDS = 20

CHILD = textwrap.dedent(f"""
    import time

    from instrument.jack.client import JackClient


    class LateCycle:
        # Python work longer than a period (64 frames at 48 kHz, 1.3 ms) every cycle,
        # so a cycle is nearly always under way when the client stops.
        def __init__(self):
            self.cycles = 0

        def process(self, frames):
            self.cycles += 1
            start = time.perf_counter()
            while time.perf_counter() - start < 0.004:
                pass


    for round in range({ROUNDS}):
        host = JackClient(f"late-{{round}}")
        host.open_ports(with_audio=True)
        cycle = LateCycle()
        host.run(cycle)
        deadline = time.monotonic() + 5
        while cycle.cycles < 5 and time.monotonic() < deadline:
            time.sleep(0.005)
        assert cycle.cycles >= 5, "the JACK graph did not run"
        host.close()
        print("closed", round, flush=True)
""")


@pytest.mark.parametrize("flags", [["--no-realtime"], SYNC_FLAGS],
                         ids=["asynchronous, as on stage", "synchronous, as in tests"])
def test_a_client_whose_cycles_run_late_deactivates_and_closes_every_time(flags):
    server = start_jackd(unique_server_name("instrument-test"), 48000, 64, flags)
    try:
        done = subprocess.run([sys.executable, "-c", CHILD], capture_output=True,
                              text=True, timeout=60, env={**os.environ, **server.env()})
    except subprocess.TimeoutExpired as exc:
        raise AssertionError(f"a client hung closing; the rounds before it:\n{exc.stdout}"
                             ) from None
    finally:
        server.stop()
    assert done.returncode == 0, done.stdout + done.stderr
    assert done.stdout.count("closed") == ROUNDS, done.stdout
