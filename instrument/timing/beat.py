"""The beat: a clock of beats on the engine's time line.

``BeatClock`` maps clock seconds to beats and back. The tempo sources beside it in
``instrument.timing`` move it: ``tap`` (a note or a CC tapped on the beat),
``midi_clock`` (external MIDI clock), ``link`` (Ableton Link), the beat follower
(``instrument.follow``), or else the tempo from the config or a preset;
``instrument.parts.transport`` decides which one leads.

A clock is changed on the engine thread only; other threads read it through
``mapping()``.
"""

from __future__ import annotations

from collections import deque

from instrument.music import TICKS_PER_BEAT, Meter

MIN_BPM = 30.0
MAX_BPM = 300.0

#: Where the beat is: (anchor time, beat at the anchor, seconds per beat).
BeatMapping = tuple[float, float, float]


def clamp_bpm(bpm: float) -> float:
    return min(MAX_BPM, max(MIN_BPM, bpm))


def beat_at(mapping: BeatMapping, t: float) -> float:
    """The beat at time ``t`` on ``mapping``."""
    anchor_time, anchor_beat, seconds_per_beat = mapping
    return anchor_beat + (t - anchor_time) / seconds_per_beat


def time_at(mapping: BeatMapping, beat: float) -> float:
    """The time of ``beat`` on ``mapping``."""
    anchor_time, anchor_beat, seconds_per_beat = mapping
    return anchor_time + (beat - anchor_beat) * seconds_per_beat


class BeatClock:
    """Beats on the clock's time line: ``beat_at(t)`` and ``time_at(beat)``.

    Beat 0 is the first downbeat. Tempo changes keep the beat continuous: the clock is
    re-anchored at the moment of the change. ``running`` is False until something
    starts it (the player's first note, a count-in, MIDI Start, Link).

    The mapping (anchor time, anchor beat, seconds per beat) is one tuple replaced
    whole at each change, so another thread reading it with ``mapping()`` never sees
    half of a change. Every change is also logged, numbered, with whether the clock runs
    (the last ``CHANGES_KEPT``): the recorder reads them (``changes_since``) to write the
    tempo map as it was played. Changes come from the engine thread.
    """

    CHANGES_KEPT = 256

    def __init__(self, bpm: float = 100.0, meter: Meter | None = None) -> None:
        self.meter = meter if meter is not None else Meter(4, 4)
        #: The beat follows the player's notes (set by the transport): its beats are
        #: guesses, which a recording lays again in hindsight.
        self.follows_player = False
        self._running = False
        self._changes: deque[tuple[int, bool, BeatMapping]] = deque(
            maxlen=self.CHANGES_KEPT
        )
        self._count = 0
        self._set((0.0, 0.0, 60.0 / clamp_bpm(bpm)))

    def _set(self, mapping: BeatMapping, running: bool | None = None) -> None:
        if running is not None:
            self._running = running
        self._map = mapping
        self._count += 1
        self._changes.append((self._count, self._running, mapping))

    @property
    def running(self) -> bool:
        return self._running

    @running.setter
    def running(self, running: bool) -> None:
        if running != self._running:
            self._set(self._map, running)

    def changes_since(self, count: int) -> list[tuple[int, bool, BeatMapping]]:
        """(number, running, mapping) of the changes numbered above ``count``, in order
        (any thread; copying the log is one C call)."""
        return [c for c in list(self._changes) if c[0] > count]

    def mapping(self) -> BeatMapping:
        """(anchor time, beat at the anchor, seconds per beat), consistent (any thread)."""
        return self._map

    @property
    def bpm(self) -> float:
        return 60.0 / self._map[2]

    @bpm.setter
    def bpm(self, bpm: float) -> None:
        """Set the tempo around the current anchor (callers then ``align``)."""
        t, b, _ = self._map
        self._set((t, b, 60.0 / clamp_bpm(bpm)))

    @property
    def anchor_time(self) -> float:
        return self._map[0]

    @property
    def anchor_beat(self) -> float:
        return self._map[1]

    @property
    def seconds_per_beat(self) -> float:
        return self._map[2]

    @property
    def seconds_per_tick(self) -> float:
        return self._map[2] / TICKS_PER_BEAT

    def beat_at(self, t: float) -> float:
        return beat_at(self._map, t)

    def time_at(self, beat: float) -> float:
        return time_at(self._map, beat)

    def tick_at(self, t: float) -> int:
        """The grid tick nearest to time ``t`` (12 ticks a beat)."""
        return round(self.beat_at(t) * TICKS_PER_BEAT)

    def time_of_tick(self, tick: float) -> float:
        return self.time_at(tick / TICKS_PER_BEAT)

    def start(self, t: float, beat: float = 0.0) -> None:
        """Start (or restart) with ``beat`` falling at time ``t``."""
        self._set((t, beat, self._map[2]), running=True)

    def stop(self) -> None:
        self.running = False

    def set_tempo(self, bpm: float, t: float) -> None:
        """Change tempo at time ``t`` without a jump in the beat position."""
        self._set((t, self.beat_at(t), 60.0 / clamp_bpm(bpm)))

    def align(self, t: float, beat: float) -> None:
        """Make ``beat`` fall at ``t`` (phase correction), keeping the tempo."""
        self._set((t, beat, self._map[2]))

    def place(self, t: float, beat: float, bpm: float) -> None:
        """Make ``beat`` fall at ``t`` at ``bpm``: phase and tempo in one change."""
        self._set((t, beat, 60.0 / clamp_bpm(bpm)))

    def next_beat(self, t: float) -> int:
        """The first whole beat at or after ``t``."""
        b = self.beat_at(t)
        whole = int(b)
        return whole if abs(b - whole) < 1e-9 else int(b // 1 + 1)

    def next_downbeat(self, t: float) -> int:
        """The first beat at or after ``t`` that begins a bar."""
        beat = self.next_beat(t)
        return -(-beat // self.meter.beats_per_bar) * self.meter.beats_per_bar
