"""``instrument bench``: measure latency, timing, model cost and stability."""

from __future__ import annotations

import argparse
import json
import logging
from pathlib import Path

from instrument import config as cfg
from instrument.live.logs import setup_logging

NAME = "bench"
HELP = (
    "Measure key-to-sound latency, generated-note timing, model step cost and a soak "
    "run on a private JACK server; writes results.json and PNG plots."
)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--quick", action="store_true",
                        help="a short smoke run (a minute or two) instead of the full suite")
    parser.add_argument("--out", metavar="DIR", type=Path, default=Path("bench-out"),
                        help="where results.json and the plots go (default ./bench-out)")
    parser.add_argument("--soak", metavar="SECONDS", type=float,
                        help="length of the soak run (full: 600, quick: 15)")
    parser.add_argument("--config", metavar="FILE", help="config (for the models directory)")


def run(args: argparse.Namespace) -> int:
    setup_logging("info")
    from instrument.bench import suite
    from instrument.jack.server import jackd_available

    if not jackd_available():
        print("instrument bench needs jackd (Debian: apt-get install jackd2)")
        return 1
    sizes = suite.Sizes.quick() if args.quick else suite.Sizes.full()
    if args.soak is not None:
        sizes.soak_seconds = args.soak
    results = suite.run(args.out, sizes, cfg.load(args.config).models_dir())
    print(json.dumps(results, indent=2))
    logging.getLogger("instrument").info("results in %s", args.out / "results.json")
    return 0
