"""Options shared by the commands that read the configuration."""

from __future__ import annotations

import argparse

from instrument import config as cfg
from instrument.names import AudioBackend, MidiApi, Mode

# flag destination -> dotted config key
OVERRIDES = {
    "mode": "mode",
    "audio": "audio.backend",
    "midi_api": "midi.api",
    "rate": "audio.rate",
    "buffer": "audio.buffer",
    "midi_in": "midi.input",
    "midi_out": "midi.output",
    "recordings": "recording.directory",
    "jack_client": "audio.jack_client",
    "log_level": "log_level",
}


def add_config_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--config", metavar="FILE",
        help="TOML config file (default: the first of ./instrument.toml, "
        "~/.config/instrument/config.toml, /etc/instrument/config.toml)",
    )
    parser.add_argument(
        "--mode", choices=[str(m) for m in Mode], help="what the instrument plays (default thru)"
    )
    parser.add_argument(
        "--audio", choices=[str(b) for b in AudioBackend],
        help="sound output: jack, portaudio (a sound card), offline (a WAV file); default auto",
    )
    parser.add_argument(
        "--midi-api", choices=[str(a) for a in MidiApi],
        help="MIDI system: alsa or jack; default auto (ALSA when available)",
    )
    parser.add_argument("--rate", type=int, metavar="HZ", help="sample rate (default 48000)")
    parser.add_argument(
        "--buffer", type=int, metavar="FRAMES",
        help="audio buffer in frames: smaller is quicker to respond (default 64)",
    )
    parser.add_argument(
        "--midi-in", metavar="NAME",
        help="play from the MIDI input whose name contains NAME (default: first hardware input)",
    )
    parser.add_argument("--midi-out", metavar="NAME", help="also send to the MIDI port named NAME")
    parser.add_argument("--recordings", metavar="DIR", help="where session MIDI files are saved")
    parser.add_argument(
        "--jack-client", metavar="NAME", help="JACK client name (default instrument)"
    )
    parser.add_argument("--log-level", choices=("debug", "info", "warning", "error"))


def load_config(args: argparse.Namespace) -> cfg.Config:
    """The file (or defaults) with the command-line flags applied. Raises ConfigError."""
    config = cfg.load(args.config)
    overrides = {key: getattr(args, dest, None) for dest, key in OVERRIDES.items()}
    return cfg.apply_overrides(config, overrides)
