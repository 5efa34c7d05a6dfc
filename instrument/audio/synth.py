"""The built-in synth: polyphonic, velocity-sensitive pyo voices in a few patches.

Every voice (``instrument.audio.voices.Voice``) is driven by two controls set from
Python, the gate (velocity or 0) and the frequency, both taking effect at the note's
offset inside the next audio block, so a note planned for a given sample starts on that
sample rather than at the start of the block. The envelope (``MidiAdsr``) ramps from
zero at every start and to zero at every stop: no clicks.

Real-time rules: ``note_on``, ``note_off``, ``release_all`` and ``tick`` mutate pyo
objects and run inside the audio callback (pyo's block callback or its MIDI callback)
while the server is live, or between ``process()`` calls of a manual server. They do a
bounded amount of work, allocate nothing large and never block.
"""

from __future__ import annotations

from dataclasses import dataclass

import pyo

from instrument.audio.voices import PANIC_RELEASE, Voice
from instrument.music import midi_to_hz
from instrument.names import Patch


@dataclass(frozen=True)
class Sound:
    """A patch's sound: envelope times and the voice's signal graph (see ``_build``)."""

    name: Patch
    attack: float
    decay: float
    sustain: float
    release: float
    level: float = 0.25  # peak amplitude of one voice at full velocity


PATCHES: dict[Patch, Sound] = {
    # FM electric piano: bright attack, brightness follows velocity, long decay.
    Patch.EPIANO: Sound(Patch.EPIANO, attack=0.003, decay=1.5, sustain=0.3, release=0.25),
    # Detuned saws through a low-pass that opens with velocity: slow, soft pad.
    Patch.PAD: Sound(Patch.PAD, attack=0.05, decay=0.4, sustain=0.8, release=0.45, level=1.5),
    # Additive drawbar organ: four harmonics, no decay.
    Patch.ORGAN: Sound(Patch.ORGAN, attack=0.006, decay=0.05, sustain=0.9, release=0.08,
                       level=0.18),
    # Plucked string: fast decay to silence.
    Patch.PLUCK: Sound(Patch.PLUCK, attack=0.002, decay=0.6, sustain=0.0, release=0.15,
                       level=0.3),
    # Bass: a bright saw-like wave through a low-pass that closes as the pluck decays,
    # over a sine at the fundamental; the harmonics carry low notes on small speakers.
    Patch.BASS: Sound(Patch.BASS, attack=0.004, decay=0.35, sustain=0.5, release=0.08,
                      level=0.5),
}


def _tables() -> dict[str, pyo.PyoTableObject]:
    """Wavetables shared by every voice of a patch (created once per synth)."""
    return {
        # Drawbar organ: four harmonics.
        Patch.ORGAN: pyo.HarmTable([1.0, 0.5, 0.3, 0.15]),
        # Plucked string: odd harmonics falling off like a triangle wave's.
        Patch.PLUCK: pyo.HarmTable([1.0, 0, 1 / 9, 0, 1 / 25, 0, 1 / 49, 0, 1 / 81]),
        # Bass: a band-limited saw-like wave, brighter than a saw (harmonics falling as
        # 1/sqrt(n), not 1/n): its 2nd to 6th harmonics carry the lowest notes on small
        # speakers; the low-pass shapes it further.
        Patch.BASS: pyo.HarmTable([n ** -0.5 for n in range(1, 25)]).normalize(),
    }


def _build(
    patch: Sound, freq: pyo.PyoObject, env: pyo.PyoObject, tables: dict
) -> list[pyo.PyoObject]:
    """The signal graph of one voice; the last object is its sound. ``env``: 0..velocity.

    Every object is returned so that an idle voice can be paused as a whole.
    """
    amp = pyo.Sig(env, mul=patch.level)
    if patch.name == Patch.EPIANO:
        # FM with the modulator at the carrier's frequency; harder = brighter.
        index = pyo.Sig(env, mul=3.0, add=0.3)
        return [amp, index, pyo.FM(carrier=freq, ratio=1.0, index=index, mul=amp)]
    if patch.name == Patch.PAD:
        saw = pyo.SuperSaw(freq=freq, detune=0.35, bal=0.75)
        cutoff = pyo.Sig(env, mul=2500, add=600)
        return [amp, saw, cutoff, pyo.ButLP(saw, freq=cutoff, mul=amp)]
    if patch.name == Patch.BASS:
        saw = pyo.Osc(tables[Patch.BASS], freq=freq)
        cutoff = pyo.Sig(env, mul=1800, add=350)  # opens with velocity, closes with the decay
        low = pyo.ButLP(saw, freq=cutoff, mul=amp)
        sub = pyo.Sig(env, mul=patch.level * 0.3)
        return [amp, saw, cutoff, low, sub, pyo.Sine(freq=freq, mul=sub, add=low)]
    if patch.name in tables:
        return [amp, pyo.Osc(tables[patch.name], freq=freq, mul=amp)]
    raise ValueError(f"unknown patch {patch.name!r}; known: {', '.join(PATCHES)}")


