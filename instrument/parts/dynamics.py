"""The player's touch, as a level the instrument's parts play at.

``Dynamics`` keeps an exponential moving average of the player's note-on velocities
over about ``span`` notes (the notes of a chord count as one, at its loudest), so the
accompaniment plays softly when the player does and comes up when they dig in, without
jumping at one accent. ACCompanion plays at 0.8 of such an average; so does the
accompaniment here (``FOLLOW_SHARE``), times the accompaniment-volume control.

Engine thread only; constant work per note.
"""

from __future__ import annotations

#: The accompaniment's level as a share of the player's (ACCompanion's choice).
FOLLOW_SHARE = 0.8
CHORD_WINDOW = 0.04  # seconds: notes this close together are one chord


class Dynamics:
    """See the module docstring. ``level`` is None until the player has played."""

    def __init__(self, span: float = 8.0) -> None:
        self.alpha = 2.0 / (span + 1.0)
        self.level: float | None = None
        self._chord_start: float | None = None
        self._chord_peak = 0

    def hear(self, velocity: int, t: float) -> None:
        if self._chord_start is not None and t - self._chord_start <= CHORD_WINDOW:
            if velocity <= self._chord_peak:
                return
            # A louder note of the same chord: it replaces the chord's first reading.
            previous, self._chord_peak = self._chord_peak, velocity
            if self.level is not None:
                self.level += self.alpha * (velocity - previous)
            return
        self._chord_start, self._chord_peak = t, velocity
        self.level = float(velocity) if self.level is None else (
            self.level + self.alpha * (velocity - self.level)
        )

    def reset(self) -> None:
        self.level = None
        self._chord_start = None
        self._chord_peak = 0
