"""The chord each beat from both accompanists: the model, and between the bar's strong
beats the rule arranger's change of chord (optionally, the key the rules hear).

The model plays the beats where a folk or song harmony changes (a bar's first beat and,
in a bar of an even number of beats, its middle) and every beat where the rule arranger
would keep the chord. Between those strong beats, where the rule arranger changes chord
(the chord it held no longer fits the notes just heard, another diatonic one does), its
chord plays: it reacts to the last beat's notes more sharply than the model, which
predicts the strong beats well and quick turns late. On a chorale-like melody (a chord a
beat) the rules rarely change against the model's chord, so the model keeps its beats.

With ``key_weight`` above 0 the model's distribution is also weighed by the key the rule
arranger hears (:class:`~instrument.models.keys.KeyTracker`, with hysteresis): each chord
tone outside the key's scale (in minor, the natural minor with the leading note) costs
``key_weight`` in log-probability.

Over a busy melody (:class:`MelodyPace`: at least ``busy_onsets`` onsets a beat over the
last two bars) a beat that is not strong adds ``weak_hold`` to the log-probability of
keeping the chord in the model's distribution and ``weak_hold_rules`` in the rules'
(before the rules' change is looked at), so a reel's or a waltz's chords change on the
bar line and the half bar, as a band's do, and a passing note does not move them. Over
a melody of a note a beat (a hymn, a chorale) the chord stays free to change on any
beat: such harmony does move with every note. On the dev split (the stop-18 model, with
the tune memory) the folk tunes' changes between strong beats fell from 21 to 16 % of
their changes for 0.0015 of first-pass note-in-chord, the chorales' unchanged.

Chosen on the dev split (``python -m training.harmony_eval --split dev --policy``); the
manifest names the policy (``sampling.harmony_policy``) and reports the model alone and
with it. :func:`combine` is the one rule, used live by
:class:`~instrument.parts.accompaniment.Accompaniment` (which steps both accompanists
anyway: the rules are the fallback) and offline by :class:`ModelWithRules`. Its cost is an
argmax over the rules' distribution (and with the key prior one pass over the chord
vocabulary) per beat: constant.
"""

from __future__ import annotations

import itertools
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from functools import lru_cache

import numpy as np

from instrument.models.accompaniment import Accompanist, BeatInput, ChordDistribution
from instrument.models.chords import CHORD_INDEX, IDENTITY, TEMPLATES, Chord
from instrument.models.foresight import MelodyForecast, foresee
from instrument.models.sampling import log_softmax
from instrument.music import TICKS_PER_BEAT, Meter

MAX_BEATS_PER_BAR = 12  # the longest bar MelodyPace counts two of
MAJOR_SCALE = (0, 2, 4, 5, 7, 9, 11)
MINOR_SCALE = (0, 2, 3, 5, 7, 8, 10, 11)  # natural minor with the leading note
_TEMPLATES = TEMPLATES.astype(np.float64)
#: The policy's foresight times this on a beat whose chord is certain to sound through
#: the next one (the band's style does not let it change there: :meth:`~instrument.
#: styles.style.Style.chord_may_change`). Chosen on dev in the band (``python -m
#: training.evaluate_band --split dev --harmony model``; 20, 40 and 100 within 0.002 of
#: the melody in the struck chord).
HELD_FORESIGHT = 40.0


@dataclass(frozen=True)
class HarmonyPolicy:
    """``key_weight``: log-probability per chord tone outside the heard key (0: off).
    ``rules_between``: between strong beats, the rules' chord where they change it.
    ``weak_hold``, ``weak_hold_rules``: log-probability added to keeping the chord on a
    beat that is not strong, in the model's distribution and in the rules' (which is far
    sharper: its scores times ``RuleArranger.sharpness``), while the melody is busy: at
    least ``busy_onsets`` onsets a beat (:class:`MelodyPace`). 0: off.
    ``foresight``: the weight of the continuation model's forecast of the next melody
    note, applied after the tune memory's blend, as much as the memory does not recall
    the music (:func:`~instrument.models.foresight.foresee`), and not on the beats the
    weak-beat hold holds (:func:`holding`); 0: off, and off wherever no continuation
    model is loaded. ``held_foresight``: the foresight times this on a beat whose chord
    the weak-beat hold will hold through the next one (:func:`holds_next`): a chord that
    is to sound on is chosen for the melody coming more than for the model's guess."""

    key_weight: float = 0.0
    rules_between: bool = True
    weak_hold: float = 0.0
    weak_hold_rules: float = 0.0
    busy_onsets: float = 1.2
    foresight: float = 0.0
    held_foresight: float = 1.0

    def to_json(self) -> dict:
        return {"key_weight": self.key_weight, "rules_between": self.rules_between,
                "weak_hold": self.weak_hold, "weak_hold_rules": self.weak_hold_rules,
                "busy_onsets": self.busy_onsets, "foresight": self.foresight,
                "held_foresight": self.held_foresight}


