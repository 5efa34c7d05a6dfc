"""Where a running instrument's log goes: standard error, one line per record, with the
time, the level and the logger (each module logs under its own name)."""

from __future__ import annotations

import logging
import sys

FORMAT = "%(asctime)s %(levelname)-7s %(name)s: %(message)s"


def setup_logging(level: str) -> None:
    """Log at ``level`` ("debug", "info", "warning", "error") and above to stderr."""
    logging.basicConfig(level=getattr(logging, level.upper()), format=FORMAT, stream=sys.stderr)
