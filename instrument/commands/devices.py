"""``instrument devices``: list MIDI ports and audio devices."""

from __future__ import annotations

import argparse

from instrument.audio.quiet_stderr import quiet_c_stderr

NAME = "devices"
HELP = "List MIDI ports and audio devices, with the names to use in the config or flags."


def add_arguments(parser: argparse.ArgumentParser) -> None:
    return None


def _midi_lines() -> list[str]:
    from instrument.jack.graph import JackGraph, jack_server_running
    from instrument.live import rtmidi_ports as rtmidi_io

    lines = []
    if rtmidi_io.alsa_available():
        lines.append("ALSA MIDI inputs (use with --midi-api alsa --midi-in NAME):")
        ins = rtmidi_io.list_ports("alsa")
        lines += [f"  {p.name}{'  [hardware]' if p.hardware else ''}" for p in ins] or ["  none"]
        lines.append("ALSA MIDI outputs (--midi-out NAME):")
        outs = rtmidi_io.list_ports("alsa", output=True)
        lines += [f"  {p.name}" for p in outs] or ["  none"]
    else:
        lines.append("ALSA MIDI: not available (no /dev/snd/seq)")
    if jack_server_running():
        graph = JackGraph("instrument-devices")
        try:
            lines.append("JACK MIDI sources (use with --midi-api jack --midi-in NAME):")
            sources = graph.midi_sources()
            lines += [
                f"  {p.name}{'  [hardware]' if p.hardware else ''}" for p in sources
            ] or ["  none"]
            lines.append("JACK MIDI destinations (--midi-out NAME):")
            lines += [f"  {p.name}" for p in graph.midi_destinations()] or ["  none"]
            lines.append("JACK audio playback ports:")
            lines += [f"  {name}" for name in graph.physical_playback()] or ["  none"]
        finally:
            graph.close()
    else:
        lines.append("JACK: no server running")
    return lines


def _audio_lines() -> list[str]:
    try:
        with quiet_c_stderr():
            import sounddevice

            devices = sounddevice.query_devices()
    except OSError as exc:  # libportaudio2 missing
        return [f"audio devices: PortAudio is not available ({exc})"]
    lines = ["Audio output devices (use with --audio portaudio and audio.device = NAME):"]
    found = False
    for device in devices:
        if device["max_output_channels"] > 0:
            found = True
            api = sounddevice.query_hostapis(device["hostapi"])["name"]
            lines.append(
                f"  {device['name']}  ({api}, {device['max_output_channels']} ch, "
                f"{device['default_samplerate']:.0f} Hz)"
            )
    if not found:
        lines.append("  none (no sound card found: --audio offline writes a WAV file)")
    return lines


def run(args: argparse.Namespace) -> int:
    for line in _midi_lines() + _audio_lines():
        print(line)
    return 0
