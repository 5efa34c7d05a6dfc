"""Re-exported from instrument.bench.instrument_proc (shared with the benchmarks)."""

from instrument.bench.instrument_proc import *  # noqa: F403
