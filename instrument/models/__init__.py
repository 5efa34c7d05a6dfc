"""Models at run time: loading verified ONNX file pairs and stepping them in real time.

- ``loader.load_model(name_or_path, providers, models_dir, engine_cache_dir)``: checks the
  manifest, sha256, signature and encoding, then opens a session on the first usable
  provider and returns a :class:`NeuralContinuator` or :class:`NeuralAccompanist`.
- ``continuation``: the per-note :class:`Continuator` interface (``step``/``sample``/
  ``reset``), :class:`NextNoteDistribution`, and the neural implementation.
- ``accompaniment``: the per-beat :class:`Accompanist` interface, :class:`BeatInput`,
  :class:`ChordDistribution`, :class:`ChordSamplingParams`, and the neural one.
- ``chords``: :class:`Chord` and the chord vocabulary; ``voicing.voice_chord``: a chord to
  MIDI pitches with smooth voice leading.
- ``melody``: the note-event encoding; ``sampling``: temperature, top-p, scale masks.
- ``manifest``, ``onnx_signature``, ``onnx_sessions``: the file checks, and onnxruntime
  sessions on the first provider that works (``ModelError`` is defined there);
  ``runtime``: the stepping session (its step timer is a ``TimingHistogram``).
- ``tune``: tunes on the grid and MIDI files, for evaluation.

The fallbacks with the same interfaces live in :mod:`instrument.baselines`; what the
instrument learns while it plays, on top of both, in :mod:`instrument.memory`. Nothing here
imports torch; everything runs on the engine thread, never in the audio callback.
"""

from instrument.models.accompaniment import (
    Accompanist,
    BeatInput,
    ChordDistribution,
    ChordSamplingParams,
    NeuralAccompanist,
)
from instrument.models.chords import NO_CHORD, Chord
from instrument.models.continuation import Continuator, NeuralContinuator, NextNoteDistribution
from instrument.models.loader import load_model
from instrument.models.onnx_sessions import ModelError
from instrument.models.sampling import SamplingParams
from instrument.models.voicing import Voicing, voice_chord

__all__ = [
    "NO_CHORD",
    "Accompanist",
    "BeatInput",
    "Chord",
    "ChordDistribution",
    "ChordSamplingParams",
    "Continuator",
    "ModelError",
    "NeuralAccompanist",
    "NeuralContinuator",
    "NextNoteDistribution",
    "SamplingParams",
    "Voicing",
    "load_model",
    "voice_chord",
]
