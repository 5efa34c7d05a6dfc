"""The player's melody: the top voice of what they play, as notes on the beat grid.

A note-on more than ``chord_window`` seconds after the current melody note starts a new
melody note whatever its pitch (so descending legato lines work); within the window
(a chord), the highest note is the melody. A melody note ends at its note-off or at the
next melody note's onset, whichever comes first; it is then complete.

Pure logic on the engine thread.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass
class LiveNote:
    """A melody note in clock seconds; ``end`` is None while it sounds."""

    pitch: int
    velocity: int
    onset: float
    end: float | None = None


class MelodyLine:
    """Collects the player's melody notes (see the module docstring)."""

    def __init__(self, chord_window: float = 0.04) -> None:
        self.chord_window = chord_window
        self.current: LiveNote | None = None
        self.completed: list[LiveNote] = []  # taken by ``take_completed``
        self.onsets: list[LiveNote] = []  # taken by ``take_onsets``

    def note_on(self, pitch: int, velocity: int, t: float) -> None:
        cur = self.current
        if cur is not None and cur.end is None and t - cur.onset <= self.chord_window:
            if pitch > cur.pitch:  # a higher note of the same chord is the melody
                cur.pitch, cur.velocity = pitch, velocity
            return
        if cur is not None and cur.end is None:
            cur.end = t
            self.completed.append(cur)
        self.current = LiveNote(pitch, velocity, t)
        self.onsets.append(self.current)

    def note_off(self, pitch: int, t: float) -> None:
        cur = self.current
        if cur is not None and cur.end is None and cur.pitch == pitch:
            cur.end = t
            self.completed.append(cur)

    @property
    def sounding(self) -> bool:
        return self.current is not None and self.current.end is None

    def take_completed(self) -> list[LiveNote]:
        out, self.completed = self.completed, []
        return out

    def take_onsets(self) -> list[LiveNote]:
        out, self.onsets = self.onsets, []
        return out

    def trim(self, keep: int) -> None:
        """Keep only the latest ``keep`` notes waiting to be taken (bounded memory while
        nobody takes them)."""
        del self.onsets[:-keep]
        del self.completed[:-keep]

    def reset(self) -> None:
        self.current = None
        self.completed = []
        self.onsets = []
