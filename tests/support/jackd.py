"""Re-exported from instrument.bench.jackd (the harness is shared with the benchmarks)."""

from instrument.bench.jackd import *  # noqa: F403
