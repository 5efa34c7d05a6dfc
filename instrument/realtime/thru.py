"""The player's own notes, played on the player's synth inside the audio callback.

Real-time rules (see ``instrument.realtime``): ``handle``, ``drain`` and ``silence`` run
inside the audio callback (the JACK cycle, or pyo's block callback); ``enqueue`` runs on
an rtmidi callback thread. Work per message is a few set and attribute operations;
nothing blocks, nothing is logged, overflows are counted.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable, Sequence

from instrument.audio.voices import PartSound
from instrument.midi import messages as mm
from instrument.midi.held import HeldNotes

# At most this many queued messages are played per block; the rest wait for the next
# block. Bounds the time a flood of input can take from one audio callback.
MAX_MESSAGES_PER_BLOCK = 64
MAX_PENDING = 4096


class ThruPlayer:
    """Plays what the player plays, at once, with the sustain pedal honoured.

    ``on_panic`` is called (in the audio callback) for CC 120/123 so every part is
    silenced, not only the player's.
    """

    def __init__(
        self, synth: PartSound, listen_channel: int, on_panic: Callable[[], None]
    ) -> None:
        self.synth = synth
        self.listen_channel = listen_channel
        self.on_panic = on_panic
        self._held = HeldNotes()
        self._pending: deque[Sequence[int]] = deque()
        self.played = 0
        self.overflowed = 0
        # MIDI learn: keys pick functions then, they do not play (note-offs still do).
        self.muted = False

    def enqueue(self, message: Sequence[int]) -> None:
        """From a MIDI thread: hand a checked message to the next audio block."""
        if len(self._pending) >= MAX_PENDING:
            self.overflowed += 1
            return
        self._pending.append(message)

    def drain(self) -> None:
        """Audio callback: play what arrived since the last block (bounded per block)."""
        pending = self._pending
        for _ in range(min(len(pending), MAX_MESSAGES_PER_BLOCK)):
            self.handle(pending.popleft())

    def handle(self, message: Sequence[int], offset: int = 0) -> None:
        """Audio callback: act on one checked message, ``offset`` samples into the block."""
        status = message[0]
        if status >= 0xF0 or not mm.accepts_channel(status, self.listen_channel):
            return
        kind = status & 0xF0
        if kind == mm.NOTE_ON and message[2] > 0:
            if self.muted:
                return
            self._held.note_on(message[1])
            self.synth.note_on(message[1], message[2], offset)
            self.played += 1
        elif kind == mm.NOTE_OFF or kind == mm.NOTE_ON:
            if self._held.note_off(message[1]):
                self.synth.note_off(message[1], offset)
        elif kind == mm.CONTROL_CHANGE:
            if message[1] == mm.CC_SUSTAIN:
                for pitch in self._held.pedal(message[2] >= 64):
                    self.synth.note_off(pitch, offset)
            elif message[1] in (mm.CC_ALL_SOUND_OFF, mm.CC_ALL_NOTES_OFF):
                self.silence()
                self.on_panic()

    def silence(self) -> None:
        """Audio callback: forget held keys and cut the player's voices."""
        self._held.clear()
        self._pending.clear()
        self.synth.release_all(fast=True)
