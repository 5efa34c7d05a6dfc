"""``instrument check``: validate the configuration and show the resolved set-up."""

from __future__ import annotations

import argparse
import sys

from instrument import config as cfg
from instrument.commands.common import add_config_arguments, load_config

NAME = "check"
HELP = "Check the configuration and show how it resolves on this machine, without playing."


def add_arguments(parser: argparse.ArgumentParser) -> None:
    add_config_arguments(parser)


def run(args: argparse.Namespace) -> int:
    try:
        config = load_config(args)
    except cfg.ConfigError as exc:
        print(f"config error: {exc}", file=sys.stderr)
        return 2
    print(f"# config: {config.source or 'built-in defaults (no config file found)'}")
    print(f"# recordings: {config.recordings_dir()}")
    from instrument.live.backends import SetupError, describe_layout, resolve_backends

    try:
        backends = resolve_backends(config)
    except SetupError as exc:
        print(f"# set-up problem: {exc}")
        print(cfg.to_toml(config), end="")
        return 1
    print(f"# {backends.describe(config)}")
    print(f"# {describe_layout(config, backends)}")
    print(cfg.to_toml(config), end="")
    return 0
