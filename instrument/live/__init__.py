"""The running instrument (``instrument run``) and its two layouts.

:func:`~instrument.live.layouts.create` resolves the configuration on this machine
(:mod:`~instrument.live.backends`: audio backend, MIDI API, an embedded JACK server) and
builds one of two layouts from the same two halves:

- the **sound side** (:mod:`~instrument.live.sound_side`): the JACK client, pyo and the
  synths, the player's thru, MIDI in and out, the real-time cycle
  (:mod:`instrument.realtime`), hotplug;
- the **engine side** (:mod:`~instrument.live.engine_side`): the models, the Band, the
  engine thread, the recorder, and what ``instrument status`` shows.

Two processes (audio and MIDI on JACK, ``audio.engine_process = true``, the default)::

    audio process (TwoProcessInstrument)          engine process (engine_process.py)
    ┌────────────────────────────────────┐        ┌─────────────────────────────────┐
    │ JACK cycle, every period:           │ inputs │ engine thread: the player's     │
    │  MIDI in ─> thru synth (same cycle) │ ─────> │ input, the Band plans beats     │
    │         └─> input ring + eventfd ───┼─ring──>│ ahead; outputs hand each timed  │
    │  plan ring ─> planned notes, MIDI   │ <─ring─┼─ event over (plan ring), and    │
    │  out at their frames; pyo's block   │ plans  │ the recorder writes the file    │
    │ main thread: counters, supervision  │ <─stats┼─ status server, counters        │
    └────────────────────────────────────┘        └─────────────────────────────────┘

One process (ALSA MIDI, PortAudio or offline audio, ``engine_process = false``, the
demo, or when the shared memory cannot be made), :class:`OneProcessInstrument`::

    MIDI in (rtmidi callback or JACK cycle) ─> thru synth (next block)
                                           └─> input ring ─> engine thread ─> Band
    engine thread ─> planned notes (synth, sample-accurate) · MIDI out · recorder

A key press, two processes: the JACK cycle it arrives in starts the player's note on
the thru synth at its frame and writes it to the input ring; the engine process's engine
thread wakes (eventfd), updates what the player is doing, and the Band hears it (the
beat follower, the melody line, the tune memory); the player's note goes to MIDI out and
the recording. A planned chord: the Band decides a beat a little before it is due
(``lookahead``); the engine hands each of its notes to the outputs, which write them to
the plan ring with their due time in JACK frames; the cycle of that period applies them
and the synth and MIDI out start them on their frame.

Modules:

- ``layouts``: ``create()``; ``backends``: ``Backends``, ``resolve_backends``,
  ``SetupError``; ``running``: what both layouts share (``RunningInstrument``: the stop
  requests and the main thread's wait loop; ``health_report``);
- ``one_process``: ``OneProcessInstrument``; ``audio_process``:
  ``TwoProcessInstrument``, which starts and supervises the engine process
  (``EngineChild``: restarts, silencing the parts when it dies); ``engine_process``: the
  engine process's ``main`` (``python -m instrument.live.engine_process``);
- ``sound_side`` (with ``sound_system``: the part synths and planned notes;
  ``sound_stats``: its counters, made from ``realtime.shared_stats.SOUND_COUNTERS``;
  ``rtmidi_ports`` and ``hotplug``: MIDI through python-rtmidi, kept wired) and
  ``engine_side`` (with ``assembly``: the Band, recorder and engine built one way, live
  and by ``instrument.offline.render``);
- ``stopping``: stopping each piece safely; ``status``: ``instrument status`` (a unix
  socket); ``systemd``: readiness and the watchdog; ``logs``: the log format;
  ``demo``: a tune played into the one-process instrument.
"""
