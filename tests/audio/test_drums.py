"""The drum kit on pyo's manual server: every sound at its GM note, its character, exact
start samples, chokes, panic, and idle voices paused."""

from __future__ import annotations

import itertools

import numpy as np
import pytest

from instrument.audio.drums import DRUMS, HITS, KIT_NOTES, DrumKit
from tests.support.analysis import first_onset, rms
from tests.support.pyo_manual import BLOCK, RATE, Recorder


class Rig:
    """A kit, its output recorded, ticked once a block as the audio callback does."""

    def __init__(self) -> None:
        self.kit = DrumKit(RATE, BLOCK)
        self.rec = Recorder(self.kit.output, seconds=6.0)

    def blocks(self, n: int) -> None:
        for _ in range(n):
            self.kit.tick()
            self.rec.blocks(1)

    def seconds(self, s: float) -> None:
        self.blocks(round(s * RATE / BLOCK))

    @property
    def now(self) -> int:
        """The first sample of the next block."""
        return self.rec.count * BLOCK

    def audio(self) -> np.ndarray:
        return self.rec.audio()


def hit(note: int, velocity: int = 110, after: float | None = None) -> np.ndarray:
    """The sound of one hit, from its block to ``after`` seconds (its length) later."""
    rig = Rig()
    rig.blocks(2)
    assert rig.kit.note_on(note, velocity)
    rig.seconds(HITS[note].length + 0.05 if after is None else after)
    return rig.audio()[2 * BLOCK :]


def band_shares(audio: np.ndarray, edges=(150, 1000, 5000)) -> list[float]:
    """The share of the energy below, between and above ``edges`` (Hz)."""
    power = np.abs(np.fft.rfft(audio)) ** 2
    freqs = np.fft.rfftfreq(audio.size, 1 / RATE)
    bounds = [0, *edges, RATE]
    return [float(power[(freqs >= lo) & (freqs < hi)].sum() / power.sum())
            for lo, hi in itertools.pairwise(bounds)]


def test_the_kit_notes_are_general_midi_and_every_one_plays():
    gm = {"kick": 36, "rim": 37, "snare": 38, "hat": 42, "pedal_hat": 44, "open_hat": 46,
          "crash": 49, "ride": 51}
    assert {name: KIT_NOTES[name] for name in gm} == gm
    assert len(set(KIT_NOTES.values())) == len(KIT_NOTES)
    assert set(KIT_NOTES.values()) <= set(HITS)
    assert {HITS[n].drum for n in HITS} == set(DRUMS)
    for alias, same in ((35, "kick"), (40, "snare"), (57, "crash"), (59, "ride")):
        assert HITS[alias].drum == HITS[KIT_NOTES[same]].drum


@pytest.mark.parametrize("name", sorted(KIT_NOTES))
def test_each_sound_plays_at_its_note_then_falls_silent(name):
    audio = hit(KIT_NOTES[name])
    assert rms(audio) > 0.005
    assert np.abs(audio).max() < 0.98
    assert rms(audio[-BLOCK:]) < 1e-4  # silent by the end of its length


def test_the_kick_is_low_the_hats_are_high_the_snare_is_broadband():
    low, _, _, _ = band_shares(hit(KIT_NOTES["kick"]))
    assert low > 0.8
    for name in ("hat", "pedal_hat", "open_hat"):
        *_, high = band_shares(hit(KIT_NOTES[name]))
        assert high > 0.8, name
    below_1k, mid, high = band_shares(hit(KIT_NOTES["snare"]), edges=(1000, 5000))
    assert min(below_1k, mid, high) > 0.1
    for name in ("crash", "ride"):
        assert sum(band_shares(hit(KIT_NOTES[name]))[2:]) > 0.9, name


def test_the_frame_drum_is_a_low_tone_with_a_slap_and_the_toms_rise():
    low, *_ = band_shares(hit(KIT_NOTES["frame_low"]))
    assert low > 0.8
    slap = band_shares(hit(KIT_NOTES["frame_low"], after=0.03))
    assert slap[2] > 0.005  # the hand's slap above 1 kHz, at the start

    def pitch(note: int) -> float:
        audio = hit(note)[BLOCK * 8 :]
        power = np.abs(np.fft.rfft(audio * np.hanning(audio.size)))
        return float(np.fft.rfftfreq(audio.size, 1 / RATE)[power.argmax()])

    toms = [pitch(KIT_NOTES[n]) for n in ("tom_low", "tom_mid", "tom_high")]
    assert toms == sorted(toms) and toms[0] < toms[-1] / 1.5
    assert pitch(KIT_NOTES["frame_low"]) < pitch(KIT_NOTES["frame_high"])


