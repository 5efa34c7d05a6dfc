"""A progress line for commands that take more than a few seconds.

``Progress(total, label)`` writes ``label: done/total`` over itself on stderr as work is
done, only where stderr is a terminal and the command's output is not JSON; in a pipe,
a log or with ``--json`` it writes nothing, so what the command prints stays parseable.
"""

from __future__ import annotations

import sys
from typing import TextIO


class Progress:
    """``step()`` after each piece of work; ``close()`` (or the ``with`` block's end)
    ends the line. ``shown`` False (``--json``) keeps it quiet on a terminal too."""

    def __init__(self, total: int, label: str, shown: bool = True,
                 stream: TextIO | None = None) -> None:
        self.total = total
        self.label = label
        self.done = 0
        self.stream = stream or sys.stderr
        self.active = shown and self.stream.isatty()

    def step(self, count: int = 1) -> None:
        self.done += count
        if self.active:
            print(f"\r{self.label}: {self.done}/{self.total}", end="", file=self.stream,
                  flush=True)

    def close(self) -> None:
        if self.active and self.done:
            print(file=self.stream, flush=True)
        self.active = False

    def __enter__(self) -> Progress:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
