"""The drum kit: synthesized pyo drums played by General MIDI drum notes (channel 10).

Every sound is made here from oscillators, noise and filters; nothing is sampled or
downloaded. ``KIT_NOTES`` names the note of each sound (the table the styles use,
:data:`~instrument.midi.gm_drums.DRUM_NOTES`);
``HITS`` is every note the kit answers (the GM notes of ``KIT_NOTES`` and a few of their
GM neighbours); any other note is ignored.

==========  ====  ==================================================================
name        note  sound
==========  ====  ==================================================================
kick          36  a sine whose pitch falls fast, short decay (also 35)
rim           37  side stick: a short band-passed click and a high tone
snare         38  band-passed noise and a tone (also 40, tighter)
brush         39  a soft, longer band-passed noise swish (GM's hand clap; GS brush kits
                  put a brush on 39 too)
hat           42  closed hi-hat: high-passed noise, short
pedal_hat     44  the same, softer
open_hat      46  the same, long; a later hat hit chokes it
crash         49  a noisy metallic FM wash, long (also 57)
ride          51  the same, more ping than wash (also 59)
frame_low     64  bodhran-like frame drum, low: a damped falling tone with a slap
                  (GM's low conga)
frame_high    63  the same, higher (GM's open high conga)
tom_low       41  a tone with a gentle pitch fall (also 43)
tom_mid       47  the same, higher (also 45 and 48)
tom_high      50  the same, higher still
==========  ====  ==================================================================

Each drum (kick, snare, rim, brush, hat, crash, ride, frame, tom) is a few voices built
up front and reused: a hit takes a silent voice, or the one hit longest ago. A voice
(``instrument.audio.voices.Voice``) starts on the hit's own sample: its trigger (a
counter that changes at every hit, read by ``Change``) and its gate pass a sample delay
set to the hit's offset inside the next block. The amplitude is the drum's envelope
(``TrigEnv``, scaled by velocity) times a gate (``MidiAdsr``) that stays open while the
voice may sound and closes in ``PANIC_RELEASE`` to choke it (panic, and the hi-hat: each
hat hit chokes the hat still ringing). Velocity scales the level, and where it is one
float to set, the brightness or the pitch fall. Hits are one-shots: a note-off changes
nothing.

Real-time rules: as the synth's (``instrument.audio.synth``): ``note_on``, ``note_off``,
``release_all`` and ``tick`` run in the audio callback, do bounded work, allocate no pyo
objects, and a voice's objects are paused while it is silent.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import pyo

from instrument.audio.voices import PANIC_RELEASE, Voice
from instrument.midi.gm_drums import DRUM_NOTES

#: The GM drum note of each sound of the kit (see the module docstring).
KIT_NOTES = DRUM_NOTES

GATE_ATTACK = 0.0003  # seconds: how fast a choked or new voice's gate opens at its hit


@dataclass(frozen=True)
class Hit:
    """What a note plays: on which drum, tuned how, for how long, how loud."""

    drum: str
    # Hz: the body's pitch (kick, tom, frame, snare, rim), the filter's cutoff or centre
    # (hat, brush), the metal's carrier (crash, ride)
    tune: float
    length: float  # seconds from the hit to silence
    level: float  # peak amplitude at full velocity


#: Every note the kit plays.
HITS: dict[int, Hit] = {
    35: Hit("kick", 45.0, 0.5, 0.9),
    36: Hit("kick", 52.0, 0.45, 0.9),
    37: Hit("rim", 820.0, 0.07, 0.45),
    38: Hit("snare", 185.0, 0.22, 0.5),
    39: Hit("brush", 3000.0, 0.4, 0.3),
    40: Hit("snare", 205.0, 0.16, 0.5),
    41: Hit("tom", 82.0, 0.6, 0.6),
    42: Hit("hat", 7500.0, 0.06, 0.35),
    43: Hit("tom", 98.0, 0.55, 0.6),
    44: Hit("hat", 7000.0, 0.09, 0.22),
    45: Hit("tom", 110.0, 0.5, 0.6),
    46: Hit("hat", 6500.0, 0.5, 0.3),
    47: Hit("tom", 131.0, 0.45, 0.55),
    48: Hit("tom", 147.0, 0.42, 0.55),
    49: Hit("crash", 470.0, 2.0, 0.35),
    50: Hit("tom", 175.0, 0.4, 0.55),
    51: Hit("ride", 620.0, 1.2, 0.25),
    57: Hit("crash", 520.0, 1.8, 0.35),
    59: Hit("ride", 560.0, 1.2, 0.25),
    63: Hit("frame", 150.0, 0.25, 0.5),
    64: Hit("frame", 78.0, 0.35, 0.55),
}


# -- envelopes ---------------------------------------------------------------------------

TABLE_SIZE = 8192


def _tables() -> dict[str, pyo.DataTable]:
    """Envelope shapes shared by every voice: amplitudes from 0 at the hit to 0 at the
    end of the hit's length, and a pitch fall from 1 to 0."""
    x = np.linspace(0.0, 1.0, TABLE_SIZE)

    def fall(rate: float) -> np.ndarray:  # exponential, from 1 to exactly 0
        return (np.exp(-rate * x) - math.exp(-rate)) / (1.0 - math.exp(-rate))

    # A strike: 8 points of attack (0.06 ms of a closed hat, 2 ms of a crash), then
    # about -60 dB by the end.
    perc = np.minimum(1.0, np.arange(TABLE_SIZE) / 8.0) * fall(7.0)
    # A swish: rising over its first 30%, then falling.
    peak = int(0.3 * TABLE_SIZE)
    swish = fall(5.0) / fall(5.0)[peak]
    swish[:peak] = np.sin(0.5 * np.pi * np.arange(peak) / peak) ** 2
    shapes = {"perc": perc, "swish": swish, "drop": fall(5.0)}
    return {name: pyo.DataTable(TABLE_SIZE, init=shape.tolist()) for name, shape in shapes.items()}


