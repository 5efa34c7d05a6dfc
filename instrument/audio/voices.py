"""What every part's sound is made of: voices whose controls start on a given sample,
and the interface a part's sound has (``PartSound``).

A voice's controls are ``pyo.Sig``s set from Python; each passes a sample delay set to
the start offset inside the next audio block (``Voice.at``), so a note planned for a
given sample starts on that sample rather than at the start of the block. A voice's
pyo objects are kept in one list and paused as a whole while it is silent, so an idle
voice costs nothing in the audio callback.

The synth (``instrument.audio.synth.PolySynth``) and the drum kit
(``instrument.audio.drums.DrumKit``) are built from these voices.
"""

from __future__ import annotations

from typing import Protocol

import pyo

PANIC_RELEASE = 0.012  # seconds: fast enough to be silence, slow enough not to click


class PartSound(Protocol):
    """What the real-time side calls on a part's sound (``PolySynth``, ``DrumKit``).

    ``tick``, ``note_on``, ``note_off``, ``release_all`` and ``restore_release`` run in
    the audio callback (see ``instrument.realtime``)."""

    gain: pyo.SigTo  # the part's level, smoothed
    output: pyo.PyoObject  # its mono signal
    dropped: int  # notes that found no voice

    def tick(self) -> None: ...

    def note_on(self, pitch: int, velocity: int, offset: int = 0) -> bool: ...

    def note_off(self, pitch: int, offset: int = 0) -> bool: ...

    def release_all(self, fast: bool = False) -> None: ...

    def restore_release(self) -> None: ...

    def sounding(self) -> list[int]: ...


class Voice:
    """One voice's pyo objects (``objects``, paused as a whole) and its delayed controls.

    ``control(value)`` makes a control: the ``Sig`` to set and its delayed signal to
    build the sound from. After ``at(offset)``, values set on the controls take effect
    ``offset`` samples into the next block. A subclass adds its objects to ``objects``
    before it first pauses the voice.
    """

    __slots__ = ("_max_delay", "_rate", "_streams", "active", "delay", "objects")

    def __init__(self, sample_rate: int, block_size: int) -> None:
        self._rate = sample_rate
        self._max_delay = block_size / sample_rate
        self.delay = pyo.Sig(0.0)
        self.objects: list[pyo.PyoObject] = [self.delay]
        self._streams: list | None = None  # the objects' C streams, once all are built
        self.active = True

    def control(self, value: float) -> tuple[pyo.Sig, pyo.PyoObject]:
        """A control set from Python, and the same delayed by the start offset."""
        sig = pyo.Sig(value)
        delayed = pyo.SDelay(sig, delay=self.delay, maxdelay=self._max_delay)
        self.objects += [sig, delayed]
        return sig, delayed

    def at(self, offset: int) -> None:
        """Controls set from now on take effect ``offset`` samples into the next block."""
        # SDelay truncates delay * rate to whole samples: half a sample more lands on
        # ``offset`` itself rather than one before it.
        self.delay.value = (offset + 0.5) / self._rate

    def pause(self) -> None:
        """Stop computing this voice (it is silent)."""
        for stream in self._c_streams():
            stream.stop()
        self.active = False

    def resume(self) -> None:
        for stream in self._c_streams():
            stream.play()
        self.active = True

    def _c_streams(self) -> list:
        if self._streams is None:
            self._streams = _streams(self.objects)
        return self._streams


def _streams(objects: list[pyo.PyoObject]) -> list:
    """The C streams behind pyo objects (with their end-of-envelope triggers, if any).

    Pausing a voice stops and starts these directly: the same as ``PyoObject.stop``
    and ``play`` with no delay, at a fraction of their cost (about 0.2 us a stream
    instead of 4 to 12 us an object on a 2-vCPU EPYC), which matters in the audio
    callback."""
    streams = []
    for obj in objects:
        streams += obj.getBaseObjects()
        trig = obj["trig"]
        if trig is not None:
            streams += trig.getBaseObjects()
    return streams
