"""instrument: a headless AI accompanist and duet partner.

A musician plugs a MIDI keyboard into a small Linux box and plays; the box plays with
them. Their own notes always sound at once (thru); in ``continue`` mode the instrument
answers their phrases; in ``accompany`` mode it plays chords and bass on the beat.

Folders by role:

- ``live``: the running instrument (``instrument run``) in its two layouts, one process
  or an audio process and an engine process, with status, systemd and the demo;
- ``realtime``: everything that runs in the audio callback (its rules are stated there);
- ``jack``: the instrument's JACK client, the graph, an embedded JACK server;
- ``audio``: pyo's server backends and the synth voices; ``midi``: message checks,
  rtmidi and JACK MIDI ports, hotplug;
- ``engine``: the engine thread, its outputs, and offline rendering;
- ``parts``: the Band and the parts it conducts (accompaniment, continuation), the
  controls; ``follow``: following the player's beat from their notes;
- ``timing``: the seconds clocks, the beat clock and its tempo sources (tap, MIDI clock,
  Link);
- ``models``: ONNX models at run time (manifest checks, stepping, the tune memory);
  ``baselines``: the Markov and rule fallbacks;
- ``midifile``: the session recording and performances read from MIDI files;
- ``evaluation``: scoring the generators; ``bench``: the benchmarks and their harness;
- ``commands`` and ``cli``: the ``instrument`` command (nothing else imports them);
- ``config``, ``names``, ``music``, ``places``: the configuration, the enums, the beat
  grid and meters, where files live.

The real-time rules: a MIDI callback only stamps and enqueues; the audio callback never
blocks, allocates little and works on bounded queues; everything else happens on the
engine thread or later.
"""

__version__ = "0.1.0"
