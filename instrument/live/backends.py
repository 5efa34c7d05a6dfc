"""How a configuration resolves on this machine: the audio backend, the MIDI API, an
embedded JACK server when one is needed, and whether the engine runs in a process of
its own (:func:`engine_in_own_process`). ``instrument check`` prints it; both layouts
(:mod:`instrument.live`) are built from it."""

from __future__ import annotations

import logging
from dataclasses import dataclass

from instrument.audio import server as audio_server
from instrument.config import Config
from instrument.jack.graph import jack_server_running
from instrument.jack.server import EmbeddedJack
from instrument.live import rtmidi_ports as rtmidi_io
from instrument.names import AudioBackend, MidiApi

log = logging.getLogger(__name__)


class SetupError(RuntimeError):
    """The instrument cannot start as configured (the message says why and what to do)."""


@dataclass(frozen=True)
class Backends:
    """How the configuration resolves on this machine."""

    audio: AudioBackend
    audio_why: str
    midi_api: MidiApi
    midi_why: str
    #: The JACK server to start, when JACK is needed and none is running.
    embedded: EmbeddedJack | None = None

    def describe(self, config: Config) -> str:
        c = config.audio.jack_client
        midi = (
            f"JACK ports {c}:midi_in / {c}:midi_out"
            if self.midi_api == MidiApi.JACK
            else "ALSA via python-rtmidi"
        )
        text = f"audio: {self.audio} ({self.audio_why}); MIDI: {midi} ({self.midi_why})"
        if self.embedded is not None:
            text += f"; no JACK server is running: it starts {self.embedded.describe()}"
        return text


def resolve_backends(config: Config) -> Backends:
    """How the instrument will run here. JACK is used when a server runs or when there is
    no ALSA sequencer; when it chose JACK itself and finds no server, it starts one of
    its own (``instrument.jack.server``). JACK asked for in the config with no server
    running is an error (the appliance's JACK service is down). Raises SetupError for
    what cannot work."""
    jack_running = jack_server_running()
    api = config.midi.api
    if api == MidiApi.AUTO:
        if rtmidi_io.alsa_available():
            api, midi_why = MidiApi.ALSA, "the ALSA sequencer is available"
        else:
            api, midi_why = MidiApi.JACK, "no ALSA sequencer (/dev/snd/seq) here, so JACK MIDI"
    else:
        midi_why = "as configured"
        if api == MidiApi.ALSA and not rtmidi_io.alsa_available():
            raise SetupError(
                "midi.api is alsa but the ALSA sequencer is not available here "
                "(no /dev/snd/seq); use --midi-api jack"
            )
    embedded = None
    if not jack_running:
        if config.audio.backend == AudioBackend.JACK or config.midi.api == MidiApi.JACK:
            # Asked for by name (the appliance's config): its JACK service must be up.
            raise SetupError(
                "JACK is configured but no JACK server is running; start jackd (or the "
                "instrument-jack service), or leave audio.backend and midi.api on auto"
            )
        if api == MidiApi.JACK:
            embedded = EmbeddedJack(config.audio.rate, config.audio.buffer)
    if config.audio.backend != AudioBackend.AUTO:
        audio, audio_why = config.audio.backend, "as configured"
    elif jack_running:
        audio, audio_why = AudioBackend.JACK, "a JACK server is running"
    elif embedded is not None and embedded.card is not None:
        audio, audio_why = AudioBackend.JACK, f"its own JACK server on {embedded.card}"
    else:
        audio, audio_why = audio_server.resolve_without_jack()
    return Backends(audio, audio_why, api, midi_why, embedded)


def engine_in_own_process(config: Config, backends: Backends) -> bool:
    """Whether the engine runs in a process of its own: with audio on JACK (the cycle is
    then the audio process's real-time path, whichever MIDI API: with ALSA MIDI the
    cycle reads what rtmidi stamped) and ``audio.engine_process``."""
    return config.audio.engine_process and backends.audio == AudioBackend.JACK


def describe_layout(config: Config, backends: Backends) -> str:
    """The layout ``instrument run`` starts with this config here, and why."""
    if engine_in_own_process(config, backends):
        return ("layout: two processes (audio process: JACK cycle, thru, MIDI in and out; "
                "engine process: models, Band, recorder)")
    if not config.audio.engine_process:
        why = "audio.engine_process = false"
    else:
        why = f"audio on {backends.audio}, not JACK"
    return f"layout: one process ({why})"
