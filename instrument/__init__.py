"""instrument: a headless AI accompanist and duet partner.

A musician plugs a MIDI keyboard into a small Linux box and plays; the box plays with
them. Their own notes always sound at once (thru); in ``continue`` mode the instrument
answers their phrases; in ``accompany`` mode it plays chords and bass on the beat.

Layout, by concern:

- ``config``: the TOML configuration, parsed into typed dataclasses and validated.
- ``clock``: one ``Clock`` interface, a live clock and an offline clock.
- ``midi``: MIDI in and out (python-rtmidi over ALSA or JACK, or the JACK ports of the
  audio client), message checks, port choice and hotplug.
- ``audio``: the pyo server backends and the synth. Code that runs inside the audio
  callback is marked in its docstring and obeys the real-time rules there.
- ``engine``: the engine thread that owns musical state and schedules timed events.
- ``recording``: Standard MIDI File recording of every session.
- ``models``: ONNX model loading (manifest checks) and the baselines.
- ``session``: builds a running instrument from a config and stops it safely.
- ``cli``: the ``instrument`` command.

The real-time rules: a MIDI callback only stamps and enqueues; the audio callback never
blocks, allocates little and works on bounded queues; everything else happens on the
engine thread or later.
"""

__version__ = "0.1.0"
