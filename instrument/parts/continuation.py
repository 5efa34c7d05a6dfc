"""Call and response: when the player pauses, answer with a phrase that continues theirs.

The ``Band`` hands the ``Responder`` each melody note of the player once it is complete,
and tells it when the phrase has ended (a silence). The response then starts on the next
grid step, lasts in proportion to the call (within a minimum and a maximum), and keeps
to the player's key and meter. Its notes are decided one at a time, a lookahead before
each is due: the neural model proposes, and if its step is late the Markov model's
choice plays instead. When the player plays again the ``Band`` stops the response at
once. Both models hear every committed note, the player's and the instrument's, so the
duet's history carries on from phrase to phrase.

The partner learns the player (:mod:`instrument.memory.adaptive`): the Markov model
learns each of the player's notes for the rest of the gig, and the copy model
(:class:`~instrument.memory.note_memory.NoteMemory`) remembers the player's notes of this
tune; when the neural step's result is taken (or found late), the three predictions are
mixed by how long the current run matches what the player played before, on the engine
thread, so responses quote and vary the player's own motifs. Neither learns from the
instrument's own notes. A new tune (:meth:`Responder.new_tune`, called by the Band on a
program change or after a long silence) empties the copy model; what the Markov model
learned stays for the gig.

Engine thread only.
"""

from __future__ import annotations

import math
from concurrent.futures import Future
from dataclasses import dataclass

import numpy as np

from instrument.baselines.markov import MarkovContinuator
from instrument.baselines.rules import estimate_key
from instrument.engine.engine import TimedEvent
from instrument.memory.adaptive import DEFAULT_WEIGHTS, MixWeights, mix_continuation
from instrument.memory.note_memory import NoteMemory
from instrument.midi import messages as mm
from instrument.models.continuation import Continuator, NextNoteDistribution
from instrument.models.sampling import SamplingParams
from instrument.music import TICKS_PER_BEAT, GridNote
from instrument.names import Part
from instrument.parts.deadline import DeadlineRunner
from instrument.timing.beat import BeatClock

MAJOR_SCALE = (0, 2, 4, 5, 7, 9, 11)
HARMONIC_MINOR = (0, 2, 3, 5, 7, 8, 10, 11)  # natural minor plus the raised 7th


@dataclass
class ResponseSettings:
    silence: float = 0.6  # seconds without a sounding note that end a phrase (0: a beat)
    grid_ticks: int = 6  # the response starts on the next eighth
    length_ratio: float = 1.0
    min_beats: float = 2.0
    max_beats: float = 16.0
    follow_key: bool = True
    learn: bool = True
    lookahead: float = 0.02  # seconds before a note is due that it is decided
    safety: float = 0.005  # the model's result must be in this long before the lookahead ends


def scale_of(histogram: np.ndarray) -> frozenset[int] | None:
    """The pitch classes of the key the histogram suggests (None if nothing heard)."""
    if histogram.sum() <= 0:
        return None
    tonic, minor = estimate_key(histogram)
    steps = HARMONIC_MINOR if minor else MAJOR_SCALE
    return frozenset((tonic + s) % 12 for s in steps)


