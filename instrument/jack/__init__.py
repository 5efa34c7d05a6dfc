"""JACK, the audio and MIDI server the instrument plays through.

- ``client``: the instrument's own JACK client (``instrument:midi_in``, ``midi_out``,
  ``out_1/2``), activated before its ports appear, running the real-time cycle
  (:mod:`instrument.realtime`), and ``JackClock``: JACK's frame time as a clock;
- ``graph``: finding and wiring ports, noticing the server going away, counting xruns;
- ``server``: a JACK server the instrument starts itself when a machine has none.
"""
