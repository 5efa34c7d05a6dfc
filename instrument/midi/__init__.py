"""MIDI itself: message checks and constants (``messages``), held notes and the sustain
pedal (``held``), and choosing a port by name (``ports``).

The ports the instrument opens are elsewhere: on its JACK client (:mod:`instrument.jack.midi`)
or through python-rtmidi (:mod:`instrument.live.rtmidi_ports`).
"""