# -- the drums' sounds ---------------------------------------------------------------------

Tune = Callable[[float, float], None]  # (the hit's tune in Hz, velocity 0..1)


@dataclass
class _Graph:
    """A drum voice's signal graph after its trigger and amplitude (the last object
    sounds), and what sets its per-hit values."""

    objects: list[pyo.PyoObject]
    tune: Tune


def _pitched(trig, amp, tables, fall: float, fall_time: float, add=0.0) -> _Graph:
    """A sine whose pitch falls from ``1 + fall`` times the tune to the tune (a harder
    hit falls from higher)."""
    pitch = pyo.TrigEnv(trig, tables["drop"], dur=fall_time)
    body = pyo.Sine(freq=pitch, mul=amp, add=add)

    def tune(freq: float, velocity: float) -> None:
        pitch.mul = freq * fall * (0.6 + 0.4 * velocity)
        pitch.add = freq

    return _Graph([pitch, body], tune)


def _kick(trig, amp, tables) -> _Graph:
    return _pitched(trig, amp, tables, fall=3.5, fall_time=0.05)


def _tom(trig, amp, tables) -> _Graph:
    return _pitched(trig, amp, tables, fall=0.6, fall_time=0.12)


def _frame(trig, amp, tables) -> _Graph:
    """A damped low tone and the slap of the hand: a very short band of noise."""
    slap_env = pyo.TrigEnv(trig, tables["perc"], dur=0.04, mul=amp)
    noise = pyo.Noise(mul=2.0)
    slap = pyo.ButBP(noise, freq=1200.0, q=1.2, mul=slap_env)
    body = _pitched(trig, amp, tables, fall=0.5, fall_time=0.04, add=slap)
    return _Graph([slap_env, noise, slap, *body.objects], body.tune)


def _snare(trig, amp, tables) -> _Graph:
    """A short tone (the shell) under band-passed noise (the wires), brighter when hit
    harder."""
    tone_env = pyo.TrigEnv(trig, tables["perc"], dur=0.09, mul=amp)
    tone = pyo.Sine(freq=185.0, mul=tone_env)
    noise = pyo.Noise(mul=1.2)
    wires = pyo.ButBP(noise, freq=3000.0, q=0.6, mul=amp, add=tone)

    def tune(freq: float, velocity: float) -> None:
        tone.freq = freq
        wires.freq = 2200.0 + 2500.0 * velocity

    return _Graph([tone_env, tone, noise, wires], tune)


