"""``instrument render``: run the live engine offline over a MIDI file."""

from __future__ import annotations

import argparse
import json
import logging
import sys
from pathlib import Path

from instrument import config as cfg
from instrument.live.logs import setup_logging
from instrument.names import Mode

NAME = "render"
HELP = (
    "Play along with a MIDI file offline, exactly as live: the file's first note track is "
    "your part; writes what the instrument played as a MIDI file (and a WAV, a plot)."
)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("input", metavar="IN.mid", type=Path, help="the player's performance")
    parser.add_argument("-o", "--output", metavar="OUT.mid", type=Path, required=True)
    parser.add_argument("--wav", metavar="OUT.wav", type=Path, help="also render the audio")
    parser.add_argument("--mode", choices=[str(m) for m in Mode],
                        help="default: accompany+continue")
    parser.add_argument("--tempo", type=float, metavar="BPM",
                        help="play the file's beats at this fixed tempo (default: its own "
                        "timing, tempo changes included)")
    parser.add_argument("--file-tempo", action="store_true",
                        help="play on the file's beat grid at its first tempo (as before the "
                        "beat followed the player) instead of following the notes")
    parser.add_argument("--seed", type=int, default=0, help="random seed (default 0)")
    parser.add_argument("--tail", type=float, metavar="BEATS",
                        help="keep going after the input ends (default: a full response)")
    parser.add_argument("--plot", metavar="OUT.png", type=Path, help="draw a piano roll")
    parser.add_argument("--config", metavar="FILE", help="TOML config (models, parts, synth)")
    parser.add_argument("--json", action="store_true", help="print a summary as JSON")


def _can_plot() -> bool:
    try:
        import matplotlib  # noqa: F401
    except ImportError:
        return False
    return True


def run(args: argparse.Namespace) -> int:
    try:
        config = cfg.load(args.config)
        cfg.apply_overrides(config, {"mode": args.mode or str(Mode.ACCOMPANY_CONTINUE)})
    except cfg.ConfigError as exc:
        print(f"instrument: config error: {exc}", file=sys.stderr)
        return 2
    setup_logging("warning" if args.json else config.log_level)
    if args.plot and not _can_plot():
        print("instrument: --plot needs matplotlib, in the plot extra: "
              "pip install 'instrument[plot]'", file=sys.stderr)
        return 2
    from instrument.engine.engine import EngineStalled
    from instrument.midifile.performance import read_performance
    from instrument.offline.render import plot_piano_roll, render

    try:
        performance = read_performance(args.input, args.tempo, tempo_map=not args.file_tempo)
    except (OSError, ValueError, EOFError) as exc:
        print(f"instrument: cannot read {args.input}: {exc}", file=sys.stderr)
        return 1
    try:
        result = render(config, performance, args.output, args.wav, args.seed, args.tail,
                        file_tempo=args.file_tempo)
    except (OSError, EngineStalled) as exc:
        print(f"instrument: {exc}", file=sys.stderr)
        return 1
    if args.plot:
        plot_piano_roll(args.output, args.plot)
    summary = {
        "input": str(args.input),
        "output": str(args.output),
        "wav": str(args.wav) if args.wav else None,
        "seconds": round(result.duration, 3),
        **result.band_status,
    }
    if args.json:
        print(json.dumps(summary))
    else:
        logging.getLogger("instrument").info("rendered %s", args.output)
        for key, value in summary.items():
            print(f"{key}: {value}")
    return 0