class _Voice(Voice):
    __slots__ = ("env", "freq", "gate", "pitch", "released_at", "sound")

    def __init__(self, patch: Sound, sample_rate: int, block_size: int, tables: dict) -> None:
        super().__init__(sample_rate, block_size)
        self.gate, gate = self.control(0.0)
        self.freq, freq = self.control(440.0)
        self.env = pyo.MidiAdsr(
            gate, attack=patch.attack, decay=patch.decay, sustain=patch.sustain,
            release=patch.release,
        )
        graph = _build(patch, freq, self.env, tables)
        self.sound = graph[-1]
        self.objects += [self.env, *graph]
        self.pitch = -1  # -1: free (or releasing)
        self.released_at = -(10**9)
        self.pause()


class PolySynth:
    """A bank of voices playing one patch, mixed to one mono signal (``output``).

    ``block_size`` and ``sample_rate`` size the start-offset delay line. Voices are
    taken in this order: a free voice whose release has ended; the voice released
    longest ago; if every voice is held, the note is dropped and counted in ``dropped``.
    """

    def __init__(
        self, patch: Sound, voices: int, sample_rate: int, block_size: int, gain: float = 1.0
    ) -> None:
        self.patch = patch
        self.sample_rate = sample_rate
        self.block_size = block_size
        self._release_blocks = int(patch.release * sample_rate / block_size) + 2
        self._tables = _tables()
        self._voices = [
            _Voice(patch, sample_rate, block_size, self._tables) for _ in range(voices)
        ]
        self._releasing: list[_Voice] = []
        self._by_pitch: dict[int, _Voice] = {}
        self.gain = pyo.SigTo(gain, time=0.02, init=gain)
        self.output = pyo.Mix([v.sound for v in self._voices], voices=1, mul=self.gain)
        self.block = 0
        self.dropped = 0
        self._panicked = False

    # -- audio-thread methods --------------------------------------------------------

    def tick(self) -> None:
        """Advance the block counter and pause voices whose release has ended."""
        self.block += 1
        if self._releasing:
            done = [v for v in self._releasing if self.block - v.released_at > self._release_blocks]
            for voice in done:
                self._releasing.remove(voice)
                if voice.pitch == -1:
                    voice.pause()

    def note_on(self, pitch: int, velocity: int, offset: int = 0) -> bool:
        """Start ``pitch`` at ``offset`` samples into the next block. False if dropped."""
        old = self._by_pitch.pop(pitch, None)
        if old is not None:
            self._stop(old, offset)
        voice = self._free_voice()
        if voice is None:
            self.dropped += 1
            return False
        if self._panicked:
            self.restore_release()
        if not voice.active:
            voice.resume()
        voice.at(offset)
        voice.freq.value = midi_to_hz(pitch)
        voice.gate.value = max(1, min(127, velocity)) / 127.0
        voice.pitch = pitch
        self._by_pitch[pitch] = voice
        return True

    def note_off(self, pitch: int, offset: int = 0) -> bool:
        """Release ``pitch`` at ``offset`` samples into the next block. False if not on."""
        voice = self._by_pitch.pop(pitch, None)
        if voice is None:
            return False
        self._stop(voice, offset)
        return True

    def release_all(self, fast: bool = False) -> None:
        """Release every voice; ``fast`` cuts to silence in ~12 ms (panic)."""
        if fast:
            for voice in self._voices:
                voice.env.release = PANIC_RELEASE
            self._panicked = True
        for voice in list(self._by_pitch.values()):
            self._stop(voice, 0)
        self._by_pitch.clear()
        if fast:
            for voice in self._voices:
                if voice.active:
                    voice.gate.value = 0.0

    def restore_release(self) -> None:
        for voice in self._voices:
            voice.env.release = self.patch.release
        self._panicked = False

    # -- queries (any thread) ----------------------------------------------------------

    def sounding(self) -> list[int]:
        """Pitches whose key (or pedal) still holds them."""
        return sorted(self._by_pitch)

    # -- internals ---------------------------------------------------------------------

    def _stop(self, voice: _Voice, offset: int) -> None:
        voice.at(offset)
        voice.gate.value = 0.0
        voice.pitch = -1
        voice.released_at = self.block
        if voice not in self._releasing:
            self._releasing.append(voice)

    def _free_voice(self) -> _Voice | None:
        best = None
        for voice in self._voices:
            if voice.pitch != -1:
                continue
            if not voice.active or self.block - voice.released_at > self._release_blocks:
                return voice
            if best is None or voice.released_at < best.released_at:
                best = voice
        return best
