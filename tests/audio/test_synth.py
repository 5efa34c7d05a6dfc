"""The synth on pyo's manual server: pitch, velocity, clicks, exact start samples."""

from __future__ import annotations

import numpy as np
import pytest

from instrument.audio.synth import PATCHES, PolySynth
from instrument.music import midi_to_hz
from tests.support.analysis import cents, estimate_f0, first_onset, rms
from tests.support.pyo_manual import BLOCK, RATE, Recorder


def play(patch: str, pitch: int = 60, velocity: int = 100, hold: float = 0.5, voices: int = 4):
    synth = PolySynth(PATCHES[patch], voices, RATE, BLOCK)
    rec = Recorder(synth.output)
    rec.blocks(4)
    synth.note_on(pitch, velocity)
    rec.seconds(hold)
    synth.note_off(pitch)
    rec.seconds(PATCHES[patch].release + 0.2)
    return synth, rec.audio(), 4 * BLOCK, 4 * BLOCK + round(hold * RATE / BLOCK) * BLOCK


@pytest.mark.parametrize("patch", sorted(PATCHES))
@pytest.mark.parametrize("pitch", [40, 60, 81])
def test_each_patch_sounds_the_played_pitch(patch, pitch):
    _, audio, on, off = play(patch, pitch)
    body = audio[on + RATE // 20 : off]
    assert rms(body) > 0.01
    assert abs(cents(estimate_f0(body, RATE), midi_to_hz(pitch))) < 25


@pytest.mark.parametrize("patch", sorted(PATCHES))
def test_release_decays_to_silence_without_clicks(patch):
    _, audio, on, off = play(patch, 64)
    assert rms(audio[:on]) == 0.0
    tail = audio[off + int((PATCHES[patch].release + 0.05) * RATE) :]
    assert rms(tail) < 1e-5
    # No click: no jump between samples bigger than the waveform itself makes.
    steps = np.abs(np.diff(audio))
    body_steps = np.abs(np.diff(audio[on + RATE // 10 : off]))
    assert steps.max() <= body_steps.max() * 1.5 + 1e-3


@pytest.mark.parametrize("patch", sorted(PATCHES))
def test_louder_when_played_harder(patch):
    _, soft, on, off = play(patch, 60, velocity=30, hold=0.2)
    _, hard, _, _ = play(patch, 60, velocity=120, hold=0.2)
    assert rms(hard[on:off]) > 2.5 * rms(soft[on:off])


def test_patches_for_player_and_instrument_sound_different():
    def spectrum(patch):
        _, audio, on, _off = play(patch, 57, hold=0.4)
        mag = np.abs(np.fft.rfft(audio[on + 2400 : on + 2400 + 8192] * np.hanning(8192)))
        return mag / np.linalg.norm(mag)

    similarity = float(np.dot(spectrum("epiano"), spectrum("pad")))
    assert similarity < 0.8


def test_note_starts_on_the_requested_sample_inside_the_block():
    for offset in (0, 17, 63):
        synth = PolySynth(PATCHES["organ"], 2, RATE, BLOCK)
        rec = Recorder(synth.output)
        rec.blocks(2)
        synth.note_on(69, 100, offset=offset)
        rec.blocks(2)
        start = first_onset(rec.audio()[2 * BLOCK :], threshold=1e-7)
        assert start is not None and offset <= start <= offset + 1


def test_voices_run_out_then_notes_are_dropped_and_counted():
    synth = PolySynth(PATCHES["organ"], 2, RATE, BLOCK)
    rec = Recorder(synth.output)
    assert synth.note_on(60, 100) and synth.note_on(64, 100)
    assert not synth.note_on(67, 100)
    assert synth.dropped == 1
    assert synth.sounding() == [60, 64]
    synth.note_off(60)
    rec.blocks(1)
    assert synth.note_on(67, 100)  # takes the released voice


def test_release_all_fast_is_silent_within_20_ms():
    synth = PolySynth(PATCHES["pad"], 8, RATE, BLOCK)
    rec = Recorder(synth.output)
    for p in (48, 52, 55, 60):
        synth.note_on(p, 120)
    rec.seconds(0.3)
    synth.release_all(fast=True)
    start = rec.count * BLOCK
    rec.seconds(0.1)
    audio = rec.audio()
    assert rms(audio[start - 2400 : start]) > 0.01
    assert rms(audio[start + int(0.02 * RATE) :]) < 1e-6
    assert synth.sounding() == []


@pytest.mark.parametrize("pitch", [28, 40, 55])
def test_the_bass_sounds_its_pitch_with_harmonics_small_speakers_can_play(pitch):
    _, audio, on, off = play("bass", pitch)
    body = audio[on + RATE // 20 : off]
    assert abs(cents(estimate_f0(body, RATE, fmin=30.0), midi_to_hz(pitch))) < 25
    power = np.abs(np.fft.rfft(body * np.hanning(body.size))) ** 2
    freqs = np.fft.rfftfreq(body.size, 1 / RATE)
    assert power[freqs > 150].sum() > 0.15 * power.sum()
