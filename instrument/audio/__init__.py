"""Sound: pyo's server backends (``server``: JACK-driven manual, PortAudio, offline) and
the synth voices and patches (``synth``). The part synths the instrument plays are put
together in :mod:`instrument.live.sound_system`; what runs inside the audio callback is
:mod:`instrument.realtime`."""

import os

# pyo looks for wxPython at import and prints a warning without it; we never use its GUI.
os.environ.setdefault("PYO_GUI_WX", "0")