class MelodyPace:
    """How busy the melody is: its onsets a beat over the last two bars' beats, counted
    from the notes each beat's :class:`BeatInput` brings. Constant cost per beat."""

    def __init__(self) -> None:
        self._counts: deque[int] = deque(maxlen=2 * MAX_BEATS_PER_BAR)

    def reset(self) -> None:
        self._counts.clear()

    def update(self, beat: BeatInput) -> float:
        """Count ``beat``'s notes; the onsets a beat now."""
        self._counts.append(len(beat.notes))
        window = min(len(self._counts), 2 * beat.meter.beats_per_bar)
        return sum(itertools.islice(reversed(self._counts), window)) / max(window, 1)


def strong_beat(beat_tick: int, meter: Meter) -> bool:
    """The first beat of a bar, or the middle one of a bar of an even number of beats."""
    bpb = meter.beats_per_bar
    pos = (beat_tick // TICKS_PER_BEAT) % bpb
    return pos == 0 or (bpb % 2 == 0 and pos == bpb // 2)


@lru_cache(maxsize=24)
def out_of_key_tones(key: tuple[int, bool]) -> np.ndarray:
    """Per chord of the vocabulary, how many of its tones lie outside ``key``'s scale
    (read-only: one array per key, shared)."""
    tonic, minor = key
    inside = np.zeros(12)
    inside[[(tonic + d) % 12 for d in (MINOR_SCALE if minor else MAJOR_SCALE)]] = 1.0
    out = _TEMPLATES @ (1.0 - inside)
    out.flags.writeable = False
    return out


def _between(beat: BeatInput) -> bool:
    """A chord sounds and ``beat`` is not one of the bar's strong beats."""
    prev = beat.previous_chord
    return prev is not None and not prev.is_silent and not strong_beat(beat.beat_tick,
                                                                        beat.meter)


def _holds_between(policy: HarmonyPolicy, pace: float) -> bool:
    """The policy's weak-beat hold is on and the melody is busy enough for it."""
    return (policy.weak_hold > 0 or policy.weak_hold_rules > 0) and \
        pace >= policy.busy_onsets


def holding(beat: BeatInput, policy: HarmonyPolicy, pace: float) -> bool:
    """Whether ``policy`` holds the chord on ``beat``: a beat between the strong ones,
    over a busy melody (``pace``, :class:`MelodyPace`), with a weak-beat hold set. The
    foresight is not weighed there either: a forecast of the next passing note must not
    move a chord the band holds through the bar."""
    return _holds_between(policy, pace) and _between(beat)


def holds_next(beat: BeatInput, policy: HarmonyPolicy, pace: float) -> bool:
    """Whether ``policy`` will hold the chord drawn on ``beat`` through the next beat:
    over a busy melody, the next beat is not a strong one."""
    return _holds_between(policy, pace) and \
        not strong_beat(beat.beat_tick + TICKS_PER_BEAT, beat.meter)


def foresight_weight(beat: BeatInput, policy: HarmonyPolicy, pace: float,
                     next_held: bool = False) -> float:
    """The weight of the melody forecast on ``beat`` (:func:`~instrument.models.
    foresight.foresee`): none where the policy holds the chord; where the chord drawn
    will sound through the next beat, :data:`HELD_FORESIGHT` times the policy's
    ``foresight`` when that is certain (``next_held``: the band's style holds it) and
    ``held_foresight`` times it when the policy's weak-beat hold will hold it
    (:func:`holds_next`); else the policy's ``foresight``."""
    if holding(beat, policy, pace):
        return 0.0
    if next_held:
        return policy.foresight * HELD_FORESIGHT
    if holds_next(beat, policy, pace):
        return policy.foresight * policy.held_foresight
    return policy.foresight


def forecast_for(policy: HarmonyPolicy | None, continuation: object | None,
                 model: object | None = None) -> MelodyForecast | None:
    """The melody forecast ``policy`` or ``model`` asks for: one on its own copy of the
    ``continuation`` model (:meth:`~instrument.models.foresight.MelodyForecast.beside`)
    when the policy has foresight or the model reads the forecast as an input
    (:attr:`~instrument.models.accompaniment.NeuralAccompanist.takes_forecast`), else
    None (and nothing is warmed up)."""
    wanted = (policy is not None and policy.foresight > 0) or \
        bool(getattr(model, "takes_forecast", False))
    return MelodyForecast.beside(continuation) if wanted else None


def combine(beat: BeatInput, model: ChordDistribution,
            rules: Callable[[], ChordDistribution], key: tuple[int, bool] | None,
            policy: HarmonyPolicy, pace: float = 0.0) -> ChordDistribution:
    """The distribution to play ``beat`` from (see the module docstring); ``rules``: the
    rule arranger's for the beat, asked for only where the policy may play it (:meth:`~
    instrument.baselines.rules.RuleArranger.chords`); ``pace``: the melody's onsets a
    beat (:class:`MelodyPace`)."""
    prev = beat.previous_chord
    between = _between(beat)
    held = holding(beat, policy, pace)
    if held:
        model = _held(model, prev, policy.weak_hold)
    if policy.rules_between and between and prev is not None:
        theirs = rules()
        if held:
            theirs = _held(theirs, prev, policy.weak_hold_rules)
        if theirs.top().identity != prev.identity:
            return theirs
    if policy.key_weight <= 0 or key is None:
        return model
    logp = log_softmax(model.logp - policy.key_weight * out_of_key_tones(key))
    return ChordDistribution(logp, model.beat_tick, model.previous)


def _held(dist: ChordDistribution, prev: Chord, bonus: float) -> ChordDistribution:
    """``dist`` with ``bonus`` added to the log-probability of ``prev``'s identity."""
    if bonus == 0:
        return dist
    logp = dist.logp + bonus * (IDENTITY[CHORD_INDEX[prev]] == IDENTITY)
    return ChordDistribution(log_softmax(logp), dist.beat_tick, dist.previous)


class ModelWithRules(Accompanist):
    """A model and the rule arranger stepped together every beat, played by
    :func:`combine`, and with a ``forecast`` (:func:`forecast_for`) weighed by the melody
    note it expects in :meth:`look_ahead` (:func:`foresight_weight`; offline evaluation;
    live, the part does the same)."""

    def __init__(self, model: Accompanist, rules, policy: HarmonyPolicy | None = None,
                 forecast: MelodyForecast | None = None) -> None:
        self.model = model
        self.rules = rules
        self.policy = policy or HarmonyPolicy()
        self.forecast = forecast
        # A model that reads the forecast steps it before its own step (shared, not
        # stepped twice), or reads none when this pair has none: given again at every
        # reset, so pairs sharing one model each play it with their own.
        self._reads = bool(getattr(model, "takes_forecast", False))
        self._model_forecasts = forecast is not None and self._reads
        self.harmonic_rhythm = None
        self.pace = MelodyPace()
        self._ahead: np.ndarray | None = None
        self._ahead_weight = 0.0
        self.reset()

    def reset(self) -> None:
        if self._reads:
            self.model.attach_forecast(self.forecast)
        self.model.reset()
        self.rules.reset()
        self.pace.reset()
        if self.forecast is not None and not self._model_forecasts:
            self.forecast.reset()
        self._ahead = None

    def step(self, beat: BeatInput) -> ChordDistribution:
        self.model.harmonic_rhythm = self.rules.harmonic_rhythm = self.harmonic_rhythm
        d_model = self.model.step(beat)
        self.rules.hear(beat)
        pace = self.pace.update(beat)
        if self.forecast is not None:  # stepped every beat
            if not self._model_forecasts:
                self.forecast.observe(beat)
            self._ahead = self.forecast.over_beat
            self._ahead_weight = foresight_weight(beat, self.policy, pace)
        return combine(beat, d_model, self.rules.chords, self.rules.key, self.policy, pace)

    def look_ahead(self, dist: ChordDistribution, recalled: float = 0.0) -> ChordDistribution:
        if self._ahead is None:
            return dist
        return foresee(dist, self._ahead, self._ahead_weight, recalled)

    def sample(self, dist, params, rng):
        return self.model.sample(dist, params, rng)

    @property
    def default_params(self):
        """The model's (its manifest's hold): the pair is drawn from as the model is."""
        return self.model.default_params

    @property
    def deadline_ticks(self) -> int:
        return self.model.deadline_ticks

    @property
    def timer(self):
        return self.model.timer
