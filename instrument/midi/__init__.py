"""MIDI in and out: message checks, sustain, port choice, rtmidi and JACK ports, hotplug."""
