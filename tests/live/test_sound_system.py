"""The instrument's sound: a synth or the drum kit for every sounding part, each heard
through the planned notes."""

from __future__ import annotations

import pytest

from instrument.audio.drums import KIT_NOTES, DrumKit
from instrument.audio.synth import PATCHES, PolySynth
from instrument.config import SynthConfig
from instrument.live.sound_side import INSTRUMENT_PARTS
from instrument.live.sound_system import SoundSystem
from instrument.names import SOUNDING_PARTS, Part, Patch
from instrument.realtime.planned import SynthEvent
from tests.support.analysis import rms
from tests.support.pyo_manual import BLOCK, RATE, Recorder, manual_server


@pytest.fixture(autouse=True)
def pyo_server():
    return manual_server()


def test_every_sounding_part_has_its_sound_and_the_drums_are_the_kit():
    sound = SoundSystem(SynthConfig(), RATE, BLOCK)
    assert list(sound.synths) == list(SOUNDING_PARTS)
    assert isinstance(sound.synths[Part.DRUMS], DrumKit)
    bass = sound.synths[Part.BASS]
    assert isinstance(bass, PolySynth) and bass.patch is PATCHES[Patch.BASS]
    assert INSTRUMENT_PARTS == (Part.ACCOMPANIMENT, Part.CONTINUATION, Part.BASS, Part.DRUMS)


@pytest.mark.parametrize(("part", "pitch"), [(Part.BASS, 40), (Part.DRUMS, KIT_NOTES["kick"])])
def test_planned_bass_and_drum_notes_sound_at_their_parts_volume(part, pitch):
    sound = SoundSystem(SynthConfig(), RATE, BLOCK)
    rec = Recorder(sound.synths[part].output)

    def level(volume: float) -> float:
        sound.set_volume(part, volume)
        rec.blocks(20)  # the volume's 20 ms glide
        start = rec.count * BLOCK
        sound.planned.schedule(SynthEvent(start / RATE, part, pitch, 100))
        sound.planned.schedule(SynthEvent(start / RATE + 0.2, part, pitch, 0))
        for _ in range(round(0.15 * RATE / BLOCK)):
            sound.planned.play_due(rec.count * BLOCK / RATE)
            rec.blocks(1)
        for _ in range(round(0.6 * RATE / BLOCK)):  # to silence
            sound.planned.play_due(rec.count * BLOCK / RATE)
            rec.blocks(1)
        return rms(rec.audio()[start : start + int(0.15 * RATE)])

    loud, soft = level(0.8), level(0.2)
    assert loud > 0.02
    assert soft == pytest.approx(loud / 4, rel=0.1)