@pytest.mark.parametrize("name", ["kick", "hat", "snare"])
def test_a_hit_starts_on_the_requested_sample_inside_the_block(name):
    for offset in (0, 17, 63):
        rig = Rig()
        rig.blocks(3)
        start = rig.now
        rig.kit.note_on(KIT_NOTES[name], 100, offset=offset)
        rig.blocks(2)
        onset = first_onset(rig.audio()[start:], threshold=1e-7)
        assert onset is not None and offset <= onset <= offset + 2, (offset, onset)


def test_louder_when_hit_harder():
    for name in ("kick", "snare", "hat", "ride"):
        soft = hit(KIT_NOTES[name], velocity=30)
        hard = hit(KIT_NOTES[name], velocity=120)
        assert rms(hard) > 2.5 * rms(soft), name


def test_fast_repeats_overlap_and_every_hit_sounds():
    rig = Rig()
    rig.blocks(2)
    starts = []
    for _ in range(10):  # sixteenth notes at 180 bpm: more hits than the snare's voices
        starts.append(rig.now)
        assert rig.kit.note_on(KIT_NOTES["snare"], 100)
        rig.seconds(60 / 180 / 4)
    audio = rig.audio()
    assert all(rms(audio[s : s + BLOCK]) > 0.02 for s in starts)
    assert rig.kit.dropped == 0


def test_a_closed_hat_chokes_the_open_hat():
    def open_hat(closed_after: float | None) -> np.ndarray:
        rig = Rig()
        rig.blocks(2)
        rig.kit.note_on(KIT_NOTES["open_hat"], 110)
        if closed_after is not None:
            rig.seconds(closed_after)
            rig.kit.note_on(KIT_NOTES["hat"], 90)
            rig.seconds(0.3 - closed_after)
        else:
            rig.seconds(0.3)
        return rig.audio()

    ringing, choked = open_hat(None), open_hat(0.1)
    later = slice(2 * BLOCK + int(0.2 * RATE), None)  # after the closed hat's own sound
    assert rms(ringing[later]) > 0.002
    assert rms(choked[later]) < 1e-5


def test_panic_silences_within_20_ms_and_the_kit_plays_again():
    rig = Rig()
    for name in ("crash", "ride", "open_hat", "kick", "tom_low"):
        rig.kit.note_on(KIT_NOTES[name], 120)
    rig.seconds(0.1)
    assert rig.kit.sounding() == sorted(KIT_NOTES[n] for n in
                                        ("crash", "ride", "open_hat", "kick", "tom_low"))
    start = rig.now
    rig.kit.release_all(fast=True)
    rig.seconds(0.1)
    audio = rig.audio()
    assert rms(audio[start - 2400 : start]) > 0.01
    assert rms(audio[start + int(0.02 * RATE) :]) < 1e-6
    assert rig.kit.sounding() == []
    rig.kit.restore_release()
    again = rig.now
    rig.kit.note_on(KIT_NOTES["crash"], 120)
    rig.seconds(0.05)
    assert rms(rig.audio()[again:]) > 0.01


def test_a_release_lets_the_hits_ring_and_note_offs_change_nothing():
    rig = Rig()
    rig.kit.note_on(KIT_NOTES["crash"], 120)
    rig.seconds(0.1)
    assert not rig.kit.note_off(KIT_NOTES["crash"])
    rig.kit.release_all()
    start = rig.now
    rig.seconds(0.1)
    assert rms(rig.audio()[start:]) > 0.01
    assert rig.kit.sounding() == [KIT_NOTES["crash"]]


def test_unmapped_notes_are_ignored():
    rig = Rig()
    assert not rig.kit.note_on(60, 100)
    assert not rig.kit.note_on(0, 100)
    rig.blocks(4)
    assert rms(rig.audio()) == 0.0 and rig.kit.sounding() == []


def test_silent_voices_are_paused():
    rig = Rig()
    rig.kit.note_on(KIT_NOTES["kick"], 100)
    rig.kit.note_on(KIT_NOTES["hat"], 100)
    rig.blocks(2)
    assert rig.kit.sounding() == [KIT_NOTES["kick"], KIT_NOTES["hat"]]
    rig.seconds(HITS[KIT_NOTES["kick"]].length + 0.05)
    assert rig.kit.sounding() == []
    voices = [v for vs in rig.kit._drums.values() for v in vs]
    assert not any(v.active for v in voices)
