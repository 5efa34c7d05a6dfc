"""The instrument's sound: one ``PolySynth`` per part, a master bus, and the planned notes.

Build it after the pyo server has booted, then start the server.
"""

from __future__ import annotations

import pyo

from instrument.audio.synth import PATCHES, PolySynth
from instrument.config import SynthConfig
from instrument.names import Part
from instrument.realtime.planned import PlannedNotes


class SoundSystem:
    """Synths for the player and the instrument's parts, mixed to a stereo output."""

    def __init__(self, synth: SynthConfig, sample_rate: int, block_size: int) -> None:
        patches = {
            Part.PLAYER: (synth.player_patch, synth.player_volume),
            Part.ACCOMPANIMENT: (synth.accompaniment_patch, synth.accompaniment_volume),
            Part.CONTINUATION: (synth.continuation_patch, synth.continuation_volume),
        }
        self.synths = {
            part: PolySynth(PATCHES[name], synth.voices, sample_rate, block_size, gain=volume)
            for part, (name, volume) in patches.items()
        }
        self.master = pyo.SigTo(synth.volume, time=0.02)
        mix = pyo.Mix([s.output for s in self.synths.values()], voices=1, mul=self.master)
        # A safety net against overload when many voices peak together.
        self._limited = pyo.Clip(mix, min=-0.98, max=0.98)
        self.output = pyo.Pan(self._limited, outs=2, pan=0.5).out()
        self.planned = PlannedNotes(self.synths, sample_rate, block_size)

    def set_volume(self, part: str, volume: float) -> None:
        """Any thread: set a part's level (0..1), smoothed over 20 ms."""
        self.synths[part].gain.value = volume
