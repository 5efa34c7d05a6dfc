"""Melodic continuation: the streaming interface, and the neural (ONNX) implementation.

A :class:`Continuator` is stepped once per committed melody note (the player's or the
instrument's own) and answers with a :class:`NextNoteDistribution` for the note that
would follow: its pitch, the rest before it, its duration and its dynamic level. Nothing
is committed by asking; :meth:`Continuator.sample` draws a note, and the engine commits
it by stepping with it. The neural model (:class:`NeuralContinuator`) and the Markov
baseline (:class:`instrument.baselines.markov.MarkovContinuator`) share this interface,
so the engine can use either on any step. To keep both ready, step both with every
committed note; the Markov step costs a few tens of microseconds.

Real-time rules: ``step`` and ``sample`` run on the engine thread, never in the audio or
MIDI callback. ``NeuralContinuator.step`` makes exactly one ONNX run (constant cost per
note) once a meter's start state is cached (see :meth:`NeuralContinuator.warm_up`).
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import dataclass

import numpy as np

from instrument.models import melody as enc
from instrument.models.manifest import ModelManifest
from instrument.models.runtime import OnnxStepper
from instrument.models.sampling import SamplingParams, log_softmax, sample_index
from instrument.music import GridNote, Meter

_PITCH_PCS = (np.arange(enc.N_PITCHES) + enc.PITCH_LOW) % 12


@dataclass(frozen=True)
class NextNoteDistribution:
    """Log-probabilities (natural log) for the next note, one factor per attribute.

    ``pitch`` is over MIDI pitches ``PITCH_LOW..PITCH_HIGH``, ``rest`` over
    :data:`~instrument.models.melody.REST_TICKS`, ``duration`` over
    :data:`~instrument.models.melody.DURATION_TICKS`, ``level`` over dynamic levels 0..7.
    The next onset is ``after_tick`` plus the rest: the end of the last committed note,
    or a bar line (the origin given to ``reset``) when no note has been committed.
    """

    pitch: np.ndarray
    rest: np.ndarray
    duration: np.ndarray
    level: np.ndarray
    after_tick: int

    def top_pitch(self) -> int:
        return enc.PITCH_LOW + int(np.argmax(self.pitch))

    def pitch_classes(self) -> np.ndarray:
        """The probability of each pitch class (12, summing to 1) for the next note."""
        return np.bincount(_PITCH_PCS, weights=np.exp(self.pitch), minlength=12)


def pitch_mask(pitch_classes: frozenset[int] | None) -> np.ndarray | None:
    """Boolean mask over the pitch vocabulary for a set of allowed pitch classes."""
    if pitch_classes is None:
        return None
    return np.isin(_PITCH_PCS, [p % 12 for p in pitch_classes])


def sample_note(
    dist: NextNoteDistribution, params: SamplingParams, rng: np.random.Generator
) -> GridNote:
    """Draw a note: pitch (under the scale constraint), rest, duration, level, in that order.

    Deterministic for a given ``rng`` state; consumes exactly four draws.
    """
    t, p = params.temperature, params.top_p
    pitch = sample_index(dist.pitch, rng, t, p, pitch_mask(params.pitch_classes))
    rest = sample_index(dist.rest, rng, t, p)
    duration = sample_index(dist.duration, rng, t, p)
    level = sample_index(dist.level, rng, t, p)
    return GridNote(
        enc.PITCH_LOW + pitch,
        dist.after_tick + enc.REST_TICKS[rest],
        enc.DURATION_TICKS[duration],
        enc.velocity_of(level),
    )


class Continuator(ABC):
    """Streaming next-note predictor shared by the neural model and the Markov baseline."""

    def __init__(self) -> None:
        self._prev_end: int | None = None
        self._origin = 0

    def reset(self, origin_tick: int = 0) -> None:
        """Forget the melody. ``origin_tick`` (a bar line) is where a first rest counts from."""
        self._prev_end = None
        self._origin = origin_tick

    @property
    def after_tick(self) -> int:
        return self._origin if self._prev_end is None else self._prev_end

    def _advance(self, note: GridNote, meter: Meter) -> int:
        """Update the end of melody; return the rest before ``note``."""
        rest = (
            enc.first_rest(note.onset, meter)
            if self._prev_end is None
            else note.onset - self._prev_end
        )
        self._prev_end = note.onset + note.duration
        return rest

    @abstractmethod
    def step(self, note: GridNote | None, meter: Meter) -> NextNoteDistribution:
        """Commit ``note`` (or start a melody with None) and return the next note's odds.

        Commit a note once its duration is known (at its note-off, or cut at the next
        onset). Notes must come in onset order. ``step(None, meter)`` right after
        ``reset`` asks for the first note of a melody.
        """

    def sample(
        self, dist: NextNoteDistribution, params: SamplingParams, rng: np.random.Generator
    ) -> GridNote:
        """Draw a note from ``dist`` (see :func:`sample_note`); commits nothing."""
        return sample_note(dist, params, rng)


class NeuralContinuator(Continuator):
    """The ONNX continuation model behind the :class:`Continuator` interface.

    Built by :func:`instrument.models.loader.load_model`, which has verified the file.
    The start state for each meter (the state after the start event) is computed once
    and cached, so every ``step`` after that is exactly one ONNX run.
    """

    def __init__(self, manifest: ModelManifest, session) -> None:
        super().__init__()
        self.stepper = OnnxStepper(manifest, session)
        self.manifest = manifest
        defaults = manifest.sampling
        self.default_params = SamplingParams(
            temperature=float(defaults.get("temperature", 1.0)),
            top_p=float(defaults.get("top_p", 0.95)),
        )
        self._event = np.zeros((1, enc.N_COLUMNS), dtype=np.int64)
        self._start: dict[Meter, tuple[dict[str, np.ndarray], NextNoteDistribution]] = {}
        self._started = False

    @property
    def timer(self):
        return self.stepper.timer

    def reset(self, origin_tick: int = 0) -> None:
        super().reset(origin_tick)
        self.stepper.reset_state()
        self._started = False

    def _run(self, row: np.ndarray) -> NextNoteDistribution:
        self._event[0, :] = row
        out = self.stepper.run_step({"event": self._event})
        return NextNoteDistribution(
            pitch=log_softmax(out["pitch_logits"][0]),
            rest=log_softmax(out["rest_logits"][0]),
            duration=log_softmax(out["duration_logits"][0]),
            level=log_softmax(out["level_logits"][0]),
            after_tick=self.after_tick,
        )

    def _start_melody(self, meter: Meter) -> NextNoteDistribution:
        cached = self._start.get(meter)
        if cached is None:
            self.stepper.reset_state()
            dist = self._run(enc.bos_event(meter))
            cached = (self.stepper.get_state(), dist)
            self._start[meter] = cached
        self.stepper.set_state(cached[0])
        self._started = True
        d = cached[1]
        return NextNoteDistribution(d.pitch, d.rest, d.duration, d.level, self.after_tick)

    def step(self, note: GridNote | None, meter: Meter) -> NextNoteDistribution:
        if note is None:
            self.reset(self._origin)
            return self._start_melody(meter)
        if not self._started:
            self._start_melody(meter)
        rest = self._advance(note, meter)
        return self._run(enc.note_event(note, rest, meter))

    def save(self) -> tuple:
        """The streaming context (the model's state, the melody's end), to go back to
        with :meth:`restore` after stepping notes that turned out wrong: one copy of the
        state."""
        return self.stepper.get_state(), self._prev_end

    def restore(self, saved: tuple) -> None:
        """Go back to a context :meth:`save` returned."""
        state, self._prev_end = saved
        self.stepper.set_state(state)

    def warm_up(self, meters: tuple[Meter, ...] = (Meter(4, 4), Meter(3, 4), Meter(6, 8),
                                                  Meter(2, 4)), steps: int = 32) -> None:
        """Run a few throwaway steps and cache start states; then reset and clear the timer.

        Call before the first note is accepted: the first runs of a session are slow
        (allocation, kernel choice, TensorRT engine load).
        """
        for meter in meters:
            self.step(None, meter)
        pitch, tick = 60, 0
        for i in range(steps):
            note = GridNote(pitch + (i * 5) % 12, tick, 6 + 6 * (i % 2), 80)
            self.step(note, meters[0])
            tick += note.duration
        self.reset()
        self.stepper.timer.reset()
