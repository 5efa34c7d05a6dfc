"""Standard MIDI Files: the recording of every session, and performances read from files.

- ``recorder``: ``SmfRecorder``, the live recording (a conductor track with the played
  tempo and bar lines, one track per part), flushed from a thread of its own;
- ``growing_smf``: ``GrowingSmf``, a type-1 file whose tracks grow in place, so a flush
  costs what is new;
- ``hindsight``: the recording's beat, bar and tempo map laid again with everything
  heard (following the player); its arithmetic is :mod:`instrument.timing.tempo_map`;
- ``performance``: ``read_performance``, a player's part read from a file through its
  tempo map (``instrument render``, the demo, the benchmarks).
"""
