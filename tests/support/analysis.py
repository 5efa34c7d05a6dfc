"""Re-exported from instrument.bench.analysis (the harness is shared with the benchmarks)."""

from instrument.bench.analysis import *  # noqa: F403
