"""Foresight for the harmony: the melody the continuation model expects on the coming beat.

When a beat's chord is decided, the note that will be struck on the beat has not been
played yet, and it is the note the chord is heard against first. The continuation model
(the one the duet plays from) predicts the next note of a melody it has heard, and it
predicts a melody far better than the accompaniment model's own state does (about half
its first guesses are right on a tune it has never heard, nearly all on a repeat).
:class:`MelodyForecast` steps a continuator with the player's melody as the beats bring
it and answers, at each beat's deadline, the pitch classes it expects of the next note.
The accompaniment model reads that answer as an input (the foresight encoding,
``beat-features/4``: :meth:`~instrument.models.accompaniment.NeuralAccompanist.
attach_forecast`). Over the whole beat (:attr:`MelodyForecast.over_beat`) the forecast
also holds the note expected after that one, where the first is expected to end within
the beat, and :func:`foresee` weighs the chord distribution played by how much of that
(flattened) each chord holds, less as the tune memory recalls the music more clearly (a
repeat's remembered chord was fitted to the whole beat with hindsight).

The melody reaches the accompaniment as onsets only (a beat's :class:`~instrument.
models.accompaniment.BeatInput` has no durations), so each note is taken as lasting
until the next one begins (a legato reading: the continuation model's rests are then
never used). The last note heard is still sounding at the deadline: it is stepped as
ending on the beat (the next note then comes on the beat unless the model expects a
rest), with the continuator's context saved before it; when the next note begins on the
beat, as it mostly does, that step stands, else the context is put back and the note
stepped again with the length it had. Each step of a note as ending on the beat also
rolls the forecast one note on for :attr:`MelodyForecast.over_beat` (one more step, the
context put back). Cost per beat: one or two ONNX steps per note the beat brought (plus
one or two where a note did not end on a beat) and copies of the model's state: constant
(the continuation model keeps a fixed window of past notes).

That work need not wait for the deadline: live, the part has the forecast take each note
as it is heard (:meth:`MelodyForecast.hear_ahead`) and, after each beat's decision,
step the note still sounding as lasting to the next beat (:meth:`MelodyForecast.
expect`), on the worker that steps it, so at the deadline :meth:`MelodyForecast.observe`
mostly finds its steps done. Both are speculation checked at the deadline: a beat that
does not bring the notes taken ahead, in their order and meter, is stepped from the
context before them, and a note assumed to end elsewhere is stepped again. The answers
are the same whether or not anything was done ahead; only when the work is done moves.
"""

from __future__ import annotations

import numpy as np

from instrument.models import melody as enc
from instrument.models.accompaniment import BeatInput, ChordDistribution, with_sounding
from instrument.models.chords import CHORD_VOCAB
from instrument.models.continuation import NeuralContinuator, NextNoteDistribution
from instrument.music import TICKS_PER_BEAT, GridNote, Meter

FLOOR = 0.05  # a chord holding none of the forecast: log(FLOOR) per unit of weight
#: How much of the forecast's mass a chord's seventh holds (its root, third and fifth
#: hold all of theirs). Chosen on the dev split with the foresight encoding's model: 1.0
#: played 37 % of beats as four-note chords and began a plain C major tune on Dm7.
SEVENTH_SHARE = 0.4
#: How much of the forecast's mass a suspended chord's fourth holds: a suspension is a
#: colour over the melody's own fourth, not a chord to hold the melody coming. Counted
#: whole, a strong foresight over a busy melody played 5 % of the beats as sus4 chords
#: (dev, learning the tune; 1.9 % with the foresight's weight on held beats off); at the
#: seventh's share 0.1 %, with 0.0015 more of the melody in the chord (training/README).
SUSPENDED_FOURTH_SHARE = SEVENTH_SHARE
#: The forecast is weighed flattened, each pitch class's probability raised to this power
#: and normalised: the continuation model is over-sure of its first guess on a tune it has
#: never heard, and a chord holding its second guess is not to count as holding nothing.
#: Chosen on the dev split with the policy's foresight weight and SEVENTH_SHARE.
FORECAST_POWER = 0.5
#: The share of the beat's forecast given to the first note at least, however short the
#: model expects it (the second note is a guess stepped from a guess). Chosen on dev.
FIRST_NOTE_SHARE = 0.5
_REST_TICKS = np.minimum(np.array(enc.REST_TICKS, dtype=float), TICKS_PER_BEAT)
_DURATION_TICKS = np.minimum(np.array(enc.DURATION_TICKS, dtype=float), TICKS_PER_BEAT)


