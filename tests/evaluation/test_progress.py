"""The progress line of long commands: shown on a terminal, silent in pipes and JSON."""

import io

from instrument.evaluation.progress import Progress


class Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


def test_a_terminal_sees_the_count_grow_and_the_line_end():
    out = Terminal()
    with Progress(3, "tunes", stream=out) as progress:
        for _ in range(3):
            progress.step()
    text = out.getvalue()
    assert text.split("\r")[1:] == ["tunes: 1/3", "tunes: 2/3", "tunes: 3/3\n"]


def test_a_pipe_or_json_output_gets_nothing():
    piped = io.StringIO()
    with Progress(2, "tunes", stream=piped) as progress:
        progress.step(2)
    quiet = Terminal()
    with Progress(2, "tunes", shown=False, stream=quiet) as progress:
        progress.step(2)
    assert piped.getvalue() == "" and quiet.getvalue() == ""
