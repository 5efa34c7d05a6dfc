"""Time: the seconds clocks, the beat clock, and the tempo sources that move it.

- ``clock``: one ``Clock`` interface, ``LiveClock`` and ``OfflineClock``: the same
  engine code runs live and offline;
- ``beat``: ``BeatClock`` (seconds to beats and back, tempo changes with no jump);
- ``tempo_map``: the tick, second and tempo arithmetic of MIDI files and the grid, once;
- ``tap``: a tapped tempo; ``midi_clock``: MIDI clock in (and the tick times of MIDI
  clock out); ``link``: Ableton Link, when the optional binding is installed.

The player's own beat is :mod:`instrument.follow`; the Band's transport
(:mod:`instrument.parts.transport`) chooses among them and drives the beat clock.
Everything here runs on the engine thread; other threads only read a ``BeatClock``
through ``mapping()``.
"""
