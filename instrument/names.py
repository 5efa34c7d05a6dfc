"""The names the instrument's parts agree on, each defined once.

String enums: each member equals its text (``Mode.THRU == "thru"``), which is what the
config file, the command line, the status socket and the MIDI file's track names use.
"""

from __future__ import annotations

from enum import Enum


class Name(str, Enum):
    """A string enum whose ``str()`` is its text (also on Python 3.10)."""

    def __str__(self) -> str:
        return self.value

    def __repr__(self) -> str:  # as its text: logs and status dicts read back as literals
        return repr(self.value)

    # Equal to its text, so it must hash like it: "organ" finds Patch.ORGAN in a dict.
    __hash__ = str.__hash__


class Part(Name):
    """Who plays: the player, the instrument's parts, and MIDI clock out.

    The band is three parts: ``ACCOMPANIMENT`` (the chord instrument, which comps),
    ``BASS`` and ``DRUMS``; ``CONTINUATION`` answers the player's phrases.
    """

    PLAYER = "player"
    ACCOMPANIMENT = "accompaniment"
    CONTINUATION = "continuation"
    BASS = "bass"
    DRUMS = "drums"
    CLOCK = "clock"


#: The parts that sound (each has a synth, a MIDI out channel and a track).
SOUNDING_PARTS = (Part.PLAYER, Part.ACCOMPANIMENT, Part.CONTINUATION, Part.BASS, Part.DRUMS)
#: The band's parts: what a style plays, all following the same chords and beat.
BAND_PARTS = (Part.ACCOMPANIMENT, Part.BASS, Part.DRUMS)


class Mode(Name):
    THRU = "thru"
    CONTINUE = "continue"
    ACCOMPANY = "accompany"
    ACCOMPANY_CONTINUE = "accompany+continue"

    @property
    def continues(self) -> bool:
        return self in (Mode.CONTINUE, Mode.ACCOMPANY_CONTINUE)

    @property
    def accompanies(self) -> bool:
        return self in (Mode.ACCOMPANY, Mode.ACCOMPANY_CONTINUE)


class Patch(Name):
    EPIANO = "epiano"
    PAD = "pad"
    ORGAN = "organ"
    PLUCK = "pluck"
    BASS = "bass"


class TempoSource(Name):
    """Where the beat comes from. ``FILE`` is the renderer's own: a file's fixed grid."""

    INTERNAL = "internal"
    FOLLOW = "follow"
    MIDI_CLOCK = "midi_clock"
    LINK = "link"
    FILE = "file"


#: The tempo sources a config may name.
CONFIG_TEMPO_SOURCES = (
    TempoSource.INTERNAL, TempoSource.FOLLOW, TempoSource.MIDI_CLOCK, TempoSource.LINK,
)


class Provider(Name):
    """onnxruntime execution providers, in the order they are preferred."""

    TENSORRT = "tensorrt"
    CUDA = "cuda"
    CPU = "cpu"


class AudioBackend(Name):
    AUTO = "auto"
    JACK = "jack"
    PORTAUDIO = "portaudio"
    OFFLINE = "offline"


class MidiApi(Name):
    AUTO = "auto"
    ALSA = "alsa"
    JACK = "jack"