def _held_shares() -> np.ndarray:
    """Per chord of the vocabulary and pitch class, the share of the forecast's mass
    there that the chord holds: 1 on its root, third and fifth, :data:`SEVENTH_SHARE`
    on a seventh, :data:`SUSPENDED_FOURTH_SHARE` on a sus4's fourth, 0 elsewhere."""
    shares = np.zeros((len(CHORD_VOCAB), 12))
    for i, chord in enumerate(CHORD_VOCAB):
        for k, pc in enumerate(chord.pitch_classes):
            shares[i, pc] = 1.0 if k < 3 else SEVENTH_SHARE
        if chord.quality == "sus4":
            shares[i, chord.pitch_classes[1]] = SUSPENDED_FOURTH_SHARE
    return shares


_SOUNDING_TEMPLATES = _held_shares()[1:]  # every chord but the silent one (index 0)


class MelodyForecast:
    """The pitch classes of the melody's next note, as a continuator expects them at each
    beat's deadline (see the module docstring). One per part: it holds the continuator's
    streaming state. Call :meth:`observe` once per beat, in order; :meth:`reset` when the
    part forgets the beat."""

    def __init__(self, continuator: NeuralContinuator) -> None:
        self.continuator = continuator
        self.reset()

    @classmethod
    def beside(cls, continuation: object | None) -> MelodyForecast | None:
        """A forecast on its own continuator sharing ``continuation``'s ONNX session
        (onnxruntime runs one session from several threads), warmed up (its start states
        cached: a first step from cold took up to 9 ms), or None when that is not the
        neural continuation model (missing, or its Markov fallback)."""
        if not isinstance(continuation, NeuralContinuator):
            return None
        own = NeuralContinuator(continuation.manifest, continuation.stepper.session)
        own.warm_up()
        return cls(own)

    def reset(self) -> None:
        self.continuator.reset(0)
        self._sounding: GridNote | None = None  # the last note heard
        self._saved: tuple | None = None  # the context before it, while its end is assumed
        self._assumed_end = 0
        self._started = False
        self._odds: NextNoteDistribution | None = None  # after the last note stepped
        self._over_beat: np.ndarray | None = None  # see over_beat
        self._forget_ahead()

    def observe(self, beat: BeatInput) -> np.ndarray:
        """Take ``beat``'s notes; the probability of each pitch class (12, summing to 1)
        for the next note."""
        notes = beat.notes
        if self._before_ahead is not None:
            taken = len(self._ahead)
            if beat.meter == self._ahead_meter and notes[:taken] == tuple(self._ahead):
                notes = notes[taken:]  # stepped already
            else:  # the speculation was wrong: as if nothing had been taken ahead
                self._put_back(self._before_ahead)
            self._forget_ahead()
        for note in notes:
            self._take(note, beat.meter)
        self.expect(beat.beat_tick, beat.meter)
        assert self._odds is not None
        return self._odds.pitch_classes()

    @property
    def over_beat(self) -> np.ndarray | None:
        """The pitch classes (12, summing to 1) expected over the beat last observed: the
        next note's and, where the model expects that note to end within the beat, the
        note it expects after it, each as much as it is expected to cover of the beat
        (the first at least :data:`FIRST_NOTE_SHARE`). None before the first beat."""
        return self._over_beat

    def hear_ahead(self, note: GridNote, beat_tick: int, meter: Meter) -> None:
        """Take ``note`` now, before the deadline of the beat at ``beat_tick`` that is to
        bring it, and assume it lasts to that beat (see the module docstring)."""
        if self._before_ahead is None:
            self._before_ahead = self._context()
            self._ahead_meter = meter
        elif meter != self._ahead_meter:
            return  # left for the deadline, which will find the meter changed
        try:
            self._take(note, meter)
            self._ahead.append(note)
            self.expect(beat_tick, meter)
        except Exception:  # a failed step: nothing taken ahead, the deadline does it all
            self._put_back(self._before_ahead)
            self._forget_ahead()
            raise

    def expect(self, beat_tick: int, meter: Meter) -> None:
        """Step the note sounding as lasting until ``beat_tick`` (its onset at least one
        tick later), unless it was stepped so already (see the module docstring)."""
        self._start(meter)
        if self._sounding is not None:
            end = max(beat_tick, self._sounding.onset + 1)
            self._step(self._sounding, end, meter, final=False)

    def _take(self, note: GridNote, meter: Meter) -> None:
        """The next melody note: the one sounding before it is stepped as ending at its
        onset."""
        self._start(meter)
        if self._sounding is not None:
            self._step(self._sounding, note.onset, meter, final=True)
        self._sounding = note

    def _start(self, meter: Meter) -> None:
        """Start the continuator's melody, once after each reset."""
        if not self._started:
            self._odds = self.continuator.step(None, meter)
            self._over_beat = self._odds.pitch_classes()
            self._started = True

    def save(self) -> tuple:
        """Everything the forecast holds, notes taken ahead too, to go back to with
        :meth:`restore` (which can restore it again)."""
        return (self._context(), tuple(self._ahead), self._ahead_meter, self._before_ahead)

    def restore(self, saved: tuple) -> None:
        """Go back to what :meth:`save` returned."""
        context, ahead, self._ahead_meter, self._before_ahead = saved
        self._put_back(context)
        self._ahead = list(ahead)

    def _forget_ahead(self) -> None:
        self._ahead: list[GridNote] = []  # notes taken before their beat, in order
        self._ahead_meter: Meter | None = None
        self._before_ahead: tuple | None = None  # everything as it was before them

    def _context(self) -> tuple:
        return (self.continuator.save(), self._sounding, self._saved, self._assumed_end,
                self._started, self._odds, self._over_beat)

    def _put_back(self, context: tuple) -> None:
        saved_model, self._sounding, self._saved, self._assumed_end, self._started, \
            self._odds, self._over_beat = context
        self.continuator.restore(saved_model)

    def _step(self, note: GridNote, end: int, meter: Meter, final: bool) -> None:
        """Have ``note`` stepped as lasting until ``end`` (``final``: its real end, else
        assumed). A note already stepped with that end stands; with another, the context
        saved before it is put back and it is stepped again."""
        if self._saved is not None:
            if self._assumed_end == end:
                if final:
                    self._saved = None
                return
            self.continuator.restore(self._saved)
        self._saved = None if final else (self._saved or self.continuator.save())
        self._assumed_end = end
        self._odds = self.continuator.step(_lasting_until(note, end), meter)
        if not final:  # the beat from ``end`` is the one a deadline will ask about
            self._over_beat = self._roll_out(end, note.velocity, meter)

    def _roll_out(self, start: int, velocity: int, meter: Meter) -> np.ndarray:
        """:attr:`over_beat` for the beat from ``start``, the next note expected there:
        where its likeliest rest and length end within the beat, its likeliest pitch is
        stepped with them and the context put back."""
        odds = self._odds
        assert odds is not None
        first = odds.pitch_classes()
        rest, duration = np.exp(odds.rest), np.exp(odds.duration)
        rest_ticks = enc.REST_TICKS[int(np.argmax(rest))]
        duration_ticks = enc.DURATION_TICKS[int(np.argmax(duration))]
        if rest_ticks + duration_ticks >= TICKS_PER_BEAT:
            return first
        share = float(duration @ _DURATION_TICKS) / TICKS_PER_BEAT * \
            (1.0 - float(rest @ _REST_TICKS) / TICKS_PER_BEAT)
        share = min(max(share, FIRST_NOTE_SHARE), 1.0)
        saved = self.continuator.save()
        try:
            then = self.continuator.step(
                GridNote(odds.top_pitch(), start + rest_ticks, duration_ticks, velocity), meter)
        finally:
            self.continuator.restore(saved)
        return share * first + (1.0 - share) * then.pitch_classes()


