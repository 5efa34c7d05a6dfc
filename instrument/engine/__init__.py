"""The engine: the thread that owns the musical state and plans what is played.

- ``engine``: ``Engine`` (inputs in, the Band asked to plan, timed events handed to the
  outputs a little before they are due), ``TimedEvent``, ``PlayerState`` and the
  ``Planner`` protocol the Band meets;
- ``outputs``: the synth's planned notes and MIDI out, fed from the engine thread.

The same engine runs live (:mod:`instrument.live`) and offline
(:mod:`instrument.offline`). Nothing here runs in a MIDI or audio callback (that is
:mod:`instrument.realtime`).
"""
