"""The instrument offline: the live engine and Band on the offline clock.

- ``render``: a MIDI file played into the instrument exactly as live, deterministic for
  a seed (``instrument render``); the result a MIDI file, optionally a WAV and a plot.
"""
