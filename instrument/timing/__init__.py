"""Time: the seconds clocks, the beat, and where its tempo comes from.

- ``clock``: one ``Clock`` interface, ``LiveClock`` and ``OfflineClock``: the same
  engine code runs live and offline;
- ``beat``: ``BeatClock`` (seconds to beats and back) and the tempo sources that move
  it: a tapped tempo, MIDI clock in (and MIDI clock out for the beats it leads);
- ``link``: Ableton Link, when the optional binding is installed.

Following the player's own beat is :mod:`instrument.follow`. Everything here runs on the
engine thread; other threads only read a ``BeatClock`` through ``mapping()``.
"""
