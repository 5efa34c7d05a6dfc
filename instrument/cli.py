"""The ``instrument`` command line: one subcommand per module in ``instrument.commands``."""

from __future__ import annotations

import argparse
import importlib
import sys

from instrument import __version__

# Each module defines NAME, HELP, add_arguments(parser) and run(args) -> int.
COMMAND_MODULES = [
    "instrument.commands.run",
    "instrument.commands.devices",
    "instrument.commands.check",
    "instrument.commands.render",
    "instrument.commands.bench",
    "instrument.commands.evaluate",
    "instrument.commands.status",
    "instrument.commands.warmup",
    "instrument.commands.demo",
]


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="instrument",
        description=(
            "A headless AI accompanist and duet partner. Plug in a MIDI keyboard, "
            "run `instrument run`, and play."
        ),
    )
    parser.add_argument("--version", action="version", version=f"instrument {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    for module_name in COMMAND_MODULES:
        module = importlib.import_module(module_name)
        p = sub.add_parser(module.NAME, help=module.HELP, description=module.HELP)
        module.add_arguments(p)
        p.set_defaults(_run=module.run)
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if not getattr(args, "_run", None):
        parser.print_help()
        return 2
    return int(args._run(args) or 0)


if __name__ == "__main__":
    sys.exit(main())
