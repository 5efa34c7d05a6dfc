"""Re-exported from instrument.bench.jack_tap (the harness is shared with the benchmarks)."""

from instrument.bench.jack_tap import *  # noqa: F403
