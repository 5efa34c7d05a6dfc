"""Sound: the pyo server backends, the synth voices, and the code that runs inside the
audio callback (``thru``, ``bridge``)."""

import os

# pyo looks for wxPython at import and prints a warning without it; we never use its GUI.
os.environ.setdefault("PYO_GUI_WX", "0")
