"""``instrument status``: ask the running instrument how it is doing, from another shell.

It connects to the running instance's local status socket (see :mod:`instrument.live.status`)
and prints its mode, tempo, connected devices, models with their execution providers and
step latency, missed deadlines, xruns and the current recording. Exit status: 0 when an
instance answered, 1 when none is running (or it cannot be reached), 2 on a config error.
"""

from __future__ import annotations

import argparse
import json
import sys

from instrument import config as cfg

NAME = "status"
HELP = "Show the running instrument's mode, devices, models, latency, xruns and recording."


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--config", metavar="FILE",
        help="the running instrument's config file, to find its status socket "
        "(default: the same search as `instrument run`)",
    )
    parser.add_argument(
        "--socket", metavar="PATH",
        help="the status socket (default: service.status_socket, then "
        "$RUNTIME_DIRECTORY, $XDG_RUNTIME_DIR/instrument, <state dir>/run)",
    )
    parser.add_argument("--json", action="store_true", help="print the raw JSON object")
    parser.add_argument(
        "--timeout", type=float, default=2.0, metavar="S",
        help="seconds to wait for an answer (default 2)",
    )


def run(args: argparse.Namespace) -> int:
    from instrument.live.status import StatusUnavailable, format_status, query, socket_path

    path = args.socket
    if not path:
        try:
            config = cfg.load(args.config)
        except cfg.ConfigError as exc:
            print(f"instrument status: config error: {exc}", file=sys.stderr)
            return 2
        path = socket_path(config.service.status_socket)
    try:
        status = query(path, timeout=args.timeout)
    except StatusUnavailable as exc:
        print(f"instrument status: {exc}", file=sys.stderr)
        return 1
    if args.json:
        print(json.dumps(status, indent=2, sort_keys=True))
    else:
        print(format_status(status))
    return 0