class Responder:
    """The continuation part (see the module docstring)."""

    name = Part.CONTINUATION

    def __init__(
        self,
        markov: MarkovContinuator,
        neural: Continuator | None,
        runner: DeadlineRunner,
        settings: ResponseSettings,
        sampling: SamplingParams,
        rng: np.random.Generator,
        memory: NoteMemory | None = None,
        weights: MixWeights = DEFAULT_WEIGHTS,
    ) -> None:
        self.markov = markov
        self.neural = neural
        self.memory = memory
        self.weights = weights
        self.runner = runner
        self.settings = settings
        self.sampling = sampling
        self.rng = rng
        self.responses = 0
        self.neural_notes = 0
        self.fallback_notes = 0
        self.reset()

    # -- state ----------------------------------------------------------------------

    def reset(self, origin_tick: int = 0) -> None:
        """Forget the melody (a new piece, a restarted clock, a panic)."""
        self.markov.reset(origin_tick)
        self._markov_dist: NextNoteDistribution | None = None
        self._future: Future | None = None
        if self.neural is not None:
            self.neural.reset(origin_tick)
        if self.memory is not None:
            self.memory.restart()
        self.call: list[GridNote] = []
        self.histogram = np.zeros(12)
        self.responding = False
        self._call_level = 80.0
        self._model_levels = 0.0
        self._model_notes = 0
        self._after = 0
        self._end = 0
        self._first = False

    def new_tune(self) -> None:
        """A new tune starts: the copy model forgets this one (the Markov model keeps the
        gig)."""
        if self.memory is not None:
            self.memory.reset()

    def _commit(self, note: GridNote, clock: BeatClock) -> None:
        meter = clock.meter
        if self.memory is not None:
            self.memory.follow(note, meter)
        self._markov_dist = self.markov.step(note, meter)
        if self.neural is not None:
            neural = self.neural
            self._future = self.runner.submit(lambda: neural.step(note, meter))

    def hear(self, note: GridNote, clock: BeatClock) -> None:
        """A melody note of the player, complete (its duration known)."""
        if self.settings.learn and self.call:
            self.markov.learn_next(note, clock.meter)
        if self.settings.learn and self.memory is not None:
            self.memory.learn(note, clock.meter)
        self.call.append(note)
        self.histogram *= 0.98
        self.histogram[note.pitch % 12] += max(1, note.duration)
        self._commit(note, clock)

    # -- the response ---------------------------------------------------------------

    def start(self, now: float, clock: BeatClock) -> bool:
        """The phrase has ended: plan a response. False if there is nothing to answer."""
        if not self.call or self.responding:
            return False
        first, last = self.call[0], self.call[-1]
        call_ticks = last.onset + last.duration - first.onset
        length = call_ticks * self.settings.length_ratio
        length = min(max(length, self.settings.min_beats * TICKS_PER_BEAT),
                     self.settings.max_beats * TICKS_PER_BEAT)
        grid = self.settings.grid_ticks
        earliest = clock.beat_at(now + self.settings.lookahead) * TICKS_PER_BEAT
        start = math.ceil(earliest / grid - 1e-9) * grid
        self._after = start
        self._end = start + round(length)
        self._first = True
        self.responding = True
        self.responses += 1
        # The answer keeps the call's level; the models' own velocities give its accents.
        self._call_level = sum(n.velocity for n in self.call) / len(self.call)
        self._model_levels = 0.0
        self._model_notes = 0
        self.call = []
        return True

    def stop(self) -> None:
        """The player plays again: the Band cancels what sounds; plan nothing more."""
        self.responding = False

    def _planning_time(self, clock: BeatClock) -> float:
        return clock.time_of_tick(self._after) - self.settings.lookahead

    def next_wakeup(self, clock: BeatClock) -> float | None:
        return self._planning_time(clock) if self.responding else None

    def plan(self, now: float, clock: BeatClock) -> list[GridNote]:
        """Decide the response notes whose planning time has come."""
        notes: list[GridNote] = []
        while self.responding and self._planning_time(clock) <= now:
            note = self._decide(now, clock)
            if note is None or note.onset >= self._end:
                self.responding = False
                break
            note = GridNote(note.pitch, note.onset, note.duration, self._velocity(note))
            notes.append(note)
            self._after = note.onset + note.duration
            self._commit(note, clock)
        return notes

    def _velocity(self, note: GridNote) -> int:
        """The model's velocity, scaled so the answer's mean level is the call's."""
        self._model_levels += note.velocity
        self._model_notes += 1
        mean = self._model_levels / self._model_notes
        return max(1, min(127, round(self._call_level * note.velocity / max(mean, 1.0))))

    def _decide(self, now: float, clock: BeatClock) -> GridNote | None:
        dist = None
        if self._future is not None:
            deadline = self._planning_time(clock) + self.settings.lookahead - self.settings.safety
            dist = self.runner.take(self._future, deadline)
        if dist is not None:
            self.neural_notes += 1
        else:
            self.fallback_notes += 1
        markov = self._markov_dist or self.markov.step(None, clock.meter)
        if self.memory is not None:
            dist = mix_continuation(dist, markov, self.memory.predict(), self.weights)
        elif dist is None:
            dist = markov
        params = self.sampling
        if self.settings.follow_key:
            params = SamplingParams(
                temperature=params.temperature, top_p=params.top_p,
                pitch_classes=scale_of(self.histogram),
            )
        note = (self.neural or self.markov).sample(dist, params, self.rng)
        if self._first:
            note = GridNote(note.pitch, self._after, note.duration, note.velocity)
            self._first = False
        return note


def note_events(note: GridNote, clock: BeatClock, part: str) -> list[TimedEvent]:
    """A grid note as a note-on and a note-off at clock times."""
    on = clock.time_of_tick(note.onset)
    off = clock.time_of_tick(note.onset + note.duration)
    return [
        TimedEvent(on, part, (mm.NOTE_ON, note.pitch, note.velocity)),
        TimedEvent(off, part, (mm.NOTE_OFF, note.pitch, 0)),
    ]
