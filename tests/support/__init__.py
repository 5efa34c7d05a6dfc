"""Test helpers: a private JACK server, a test controller, audio and MIDI capture."""
