"""Sound: the pyo server backends, the synth voices, and the code that runs inside the
audio callback (``thru``, ``bridge``)."""
