"""``instrument demo``: a sound check and a first impression (see ``instrument.live.demo``)."""

from __future__ import annotations

import argparse
import logging
import signal
import sys
from pathlib import Path

from instrument.commands.common import add_config_arguments, load_config
from instrument.config import ConfigError
from instrument.live.logs import setup_logging
from instrument.names import AudioBackend, Mode

NAME = "demo"
HELP = (
    "Play a short tune into the instrument as if you played it: it accompanies and "
    "answers, through the speakers (or into a WAV file when there are none), sending MIDI "
    "out and recording as a live session does."
)

log = logging.getLogger("instrument")


def add_arguments(parser: argparse.ArgumentParser) -> None:
    add_config_arguments(parser)
    parser.add_argument("--tune", type=Path, metavar="FILE.mid",
                        help="play this MIDI file's first note track (default: a reel)")
    parser.add_argument("--tempo", type=float, metavar="BPM",
                        help="beats per minute (default: the tune's own)")
    parser.add_argument("--wav", type=Path, metavar="OUT.wav",
                        help="write the sound to this file instead of the speakers")
    parser.set_defaults(mode=str(Mode.ACCOMPANY_CONTINUE))


def run(args: argparse.Namespace) -> int:
    try:
        config = load_config(args)
        if args.wav is not None:
            config.audio.backend = AudioBackend.OFFLINE
            config.audio.wav = str(args.wav)
    except ConfigError as exc:
        print(f"instrument: config error: {exc}", file=sys.stderr)
        return 2
    setup_logging(config.log_level)
    from instrument.audio.server import AudioUnavailable
    from instrument.live import demo
    from instrument.live.backends import SetupError
    from instrument.live.one_process import OneProcessInstrument
    from instrument.live.rtmidi_ports import MidiUnavailable

    try:
        performance = demo.load(args.tune, args.tempo)
    except (OSError, ValueError, EOFError) as exc:
        print(f"instrument: cannot read {args.tune}: {exc}", file=sys.stderr)
        return 1
    # The instrument's beat starts at the tune's tempo and meter; answers stay short.
    config.tempo.bpm = performance.bpm
    config.tempo.meter = str(performance.meter)
    config.continuation.max_beats = min(config.continuation.max_beats, demo.ANSWER_BEATS)
    if config.models.seed is None:  # the same demo each time, unless a seed is configured
        config.models.seed = demo.DEMO_SEED
    try:
        # One process: the demo plays into the engine's input queue itself.
        session = OneProcessInstrument(config)
    except (SetupError, AudioUnavailable, MidiUnavailable) as exc:
        log.error("cannot start: %s", exc)
        return 1
    for signum in (signal.SIGINT, signal.SIGTERM):
        signal.signal(signum, lambda s, _f: session.request_stop(0, signal.Signals(s).name))
    code = 0
    try:
        session.start()
        log.info("demo: playing %s (%.0f bpm, %s) in %s mode",
                 (args.tune or demo.DEMO_TUNE).name, performance.bpm, performance.meter,
                 config.mode)
        timeout = performance.end + demo.ANSWER_BEATS * 60.0 / performance.bpm + 10.0
        result = demo.play(session, performance, timeout)
        code = session.exit_code
    except (SetupError, AudioUnavailable, MidiUnavailable) as exc:
        log.error("cannot start: %s", exc)
        return 1
    except Exception:
        log.exception("fatal error")
        code = 1
    finally:
        session.stop()
    if code == 0:
        where = (f"sound written to {session.paced.wav}" if session.paced is not None
                 else f"sound through {session.backends.audio}")
        print(f"demo: {result.notes_played} notes played, {result.responses} answer(s), "
              f"{result.seconds:.1f} s; {where}; recording "
              f"{session.recorder.path if session.recorder else 'off'}")
    return code