def _lasting_until(note: GridNote, tick: int) -> GridNote:
    return GridNote(note.pitch, note.onset, max(1, tick - note.onset), note.velocity)


def foresee(dist: ChordDistribution, forecast: np.ndarray, weight: float,
            recalled: float = 0.0) -> ChordDistribution:
    """``dist`` with each sounding chord's log-probability raised by ``weight`` times
    ``1 - recalled`` times the log of the forecast's probability mass on its pitch classes
    (the forecast raised to :data:`FORECAST_POWER` and normalised; a seventh's counted at
    :data:`SEVENTH_SHARE`, a sus4's fourth at :data:`SUSPENDED_FOURTH_SHARE`: a four-note
    or suspended chord is not to win for holding more of any
    forecast; floored at :data:`FLOOR`), among the sounding chords: the odds of playing
    no chord at all stay the model's (:func:`~instrument.models.accompaniment.
    with_sounding`). ``recalled`` (0..1):
    how clearly the tune memory recalls this music (:meth:`~instrument.memory.
    tune_memory.TuneMemory.recall`); on a clear repeat its chord, fitted to the whole beat
    with hindsight, knows more than a forecast."""
    weight *= 1.0 - min(max(recalled, 0.0), 1.0)
    if weight <= 0:
        return dist
    forecast = np.power(forecast, FORECAST_POWER)
    forecast = forecast / forecast.sum()
    return with_sounding(dist, dist.logp[1:]
                         + weight * np.log(FLOOR + _SOUNDING_TEMPLATES @ forecast))