def _rim(trig, amp, tables) -> _Graph:
    """A side stick: a click of noise and a high tone, both short."""
    click_env = pyo.TrigEnv(trig, tables["perc"], dur=0.006, mul=amp)
    noise = pyo.Noise(mul=1.5)
    click = pyo.ButBP(noise, freq=2800.0, q=1.5, mul=click_env)
    tone = pyo.Sine(freq=820.0, mul=amp, add=click)

    def tune(freq: float, velocity: float) -> None:
        tone.freq = freq

    return _Graph([click_env, noise, click, tone], tune)


def _brush(trig, amp, tables) -> _Graph:
    noise = pyo.Noise()
    swish = pyo.ButBP(noise, freq=3000.0, q=0.7, mul=amp)

    def tune(freq: float, velocity: float) -> None:
        swish.freq = freq * (0.8 + 0.4 * velocity)

    return _Graph([noise, swish], tune)


def _hat(trig, amp, tables) -> _Graph:
    """High-passed noise, opening lower (more wash) when hit harder."""
    noise = pyo.Noise()
    hat = pyo.ButHP(noise, freq=7500.0, mul=amp)

    def tune(freq: float, velocity: float) -> None:
        hat.freq = freq * (1.2 - 0.3 * velocity)

    return _Graph([noise, hat], tune)


def _cymbal(noise_level: float, ratio: float, index: float, cut: float):
    """A metallic cymbal: inharmonic FM plus noise, high-passed."""

    def build(trig, amp, tables) -> _Graph:
        noise = pyo.Noise(mul=noise_level)
        metal = pyo.FM(carrier=500.0, ratio=ratio, index=index, add=noise)
        cymbal = pyo.ButHP(metal, freq=cut, mul=amp)

        def tune(freq: float, velocity: float) -> None:
            metal.carrier = freq
            cymbal.freq = cut * (1.2 - 0.3 * velocity)

        return _Graph([noise, metal, cymbal], tune)

    return build


@dataclass(frozen=True)
class Drum:
    """One drum of the kit: its voices, its envelope and its sound."""

    name: str
    voices: int
    build: Callable[[pyo.PyoObject, pyo.PyoObject, dict], _Graph]
    envelope: str = "perc"  # its amplitude envelope, a shape of ``_tables``
    one_at_a_time: bool = False  # each hit chokes its voices still ringing (the hi-hat)


DRUMS: dict[str, Drum] = {
    drum.name: drum
    for drum in (
        Drum("kick", 2, _kick),
        Drum("snare", 3, _snare),
        Drum("rim", 2, _rim),
        Drum("brush", 2, _brush, envelope="swish"),
        Drum("hat", 3, _hat, one_at_a_time=True),
        Drum("crash", 2, _cymbal(noise_level=0.8, ratio=1.41, index=8.0, cut=3000.0)),
        Drum("ride", 3, _cymbal(noise_level=0.3, ratio=1.47, index=5.0, cut=4000.0)),
        Drum("frame", 3, _frame),
        Drum("tom", 3, _tom),
    )
}


# -- the kit -------------------------------------------------------------------------------


class _DrumVoice(Voice):
    __slots__ = (
        "choked", "count", "ends_at", "env", "gate", "hit_block", "hits", "note", "sound",
        "tune",
    )

    def __init__(self, drum: Drum, sample_rate: int, block_size: int, tables: dict) -> None:
        super().__init__(sample_rate, block_size)
        self.count, count = self.control(0.0)  # changes at every hit: the trigger
        self.gate, gate = self.control(0.0)  # 1 while the voice may sound; 0 chokes it
        trig = pyo.Change(count)
        self.env = pyo.TrigEnv(trig, tables[drum.envelope], dur=1.0)
        amp = pyo.MidiAdsr(gate, attack=GATE_ATTACK, decay=0.001, sustain=1.0,
                           release=PANIC_RELEASE, mul=self.env)
        graph = drum.build(trig, amp, tables)
        self.sound = graph.objects[-1]
        self.tune = graph.tune
        self.objects += [trig, self.env, amp, *graph.objects]
        self.hits = 0
        self.note = -1
        self.hit_block = -1  # the block of its last hit
        self.ends_at = -1  # the last block it sounds in
        self.choked = False
        self.pause()


