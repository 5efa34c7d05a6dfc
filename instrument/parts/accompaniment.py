"""Play along: the band's chords on the beat, each decided before its beat arrives.

For every beat the ``Accompaniment`` decides, at the beat's planning time (``lookahead``
before it, and never later than the models' own deadline before the beat), the chord
that will sound on it: from the melody notes that began before that deadline and its own
previous chord. The neural model proposes within a step budget; if it is late, the rule
arranger's chord plays, and the miss is counted. A model whose manifest names a
harmony policy plays with the rule arranger (:func:`~instrument.models.harmony.combine`:
between the bar's strong beats the rules' change of chord, the key they hear weighing
the model's chords, and while the melody is busy a hold on the beats between the strong
ones, counted from the melody the part hears: :class:`~instrument.models.harmony.
MelodyPace`). With the continuation model loaded, a
:class:`~instrument.models.foresight.MelodyForecast` is stepped with the beat's notes:
inside the model's step when the model reads it as an input (the foresight encoding:
:meth:`~instrument.models.accompaniment.NeuralAccompanist.attach_forecast`), else, with the
policy's ``foresight``, on its own worker (``forecast_runner``), beside the model's step
and under the same deadline. Either way the forecast does most of its work before the
deadline, on the worker that steps it: it takes each note as the part hears it (when the
note is for the next beat to be decided) and, after each decision, steps the note still
sounding as lasting to the next beat (:meth:`~instrument.models.foresight.MelodyForecast.
hear_ahead`, :meth:`~instrument.models.foresight.MelodyForecast.expect`), so the step at
the deadline is mostly the model's own. Live (on a threaded runner), and where the
forecast is the model's own or there is none, the model's step itself is taken ahead too
(:class:`~instrument.parts.step_ahead.StepAhead`): after each decision for the next beat
as it stands, and again after each note heard for it, so the deadline mostly finds it
done and is left with the rules, the policy, the tune memory and the draw; a beat that
brings other notes than the step ahead was taken with is stepped anew at its deadline.
The chords are the same either way. With the policy's ``foresight`` the model's chord
(after the tune memory's blend) is weighed by the melody note the continuation model expects on the
beat, as much as the memory does not recall the music; a forecast that is late leaves
the model's chord as it was. The chord is drawn with
``sampling``, whose ``hold`` the Band sets around the model's own
(:attr:`Accompaniment.neutral_hold`, the manifest's ``sampling.hold``) by the density
control. The chord is voiced with smooth voice
leading (common tones held, the others moving least) in a configurable register, and the
band plays it: the :class:`~instrument.parts.style_player.StylePlayer` renders the beat
through the style (comping, bass and drums on their own parts) at the energy the player
gives (:class:`~instrument.parts.energy.Energy`, or the density control's override).

The style is the one configured, or with ``"auto"`` chosen from the meter and the feel
of the playing (:meth:`~instrument.styles.library.StyleLibrary.choose`) as the band comes
in, again in its first bars, then only at a phrase's start or when the meter changed.
The style also says where its harmony moves (its ``chord_changes``: :meth:`~instrument.
styles.style.Style.chord_may_change`): on a beat where it does not, the chord sounding
holds, whatever the model, the rules and the memory would propose (they are stepped
and hear the beat all the same, so their streams stay whole; nothing is drawn): a waltz
changes chord on the bar line only, a reel on the bar line and the half bar. Where the
chord chosen will hold through the next beat, the melody forecast weighs more
(:func:`~instrument.models.harmony.foresight_weight`): the chord is chosen for the
melody coming. The style also says which sevenths the band plays (its ``sevenths``):
the chord is drawn among the others (:func:`~instrument.models.accompaniment.
without_chords`), and one held from before the style changed sounds as its triad
(:meth:`~instrument.styles.style.Style.sounding`).

The part learns the tune as it plays (:class:`~instrument.memory.tune_memory.TuneMemory`):
once the beat's distribution is taken (the model's, or the rule arranger's when the
model was late) the memory observes the beat's melody and blends in what fitted the same
music the times before, so a repeat is played with the chords its first pass should have
had, and after the chord is drawn it does the work no decision waits for (:meth:`~
instrument.memory.tune_memory.TuneMemory.settle`). Each decision, from the beat's notes to
its chord, is timed (:meth:`Accompaniment.decision_summary`). The memory outlives a panic
and a restarted beat; a new tune (:meth:`Accompaniment.new_tune`, called by the Band on a
program change or after a long silence: see :meth:`~instrument.parts.band.Band.new_tune`)
starts it empty.

Engine thread only; what touches a model's or the forecast's state (their steps, steps
taken ahead and taken back, resets and the forecast's work ahead) is queued from here to
their workers, in order.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from concurrent.futures import Future
from dataclasses import dataclass

import numpy as np

from instrument.baselines.rules import RuleArranger
from instrument.engine.engine import TimedEvent
from instrument.memory.tune_memory import TuneMemory
from instrument.models.accompaniment import (
    NO_CHORD,
    Accompanist,
    BeatInput,
    ChordDistribution,
    ChordSamplingParams,
    without_chords,
)
from instrument.models.chords import Chord
from instrument.models.foresight import MelodyForecast, foresee
from instrument.models.harmony import MelodyPace, combine, foresight_weight
from instrument.models.voicing import SILENT, Voicing, voice_chord
from instrument.music import TICKS_PER_BEAT, GridNote, Meter
from instrument.names import Part
from instrument.parts.deadline import DeadlineRunner, ImmediateRunner
from instrument.parts.dynamics import FOLLOW_SHARE, Dynamics
from instrument.parts.energy import Energy
from instrument.parts.step_ahead import StepAhead
from instrument.parts.style_player import StylePlayer
from instrument.realtime.histogram import TimingHistogram
from instrument.styles.library import AUTO, PAD, StyleLibrary
from instrument.styles.style import Feel, Section
from instrument.timing.beat import BeatClock

log = logging.getLogger(__name__)

FIRST_BARS = 3  # with style "auto", the style may change at each of the first bars


@dataclass
class AccompanimentSettings:
    lookahead: float = 0.02  # seconds before the beat that its chord is decided
    safety: float = 0.005  # the model's result must be in this long before the beat
    deadline_ticks: int = 2  # melody notes visible: those that began this long before
    upper_range: tuple[int, int] = (52, 72)
    bass_range: tuple[int, int] = (36, 50)
    velocity: int = 72  # before the player has played, or with follow_dynamics off
    follow_dynamics: bool = True  # play at a share of the player's smoothed velocity
    stop_after_bars: float = 2.0  # the player silent this long: the accompaniment rests
    style: str = AUTO  # a style's name, or chosen from the meter and the feel


@dataclass
class ChordChoice:
    """What was decided for one beat (kept for tests, status and evaluation): the chord
    as the band played it (the style's :meth:`~instrument.styles.style.Style.sounding`
    of the chord chosen)."""

    beat: int
    chord: Chord
    voicing: Voicing
    neural: bool


class Accompaniment:
    """The accompaniment part (see the module docstring)."""

    name = Part.ACCOMPANIMENT

    def __init__(
        self,
        rules: RuleArranger,
        neural: Accompanist | None,
        runner: DeadlineRunner,
        settings: AccompanimentSettings,
        sampling: ChordSamplingParams,
        rng: np.random.Generator,
        memory: TuneMemory | None = None,
        dynamics: Dynamics | None = None,
        styles: StyleLibrary | None = None,
        forecast: MelodyForecast | None = None,
        forecast_runner: DeadlineRunner | None = None,
        step_ahead: bool | None = None,
    ) -> None:
        self.rules = rules
        # The policy's (harmony.forecast_for) when the model does not step it, or None.
        self.forecast = forecast
        self.forecast_runner = forecast_runner or runner
        self.dynamics = dynamics if dynamics is not None else Dynamics()
        self.energy = Energy()
        self.energy_override: float | None = None  # the density control, once moved
        self.last_energy = 0.5  # the energy of the last beat decided (for status)
        self.styles_by_bar: dict[int, str] = {}  # "auto"'s choice at each bar it chose
        self.styles = styles if styles is not None else StyleLibrary.load()
        # Until "auto" has heard enough to choose: the pad.
        self.player = StylePlayer(self.styles.get(PAD if settings.style == AUTO
                                                  else settings.style))
        self.memory = memory
        self.neural = neural
        self.runner = runner
        self.settings = settings
        self.sampling = sampling
        self.rng = rng
        self.history: list[ChordChoice] = []
        self.neural_beats = 0
        self.fallback_beats = 0
        self.waited_beats = 0  # decisions that found the model's step not done yet
        self.pace = MelodyPace()
        self.ahead_timer = TimingHistogram()  # the forecast's work before the deadlines
        self.decision_timer = TimingHistogram()  # each beat's chord, from its notes
        # The model's step taken before the deadline: where its worker runs beside the
        # engine (not offline, where it would only add steps), and with no forecast of
        # the part's own on another worker (the model's own is in its context).
        if step_ahead is None:
            step_ahead = not isinstance(runner, ImmediateRunner)
        self.step_ahead: StepAhead | None = None
        if step_ahead and neural is not None and forecast is None and \
                hasattr(neural, "save"):
            self.step_ahead = StepAhead(neural, self._model_step, runner)
        self.reset()

    @property
    def neutral_hold(self) -> float:
        """The ``hold`` at the middle of the density control: the model's manifest's
        ``sampling.hold`` (the setting it was chosen and measured with), 0.5 for the
        rule arranger alone."""
        return (self.neural or self.rules).default_params.hold

    def foresight_summary(self) -> dict | None:
        """The melody forecast's steps a beat, p50/p99 and misses (as the runners count
        them), or None without one. Stepped inside the model's step, it misses nothing
        of its own: the model's step does (``misses`` None)."""
        if self.forecast is not None:
            out = self.forecast_runner.stats.summary()
        elif getattr(self.neural, "forecast", None) is None:
            return None
        else:
            timer = self.neural.forecast_timer
            out = {"steps": timer.count, "misses": None}
            times = timer.summary_ms()
            if times:
                out.update(p50_ms=times["p50"], p99_ms=times["p99"])
        ahead = self.ahead_timer.summary_ms()
        if ahead:
            out.update(ahead_p50_ms=ahead["p50"], ahead_p99_ms=ahead["p99"])
        return out

    def decision_summary(self) -> dict[str, float] | None:
        """Each beat's decision as the part makes it: how many (``beats``) and p50, p99,
        p999 and max in ms, from the beat's notes to its chord drawn (the model's step on
        its worker, or what is left of it when it was taken ahead, with the rule
        arranger's beside it, the policy, the tune memory and the foresight), and
        ``stepped_ahead``, how many of the model's steps were taken ahead of the
        deadline (:mod:`~instrument.parts.step_ahead`; 0 without), and ``waited``, how
        many decisions found the model's step not done yet and waited for it; None
        before the first beat."""
        times = self.decision_timer.summary_ms()
        if not times:
            return None
        ahead = self.step_ahead.used if self.step_ahead is not None else 0
        return {"beats": self.decision_timer.count, **times, "stepped_ahead": ahead,
                "waited": self.waited_beats}

    def _forecast_worker(self) -> tuple[MelodyForecast, DeadlineRunner] | None:
        """The melody forecast this part steps, and the worker it is stepped on."""
        if self.forecast is not None:
            return self.forecast, self.forecast_runner
        inside = getattr(self.neural, "forecast", None)
        return (inside, self.runner) if inside is not None else None

    def _forecast_ahead(self, work: Callable[[MelodyForecast], None]) -> None:
        """Have the forecast do ``work`` on its worker, before the deadline that needs
        it (timed in :attr:`ahead_timer`)."""
        worker = self._forecast_worker()
        if worker is None:
            return
        forecast, runner = worker
        timer = self.ahead_timer

        def run() -> None:
            t0 = time.perf_counter()
            work(forecast)
            timer.record(time.perf_counter() - t0)

        runner.submit_background(run)

    def reset(self) -> None:
        """Forget the beat and the plans (a panic, a restarted beat); the tune stays."""
        self.rules.reset()
        self.pace.reset()
        # On their workers, after the work queued there (which touches their state).
        if self.step_ahead is not None:
            self.step_ahead.forget()
        if self.neural is not None:
            self.runner.submit_background(self.neural.reset)
        if self.forecast is not None:
            self.forecast_runner.submit_background(self.forecast.reset)
        self._heard: list[GridNote] = []
        self._meter: Meter | None = None  # of the last beat decided
        self._next_beat: int | None = None
        self._begin_meter: Meter | None = None  # the meter begin() was given
        self._lead_in_beat: BeatInput | None = None  # stepped with the first beat
        self._decided_until: float | None = None  # clock time of the last beat decided
        self._previous: Chord | None = None
        self._voicing: Voicing = SILENT
        self._style_meter = None  # the meter the style was chosen for
        self.player.forget()
        self.player.enter()
        self.playing = False

    def new_tune(self) -> None:
        """A new tune starts: the tune memory starts empty, the energy is heard anew."""
        if self.memory is not None:
            self.memory.reset()
        self.energy.reset()
        self.player.phrase_origin = None

    def hear_player(self, velocity: int, t: float) -> None:
        """The player began a note: their touch and their energy."""
        self.dynamics.hear(velocity, t)
        self.energy.hear(t)

    def energy_at(self, now: float, clock: BeatClock) -> float:
        """The energy the band plays at now (the override, or the player's)."""
        if self.energy_override is not None:
            return self.energy_override
        expected = self.memory.expected_onsets() if self.memory is not None else None
        return self.energy.level(now, clock.seconds_per_beat, clock.meter, self.dynamics.level,
                                 expected)

    def choose_style(self, name: str) -> None:
        """Play style ``name`` (or ``"auto"``) from the next bar; KeyError if unknown."""
        if name != AUTO:
            self.player.set_style(self.styles.get(name))
        self.settings.style = name
        self._style_meter = None

    # -- inputs -----------------------------------------------------------------------

    def hear_onset(self, note: GridNote) -> None:
        """A melody note began (the player's, or the instrument's own response). The
        forecast takes it at once when it is for the next beat to be decided."""
        self._heard.append(note)
        meter, beat = self._meter, self._next_beat
        if not self.playing or beat is None or \
                note.onset >= self._boundary(beat * TICKS_PER_BEAT):
            return
        if self.step_ahead is not None:  # the forecast finds its context as before
            self.step_ahead.take_back()
        if meter is not None:  # after the first decision
            self._forecast_ahead(lambda f: f.hear_ahead(note, beat * TICKS_PER_BEAT, meter))
        self._step_ahead(beat, meter or self._begin_meter)

    def begin(self, first_beat: int, meter: Meter | None = None) -> None:
        """Start playing from ``first_beat`` (a clock that has started; ``meter``, its
        meter, lets the model's steps for it be taken ahead)."""
        self._next_beat = first_beat
        self._begin_meter = meter
        self.player.enter()
        self.playing = True
        self._step_ahead(first_beat, meter)

    def end(self) -> None:
        """The player is ending the tune: the band plays its ending from the next beat."""
        self.player.end()

    @property
    def ending(self) -> bool:
        return self.player.ending

    def resume(self) -> None:
        """The player went on after what sounded like an ending: the band goes on."""
        self.player.resume()

    def skip_to(self, first_beat: int) -> None:
        """Plan no beat before ``first_beat`` (after holding, or when the beats were
        renumbered); a beat already decided is never decided again."""
        if self._next_beat is not None:
            self._next_beat = max(self._next_beat, first_beat)

    def after_renumbering(self, clock: BeatClock, earliest: int) -> None:
        """The beat clock's beats were renumbered: go on after the beat already decided
        (now under its new number), and not before ``earliest``."""
        if self._next_beat is None:
            return
        first = earliest
        if self._decided_until is not None:
            first = max(first, round(clock.beat_at(self._decided_until)) + 1)
        self._next_beat = first

    def retimed(self, move) -> None:
        """The planned beats were moved to ``move(time)`` (the follower moved the beat)."""
        if self._decided_until is not None:
            self._decided_until = move(self._decided_until)

    # -- planning ---------------------------------------------------------------------

    def planning_lead(self, clock: BeatClock) -> float:
        """How long before its beat a chord is decided."""
        return self._lead(clock)

    def _lead(self, clock: BeatClock) -> float:
        model_deadline = self.settings.deadline_ticks * clock.seconds_per_tick
        return max(self.settings.lookahead, model_deadline)

    def next_wakeup(self, clock: BeatClock) -> float | None:
        if not self.playing or self._next_beat is None or not clock.running:
            return None
        return clock.time_at(self._next_beat) - self._lead(clock)

    def plan(self, now: float, clock: BeatClock) -> list[TimedEvent]:
        """Decide every beat whose planning time has come."""
        events: list[TimedEvent] = []
        while self.playing and clock.running and self._next_beat is not None:
            beat = self._next_beat
            if clock.time_at(beat) - self._lead(clock) > now:
                break
            events += self._decide(beat, now, clock)
            self._next_beat = beat + 1
        return events

    def _boundary(self, beat_tick: int) -> int:
        """The tick before which a note is heard for the beat at ``beat_tick``."""
        return beat_tick - self.settings.deadline_ticks

    def _heard_before(self, boundary: int, since: int | None = None) -> tuple[GridNote, ...]:
        """The notes heard and not yet taken that began before ``boundary`` (and not
        before ``since``)."""
        return tuple(n for n in self._heard
                     if n.onset < boundary and (since is None or n.onset >= since))

    def _visible_notes(self, beat_tick: int, clock: BeatClock) -> tuple[GridNote, ...]:
        """The notes for the beat at ``beat_tick``, taken."""
        boundary = self._boundary(beat_tick)
        seen = self._heard_before(boundary)
        self._heard = [n for n in self._heard if n.onset >= boundary]
        return seen

    def _lead_in(self, beat_tick: int, clock: BeatClock) -> None:
        """Step both accompanists through a silent beat before the first one played.

        The models learned pieces from their start: a first step with no chord before
        it and no melody yet, then chords. Live, the first beat is planned only after
        the player has begun; this step gives the models that same beginning.
        """
        tick = beat_tick - TICKS_PER_BEAT
        lead_in = BeatInput(tick, clock.meter, self._visible_notes(tick, clock), None)
        if self.step_ahead is not None:
            self._lead_in_beat = lead_in  # the model steps it with the first beat
        elif self.neural is not None:
            self._submit(lead_in)  # in order, before the beat
        self.rules.hear(lead_in)
        if self.memory is not None:
            self.memory.observe(lead_in)
        self._previous = NO_CHORD

    def _model_step(self, beat: BeatInput) -> tuple[ChordDistribution, np.ndarray | None]:
        """The model's step for ``beat`` (on its worker): its distribution, and the
        forecast's :attr:`~instrument.models.foresight.MelodyForecast.over_beat` when it
        reads one."""
        assert self.neural is not None
        dist = self.neural.step(beat)
        inside = getattr(self.neural, "forecast", None)
        return dist, inside.over_beat if inside is not None else None

    def _step_ahead(self, beat: int, meter: Meter | None) -> None:
        """Have the model's step for ``beat`` taken ahead with the notes heard for it so
        far (:class:`~instrument.parts.step_ahead.StepAhead`); before the first beat is
        decided, with the part's lead-in (:meth:`_lead_in`) before it."""
        if self.step_ahead is None or meter is None:
            return
        tick = beat * TICKS_PER_BEAT
        if self._previous is not None:
            self.step_ahead.take_ahead((BeatInput(tick, meter, self._heard_before(
                self._boundary(tick)), self._previous),))
            return
        lead_tick = tick - TICKS_PER_BEAT
        lead_boundary = self._boundary(lead_tick)
        lead_in = BeatInput(lead_tick, meter, self._heard_before(lead_boundary), None)
        first = BeatInput(tick, meter, self._heard_before(self._boundary(tick), lead_boundary),
                          NO_CHORD)
        self.step_ahead.take_ahead((lead_in, first))

    def _submit(self, beat: BeatInput) -> tuple[Future, Future | None]:
        """The model's step for ``beat`` (:meth:`_model_step`; the one taken ahead for
        it, if any, with the part's lead-in when that waits to be stepped) and, with the
        part's own forecast, the forecast's step (its ``over_beat``), each on its worker
        (both streaming: every beat is stepped, in order)."""
        forecast = self.forecast
        if self.step_ahead is not None:
            lead_in, self._lead_in_beat = self._lead_in_beat, None
            future = self.step_ahead.for_beat((beat,) if lead_in is None else (lead_in, beat))
        else:
            future = self.runner.submit(lambda: self._model_step(beat))
        if forecast is None:
            return future, None

        def foresee_beat() -> np.ndarray | None:
            forecast.observe(beat)
            return forecast.over_beat

        return future, self.forecast_runner.submit(foresee_beat)

    def _decide(self, beat: int, now: float, clock: BeatClock) -> list[TimedEvent]:
        beat_tick = beat * TICKS_PER_BEAT
        if self._previous is None:
            self._lead_in(beat_tick, clock)
        started = time.perf_counter()
        beat_input = BeatInput(beat_tick, clock.meter, self._visible_notes(beat_tick, clock),
                               self._previous)
        future = ahead_future = None
        if self.neural is not None:
            future, ahead_future = self._submit(beat_input)
        self.rules.hear(beat_input)  # its chords are scored only where they play
        pace = self.pace.update(beat_input)
        dist = ahead = None
        deadline = clock.time_at(beat) - self.settings.safety
        if future is not None:
            self.waited_beats += not future.done()  # the decision waits for the worker
            dist, ahead = self.runner.take(future, deadline) or (None, None)
        if ahead_future is not None:  # late: the model's chord plays without foresight
            ahead = self.forecast_runner.take(ahead_future, deadline)
        used_neural = dist is not None
        if used_neural:
            self.neural_beats += 1
        else:
            self.fallback_beats += 1
        if self.memory is not None:
            # Observed after the model's step is taken, not beside it: the GIL keeps the
            # two from running at once (only the ONNX run releases it), and observing
            # while the model steps made the step slower (p50 0.45 -> 0.52 ms).
            self.memory.observe(beat_input)
        previous = self._previous
        if previous is not None and not previous.is_silent and \
                not self.player.style.chord_may_change(beat, clock.meter):
            chord = previous  # the style's harmonic rhythm: the chord sounding holds
        else:
            chord = self._draw(beat, beat_input, dist, ahead, pace, clock.meter)
        self.decision_timer.record(time.perf_counter() - started)
        if beat % clock.meter.beats_per_bar == 0:
            self._choose_style_for_bar(beat, now, clock)
        sounding = self.player.style.sounding(chord)  # the style's sevenths
        voicing = voice_chord(
            sounding, self._voicing if self._voicing.upper else None,
            upper_range=self.settings.upper_range, bass_range=self.settings.bass_range,
        )
        self.last_energy = self.energy_at(now, clock)
        events = self.player.play_beat(beat, sounding, voicing, clock, self._level(),
                                       self.last_energy)
        self._decided_until = clock.time_at(beat)
        log.debug("beat %d: %s, decided %.1f ms before it", beat, chord,
                  (clock.time_at(beat) - now) * 1000)
        self.history.append(ChordChoice(beat, sounding, voicing, used_neural))
        self._previous = chord
        self._voicing = voicing
        self._meter = meter = clock.meter
        self._forecast_ahead(lambda f: f.expect((beat + 1) * TICKS_PER_BEAT, meter))
        self._step_ahead(beat + 1, meter)
        if self.memory is not None:  # its work that no decision waits for
            self.memory.settle()
        return events

    def _draw(self, beat: int, beat_input: BeatInput, dist: ChordDistribution | None,
              ahead: np.ndarray | None, pace: float, meter: Meter) -> Chord:
        """The beat's chord, where the style lets it move: from the model's distribution
        ``dist`` (None: late, the rules' instead) with the policy, the tune memory's
        recollection (observed already) and the forecast ``ahead``, drawn."""
        policy = getattr(self.neural, "policy", None)
        used_neural = dist is not None
        if not used_neural:
            dist = self.rules.chords()
        elif policy is not None:  # the rules between strong beats, the key, the holds
            dist = combine(beat_input, dist, self.rules.chords, self.rules.key, policy, pace)
        if self.memory is not None:
            dist = self.memory.blend(dist)
        if used_neural and ahead is not None and policy is not None:
            recalled = self.memory.recall() if self.memory is not None else 0.0
            held = not self.player.style.chord_may_change(beat + 1, meter)
            weight = foresight_weight(beat_input, policy, pace, next_held=held)
            dist = foresee(dist, ahead, weight, recalled)
        left_out = self.player.style.chords_left_out  # the sevenths the style leaves out
        if left_out is not None:
            dist = without_chords(dist, left_out)
        return (self.neural or self.rules).sample(dist, self.sampling, self.rng)

    def _choose_style_for_bar(self, beat: int, now: float, clock: BeatClock) -> None:
        """With ``style = "auto"``: the style for the meter and the feel, changed only
        when the meter changed, in the first ``FIRST_BARS`` bars, or where a phrase
        starts."""
        if self.settings.style != AUTO:
            return
        player = self.player
        bar = beat // clock.meter.beats_per_bar
        origin = player.phrase_origin if player.phrase_origin is not None else bar
        phrase_start = (bar - origin) % player.style.phrase_bars == 0
        # The first bars are few to judge the feel by: it is judged again as they come.
        first_bars = 0 <= bar - origin < FIRST_BARS
        if self._style_meter == clock.meter and not (phrase_start or first_bars):
            return
        if self._style_meter == clock.meter and \
                not self.energy.busy(now, clock.seconds_per_beat, clock.meter):
            return  # the player has stopped: nothing new to judge the feel by
        # In the first bars, the feel of the last bar: how the tune goes on, not how it
        # began (a reel may open on a long note).
        window = self.energy.window_bars if first_bars else None
        feel = self.energy.feel(now, clock.seconds_per_beat, clock.meter, window) or Feel.STEADY
        style = self.styles.choose(clock.meter, feel)
        if style is not player.style:
            log.info("style: %s (%s, %s)", style.name, clock.meter, feel)
            player.set_style(style)
        self._style_meter = clock.meter
        self.styles_by_bar[bar] = style.name
        if len(self.styles_by_bar) > 64:
            del self.styles_by_bar[min(self.styles_by_bar)]

    @property
    def section(self) -> Section:
        return self.player.section

    def _level(self) -> float:
        """The band's velocity before the part volumes: a share of the player's touch
        once they have played (``follow_dynamics``), else the configured velocity."""
        level = self.dynamics.level
        if level is None or not self.settings.follow_dynamics:
            return float(self.settings.velocity)
        return FOLLOW_SHARE * level

    def rest(self) -> None:
        """Stop playing (the Band ends the sounding notes through the engine)."""
        self.playing = False
        self.player.forget()
        self._voicing = SILENT
        self._next_beat = None
