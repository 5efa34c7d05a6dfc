"""The instrument's musical parts, planned ahead on the engine thread.

- ``band.Band``: the conductor the engine talks to. It owns the transport, the
  player's melody line, the controls, and the parts below, and switches modes.
- ``transport.Transport``: keeps the Band's time: the beat clock and its tempo source
  (the follower, tap, MIDI clock in, Link), start and stop, MIDI clock out.
- ``continuation.Responder``: call and response.
- ``accompaniment.Accompaniment``: chords and bass on the beat.
- ``melody.MelodyLine``: the player's top voice on the beat grid.
- ``deadline.DeadlineRunner``: model steps on a worker thread with a deadline; the
  fallback plays when a step is late, and the miss is counted.
- ``controls.Controls``: the CC map, presets (program change) and MIDI learn.
"""
