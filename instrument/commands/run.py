"""``instrument run``: play live."""

from __future__ import annotations

import argparse
import logging
import signal
import sys

from instrument.commands.common import add_config_arguments, load_config
from instrument.config import ConfigError
from instrument.live.logs import setup_logging

NAME = "run"
HELP = (
    "Play live: your notes sound at once through the built-in synth, go out as MIDI, and "
    "the session is recorded as a MIDI file. Stop with Ctrl-C."
)

log = logging.getLogger("instrument")


def add_arguments(parser: argparse.ArgumentParser) -> None:
    add_config_arguments(parser)


def run(args: argparse.Namespace) -> int:
    try:
        config = load_config(args)
    except ConfigError as exc:
        print(f"instrument: config error: {exc}", file=sys.stderr)
        return 2
    setup_logging(config.log_level)
    from instrument.audio.server import AudioUnavailable
    from instrument.live.backends import SetupError
    from instrument.live.layouts import create  # pyo loads here, not for --help
    from instrument.live.rtmidi_ports import MidiUnavailable

    try:
        session = create(config)  # two processes with audio and MIDI on JACK
    except (SetupError, AudioUnavailable, MidiUnavailable) as exc:
        log.error("cannot start: %s", exc)
        return 1
    for signum in (signal.SIGINT, signal.SIGTERM):
        signal.signal(signum, lambda s, _f: session.request_stop(0, signal.Signals(s).name))
    try:
        session.start()
        code = session.wait()
    except (SetupError, AudioUnavailable, MidiUnavailable) as exc:
        log.error("cannot start: %s", exc)
        code = 1
    except Exception:
        log.exception("fatal error")
        code = 1
    finally:
        session.stop()
    return code