class DrumKit:
    """The drums of ``DRUMS``, mixed to one mono signal (``output``), played by the GM
    notes of ``HITS``; the same calls as ``PolySynth`` (see the module docstring)."""

    def __init__(self, sample_rate: int, block_size: int, gain: float = 1.0) -> None:
        self.sample_rate = sample_rate
        self.block_size = block_size
        self._tables = _tables()
        self._drums = {
            name: [_DrumVoice(drum, sample_rate, block_size, self._tables)
                   for _ in range(drum.voices)]
            for name, drum in DRUMS.items()
        }
        self._choke_blocks = math.ceil(PANIC_RELEASE * sample_rate / block_size) + 1
        self._ringing: list[_DrumVoice] = []  # voices not paused
        self.gain = pyo.SigTo(gain, time=0.02, init=gain)
        self.output = pyo.Mix(
            [v.sound for voices in self._drums.values() for v in voices], voices=1,
            mul=self.gain,
        )
        self.block = 0
        self.dropped = 0  # always 0: a hit takes the voice hit longest ago if none is free

    # -- audio-thread methods --------------------------------------------------------

    def tick(self) -> None:
        """Advance the block counter and pause the voices that have fallen silent."""
        self.block += 1
        ringing = self._ringing
        i = len(ringing)
        while i:
            i -= 1
            voice = ringing[i]
            if self.block > voice.ends_at:
                voice.pause()
                del ringing[i]

    def note_on(self, pitch: int, velocity: int, offset: int = 0) -> bool:
        """Hit ``pitch`` (a GM drum note) at ``offset`` samples into the next block.
        False if the kit has no such drum (the note is ignored)."""
        hit = HITS.get(pitch)
        if hit is None:
            return False
        voices = self._drums[hit.drum]
        if DRUMS[hit.drum].one_at_a_time:
            for other in voices:
                if other.active and not other.choked:
                    self._choke(other, offset)
        voice = self._free_voice(voices)
        if not voice.active:
            voice.resume()
            self._ringing.append(voice)
        v = max(1, min(127, velocity)) / 127.0
        voice.at(offset)
        voice.tune(hit.tune, v)
        voice.env.dur = hit.length
        voice.env.mul = hit.level * v
        voice.hits = voice.hits % 4096 + 1
        voice.count.value = voice.hits
        voice.gate.value = 1.0
        voice.note = pitch
        voice.choked = False
        voice.hit_block = self.block
        voice.ends_at = self.block + math.ceil(hit.length * self.sample_rate / self.block_size)
        return True

    def note_off(self, pitch: int, offset: int = 0) -> bool:
        """Hits are one-shots: a note-off changes nothing (False)."""
        return False

    def release_all(self, fast: bool = False) -> None:
        """``fast``: choke every ringing drum in ~12 ms (panic). Otherwise (a part's
        notes cut short) the hits already struck ring out, as a drummer's would."""
        if fast:
            for voice in self._ringing:
                self._choke(voice, 0)

    def restore_release(self) -> None:
        """Nothing to restore: a choked voice opens again at its next hit."""

    # -- queries (any thread) ----------------------------------------------------------

    def sounding(self) -> list[int]:
        """The notes whose hits still ring (not choked)."""
        return sorted({v.note for v in list(self._ringing) if not v.choked})

    # -- internals ---------------------------------------------------------------------

    def _choke(self, voice: _DrumVoice, offset: int) -> None:
        """Close ``voice``'s gate at ``offset`` (or, if it was hit in this very block,
        at its hit: a later hit in the same block wins)."""
        if voice.choked:
            return
        if voice.hit_block != self.block:
            voice.at(offset)
        voice.gate.value = 0.0
        voice.choked = True
        voice.ends_at = min(voice.ends_at, self.block + self._choke_blocks)

    @staticmethod
    def _free_voice(voices: list[_DrumVoice]) -> _DrumVoice:
        """A paused voice, else the one hit longest ago."""
        best = voices[0]
        for voice in voices:
            if not voice.active:
                return voice
            if voice.hit_block < best.hit_block:
                best = voice
        return best
