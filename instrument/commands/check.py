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
    problems = _style_problems(config)
    if problems:
        for problem in problems:
            print(f"style error: {problem}", file=sys.stderr)
        return 2
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


def _style_problems(config: cfg.Config) -> list[str]:
    """Style files that do not parse, and style names the config uses that do not exist."""
    from instrument.styles.library import AUTO, StyleLibrary

    styles = StyleLibrary.load(config.user_styles_dir())
    print(f"# styles: {', '.join(styles.names)} (yours: {config.user_styles_dir()})")
    problems = list(styles.errors)
    wanted = [("accompaniment.style", config.accompaniment.style)]
    wanted += [(f"presets[{i}].style", p.style) for i, p in enumerate(config.presets)]
    for key, name in wanted:
        if name is not None and name != AUTO and name not in styles.styles:
            problems.append(f"{key}: no style {name!r}; styles: {', '.join(styles.names)}")
    return problems
