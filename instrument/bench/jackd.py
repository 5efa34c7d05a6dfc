"""Private JACK servers (dummy backend) for tests and benchmarks: see
``instrument.jack.server``, which also starts the instrument's own server.

Tests use synchronous mode (``--sync``, ``FLAGS``): the server waits for every client
each cycle, so a slow client makes a cycle late rather than losing its MIDI, and frame
times stay exact. ``STAGE_FLAGS`` run it as on stage.
"""

from instrument.jack.server import STAGE_FLAGS, JackServer, jackd_available, start_jackd
from instrument.jack.server import TEST_FLAGS as FLAGS

__all__ = ["FLAGS", "STAGE_FLAGS", "JackServer", "jackd_available", "start_jackd"]
