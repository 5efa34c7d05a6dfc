"""The instrument's sound: a ``PolySynth`` per part that plays a patch, the ``DrumKit``
for the drums, a master bus, and the planned notes.

Build it after the pyo server has booted, then start the server.
"""

from __future__ import annotations

import pyo

from instrument.audio.drums import DrumKit
from instrument.audio.synth import PATCHES, PolySynth
from instrument.audio.voices import PartSound
from instrument.config import SynthConfig
from instrument.names import SOUNDING_PARTS, Part
from instrument.realtime.planned import PlannedNotes


class SoundSystem:
    """The sound of each part of ``SOUNDING_PARTS`` (or of ``parts``), mixed to a stereo
    output."""

    def __init__(self, synth: SynthConfig, sample_rate: int, block_size: int,
                 parts: tuple[Part, ...] = SOUNDING_PARTS) -> None:
        patches, volumes = synth.patches(), synth.volumes()
        self.synths: dict[str, PartSound] = {}
        for part in parts:
            if part == Part.DRUMS:
                self.synths[part] = DrumKit(sample_rate, block_size, gain=volumes[part])
            else:
                self.synths[part] = PolySynth(PATCHES[patches[part]], synth.voices,
                                              sample_rate, block_size, gain=volumes[part])
        self.master = pyo.SigTo(synth.volume, time=0.02)
        mix = pyo.Mix([s.output for s in self.synths.values()], voices=1, mul=self.master)
        # A safety net against overload when many voices peak together.
        self._limited = pyo.Clip(mix, min=-0.98, max=0.98)
        self.output = pyo.Pan(self._limited, outs=2, pan=0.5).out()
        self.planned = PlannedNotes(self.synths, sample_rate, block_size)

    def set_volume(self, part: str, volume: float) -> None:
        """Any thread: set a part's level (0..1), smoothed over 20 ms."""
        self.synths[part].gain.value = volume
