"""Which notes sound: keys held down, and notes the sustain pedal (CC 64) keeps on.

Pure logic, no I/O: used inside the audio callback by the thru player
(``instrument.realtime.thru``), on the engine thread for the player's state and by the
offline renderer's synth output, so all agree on when a note ends.
"""

from __future__ import annotations


class HeldNotes:
    """Tracks one channel's keys and pedal.

    ``note_on`` and ``note_off`` return whether the synth should start or stop a note
    now; ``pedal`` returns the pitches to release when the pedal comes up.
    """

    __slots__ = ("_down", "_pedal", "_sustained")

    def __init__(self) -> None:
        self._down: set[int] = set()
        self._sustained: set[int] = set()
        self._pedal = False

    @property
    def pedal_down(self) -> bool:
        return self._pedal

    def sounding(self) -> set[int]:
        """Pitches that are sounding: held keys plus pedal-sustained notes."""
        return self._down | self._sustained

    def note_on(self, pitch: int) -> None:
        self._down.add(pitch)
        self._sustained.discard(pitch)

    def note_off(self, pitch: int) -> bool:
        """The key came up. True if the note should stop now (no pedal holding it)."""
        if pitch not in self._down:
            return False
        self._down.discard(pitch)
        if self._pedal:
            self._sustained.add(pitch)
            return False
        return True

    def pedal(self, down: bool) -> list[int]:
        """Pedal moved. Returns the pitches to stop now (pedal lifted)."""
        self._pedal = down
        if down:
            return []
        released = sorted(self._sustained)
        self._sustained.clear()
        return released

    def clear(self) -> list[int]:
        """Forget everything (panic); returns what was sounding."""
        was = sorted(self.sounding())
        self._down.clear()
        self._sustained.clear()
        self._pedal = False
        return was
