"""Benchmarks and their harness: a private JACK server (dummy backend), a test
controller, a capture client, and the measurements behind ``instrument bench``.

The harness is shared with the end-to-end tests (``tests/support`` re-exports it).
Nothing here is imported by the live instrument.
"""
