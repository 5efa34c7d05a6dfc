"""Online accompaniment: the per-beat interface, the beat encoding, and the neural model.

An :class:`Accompanist` is stepped once per beat, at that beat's planning deadline,
with a :class:`BeatInput`: the melody notes that began since the previous step and
before this deadline, where the beat to plan sits in the bar, and the chord that was
played on the previous beat (its own output fed back, or the fallback's). It answers
with a :class:`ChordDistribution` over :data:`~instrument.models.chords.CHORD_VOCAB`;
:meth:`Accompanist.sample` draws the chord to play. The neural model
(:class:`NeuralAccompanist`) and the rule arranger
(:class:`instrument.baselines.rules.RuleArranger`) share this interface; step both every
beat so either can play it.

Harmonic rhythm is steerable two ways, both usable live: ``harmonic_rhythm`` (target
chord changes per beat, or None to follow the style of the melody) conditions the model,
and ``ChordSamplingParams.hold`` (0..1, 0.5 neutral) shifts the probability of keeping
the previous chord. Sampling decides in two steps, change or keep, then which chord
(:func:`sample_chord`), so greedy decoding changes chords as often as the model expects.

Real-time rules: ``step`` and ``sample`` run on the engine thread, never in the audio or
MIDI callback. ``NeuralAccompanist.step`` is exactly one ONNX run, after the melody
forecast's steps when the model reads one (:meth:`NeuralAccompanist.attach_forecast`).
"""

from __future__ import annotations

import time
from abc import ABC, abstractmethod
from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING

import numpy as np

from instrument.models.chords import (
    CHORD_INDEX,
    CHORD_VOCAB,
    IDENTITY,
    N_CHORDS,
    NO_CHORD,
    Chord,
    scale_chord_mask,
)
from instrument.models.keys import KeyTracker
from instrument.models.manifest import ModelManifest
from instrument.models.melody import meter_index
from instrument.models.runtime import OnnxStepper
from instrument.models.sampling import log_softmax, logsumexp, sample_index
from instrument.music import TICKS_PER_BEAT, GridNote, Meter
from instrument.realtime.histogram import TimingHistogram

if TYPE_CHECKING:
    from instrument.models.foresight import MelodyForecast

#: Input-only chord index for "nothing played yet".
START = N_CHORDS
MAX_BEATS = 8
MAX_ONSETS = 7
#: Edges of the harmonic-rhythm buckets (changes per beat); bucket 0 means "unset".
RHYTHM_EDGES = (0.2, 0.35, 0.5, 0.65, 0.8)
N_RHYTHM = len(RHYTHM_EDGES) + 2
BEAT_INT_COLUMNS = ("previous_chord", "beat_in_bar", "meter", "last_pc", "onsets", "rhythm")
BEAT_FLOAT_COLUMNS = tuple(f"sounding_{i}" for i in range(12)) + tuple(
    f"onset_{i}" for i in range(12)
)
ENCODING_NAME = "beat-features/1"
#: The extended encoding: the columns above plus the key heard so far (a causal
#: :class:`~instrument.models.keys.KeyTracker`, 24 = none yet) and the bar's place in an
#: eight-bar phrase (bar index mod 8, bar 0 = the first bar line).
ENCODING_NAME_V2 = "beat-features/2"
BEAT_INT_COLUMNS_V2 = (*BEAT_INT_COLUMNS, "key", "bar_in_phrase")
PHRASE_BARS = 8
#: The melody forecast encoding: beat-features/2's columns plus, per pitch class, the
#: melody onsets of the same beat one, two and four bars back (what the tune did at this
#: place in the bar before: folk tunes repeat in bars, two-bar sequences and phrases).
ENCODING_NAME_V3 = "beat-features/3"
BARS_BACK = (1, 2, 4)
BEAT_FLOAT_COLUMNS_V3 = BEAT_FLOAT_COLUMNS + tuple(
    f"bar_back{k}_onset_{i}" for k in BARS_BACK for i in range(12))
#: The foresight encoding: beat-features/3's columns plus the pitch classes the melody
#: forecast expects of the next note (:attr:`BeatInput.forecast`; zeros when there is
#: none: the model is trained with some forecasts left out, so it plays without one).
ENCODING_NAME_V4 = "beat-features/4"
BEAT_FLOAT_COLUMNS_V4 = BEAT_FLOAT_COLUMNS_V3 + tuple(f"forecast_{i}" for i in range(12))
#: Where the forecast sits in the foresight encoding's float row.
FORECAST_COLUMNS = slice(len(BEAT_FLOAT_COLUMNS_V3), len(BEAT_FLOAT_COLUMNS_V4))
ENCODINGS = {ENCODING_NAME: BEAT_INT_COLUMNS, ENCODING_NAME_V2: BEAT_INT_COLUMNS_V2,
             ENCODING_NAME_V3: BEAT_INT_COLUMNS_V2, ENCODING_NAME_V4: BEAT_INT_COLUMNS_V2}
FLOAT_COLUMNS = {ENCODING_NAME: BEAT_FLOAT_COLUMNS, ENCODING_NAME_V2: BEAT_FLOAT_COLUMNS,
                 ENCODING_NAME_V3: BEAT_FLOAT_COLUMNS_V3,
                 ENCODING_NAME_V4: BEAT_FLOAT_COLUMNS_V4}
#: Beats of onsets the forecast remembers (four bars of the longest bar, and then some).
ONSET_MEMORY = 64


@dataclass(frozen=True)
class BeatInput:
    """What an accompanist knows when it must decide a beat.

    ``beat_tick``: grid tick of the beat to plan (bar 0 starts at tick 0).
    ``notes``: melody notes that began after the previous step's deadline and before
    this one's, in onset order; their durations are ignored (not known yet).
    ``previous_chord``: the chord that sounds on the previous beat (None at the start).
    ``forecast``: the probability of each pitch class (12) for the melody's next note,
    as the melody forecast expects it at this deadline (:class:`~instrument.models.
    foresight.MelodyForecast`), or None; only the foresight encoding reads it.
    """

    beat_tick: int
    meter: Meter
    notes: tuple[GridNote, ...] = ()
    previous_chord: Chord | None = None
    forecast: np.ndarray | None = field(default=None, compare=False)


@dataclass(frozen=True)
class ChordSamplingParams:
    """``temperature`` 0 is greedy. ``hold`` 0..1: 0.5 neutral, 1 keeps the previous chord
    almost always, 0 avoids it. ``pitch_classes``: only chords whose tones all lie in
    the set (a key or scale constraint; ignored if no chord fits)."""

    temperature: float = 1.0
    top_p: float = 0.95
    hold: float = 0.5
    pitch_classes: frozenset[int] | None = None

    def __post_init__(self) -> None:
        if not 0.0 <= self.hold <= 1.0:
            raise ValueError(f"hold must be in [0, 1], got {self.hold}")
        if self.temperature < 0 or not 0 < self.top_p <= 1:
            raise ValueError("temperature must be >= 0 and top_p in (0, 1]")


@dataclass(frozen=True)
class ChordDistribution:
    """Log-probabilities over CHORD_VOCAB for the beat at ``beat_tick``."""

    logp: np.ndarray
    beat_tick: int
    previous: Chord | None

    def top(self) -> Chord:
        return CHORD_VOCAB[int(np.argmax(self.logp))]


def with_sounding(dist: ChordDistribution, sounding: np.ndarray) -> ChordDistribution:
    """``dist`` with its sounding chords (every chord but :data:`NO_CHORD`, index 0)
    weighed as the log-weights ``sounding`` say, their total kept: the odds of playing
    no chord at all (before the melody, after it) stay ``dist``'s. ``dist`` itself when
    it has no sounding chord or ``sounding`` leaves none."""
    mass = logsumexp(dist.logp[1:])
    total = logsumexp(sounding)
    if not (np.isfinite(mass) and np.isfinite(total)):
        return dist
    logp = dist.logp.copy()
    logp[1:] = sounding - total + mass
    return ChordDistribution(logp, dist.beat_tick, dist.previous)


def without_chords(dist: ChordDistribution, left_out: np.ndarray) -> ChordDistribution:
    """``dist`` with the chords ``left_out`` (a mask over :data:`CHORD_VOCAB`) taken out
    and the other sounding chords raised in their place (:func:`with_sounding`: the
    silent chord's odds stay the model's; raising it with the rest left the band silent
    on beats where it then came in off the bar line); ``dist`` itself when nothing else
    would sound."""
    return with_sounding(dist, np.where(left_out[1:], -np.inf, dist.logp[1:]))


def hold_bonus(hold: float) -> float:
    """Log-odds added to the probability of keeping the previous chord (0 at hold=0.5)."""
    h = min(max(hold, 1e-4), 1 - 1e-4)
    return float(np.clip(2.0 * np.log(h / (1.0 - h)), -8.0, 8.0))


def density_hold(density: float, neutral: float = 0.5) -> float:
    """The ``hold`` for the density control (0 sparse .. 1 busy) around an accompanist's
    own ``neutral`` hold (its manifest's ``sampling.hold``): their log-odds add, so the
    middle of the control (0.5) plays the hold the model was measured with, a sparser
    setting holds more and a busier one less; kept within 0.05..0.95."""
    def logit(x: float) -> float:
        x = min(max(x, 1e-4), 1 - 1e-4)
        return float(np.log(x / (1.0 - x)))

    h = 1.0 / (1.0 + np.exp(-(logit(neutral) + logit(1.0 - density))))
    return float(min(0.95, max(0.05, h)))


def change_probability(dist: ChordDistribution, hold: float = 0.5) -> float:
    """P(the chord changes on this beat): one minus the mass of the previous chord's
    identity (any bass), with the ``hold`` bias applied in log-odds. 1.0 at the start."""
    prev = dist.previous
    if prev is None:
        return 1.0
    if hold >= 1.0 or hold <= 0.0:  # the knob's ends are absolute: keep, or change
        return 0.0 if hold >= 1.0 else 1.0
    p = np.exp(dist.logp)
    p_hold = float(p[IDENTITY[CHORD_INDEX[prev]] == IDENTITY].sum())
    p_hold = min(max(p_hold, 1e-9), 1.0 - 1e-9)
    log_odds = np.log(p_hold / (1.0 - p_hold)) + hold_bonus(hold)
    return float(1.0 / (1.0 + np.exp(log_odds)))


def sample_chord(
    dist: ChordDistribution, params: ChordSamplingParams, rng: np.random.Generator
) -> Chord:
    """Draw a chord in two decisions: keep the previous chord or change, then which one.

    First, change with :func:`change_probability` (the ``hold`` knob shifts it); then
    draw among the previous chord's inversions (keep) or among all other chords
    (change), with temperature, top-p and the key constraint. At temperature 0 both
    decisions are greedy: change when that is more likely than not, then the most
    likely chord. Deciding in two steps keeps greedy decoding from holding forever: the
    previous chord is rarely more likely than "some other chord", but often more likely
    than each one of them. Consumes exactly two ``rng`` draws.
    """
    u = rng.random()
    allowed = None if params.pitch_classes is None else scale_chord_mask(params.pitch_classes)
    if allowed is not None and not allowed.any():
        allowed = None  # no chord fits the key: any may play
    mask = allowed
    prev = dist.previous
    if prev is not None:
        same = IDENTITY[CHORD_INDEX[prev]] == IDENTITY
        p_change = change_probability(dist, params.hold)
        change = p_change > 0.5 if params.temperature == 0 else u < p_change
        if allowed is not None and not (same & allowed).any():
            change = True  # the previous chord is outside the allowed key
        if allowed is not None and not (~same & allowed).any():
            change = False
        branch = ~same if change else same
        mask = branch if allowed is None or not (allowed & branch).any() else allowed & branch
    i = sample_index(dist.logp, rng, params.temperature, params.top_p, mask)
    return CHORD_VOCAB[i]


def rhythm_bucket(changes_per_beat: float | None) -> int:
    if changes_per_beat is None:
        return 0
    return 1 + int(np.searchsorted(RHYTHM_EDGES, changes_per_beat, side="right"))


class BeatEncoder:
    """Turns each :class:`BeatInput` into the model's two input rows. Stateful, causal.

    Integer row (:data:`BEAT_INT_COLUMNS`): previous chord index (:data:`START` when
    none), beat in bar (capped at 7), meter index, pitch class of the latest melody note
    (12 when none), onsets in the window (capped at 7), harmonic-rhythm bucket.
    Float row (:data:`BEAT_FLOAT_COLUMNS`): per pitch class, the beats it has sounded
    within the window (a monophonic melody sounds each note until the next onset or the
    deadline), then per pitch class the onsets in the window (1 on a beat, 0.5 off it).
    The window runs from the previous step's deadline to this one's,
    ``beat_tick - deadline_ticks``. With ``encoding`` :data:`ENCODING_NAME_V2` the integer
    row also carries the key heard so far (updated with this window's sounding pitch
    classes) and the bar's place in an eight-bar phrase; :data:`ENCODING_NAME_V3` adds
    to the float row the melody onsets per pitch class of the same beat one, two and
    four bars back (:data:`BARS_BACK`; zeros before the tune began), each note counted
    in the beat it began in once it has been heard; :data:`ENCODING_NAME_V4` adds the
    beat's :attr:`BeatInput.forecast` (zeros without one).
    """

    def __init__(self, deadline_ticks: int, encoding: str = ENCODING_NAME) -> None:
        if encoding not in ENCODINGS:
            raise ValueError(f"unknown beat encoding {encoding!r}")
        self.deadline_ticks = deadline_ticks
        self.encoding = encoding
        self.columns = ENCODINGS[encoding]
        self.float_columns = FLOAT_COLUMNS[encoding]
        self.keys = None if encoding == ENCODING_NAME else KeyTracker()
        self.bars_back = encoding in (ENCODING_NAME_V3, ENCODING_NAME_V4)
        self.foresight = encoding == ENCODING_NAME_V4
        self.reset()

    def reset(self) -> None:
        self._last: GridNote | None = None
        self._prev_deadline: int | None = None
        if self.keys is not None:
            self.keys.reset()
        # Ring of onsets per beat: row beat % ONSET_MEMORY, valid where _beat_of matches.
        self._onsets = np.zeros((ONSET_MEMORY, 12), dtype=np.float32)
        self._beat_of = np.full(ONSET_MEMORY, -1, dtype=np.int64)

    def save(self) -> tuple:
        """Everything :meth:`encode` advances, copied, to go back to with :meth:`restore`."""
        keys = None if self.keys is None else (self.keys.histogram.copy(), self.keys.key)
        return (self._last, self._prev_deadline, keys, self._onsets.copy(),
                self._beat_of.copy())

    def restore(self, saved: tuple) -> None:
        """Go back to what :meth:`save` returned (it can be restored again)."""
        self._last, self._prev_deadline, keys, onsets, beat_of = saved
        if self.keys is not None and keys is not None:
            self.keys.histogram, self.keys.key = keys[0].copy(), keys[1]
        self._onsets, self._beat_of = onsets.copy(), beat_of.copy()

    def encode(self, beat: BeatInput, rhythm: int) -> tuple[np.ndarray, np.ndarray]:
        """The (int row, float row) for one beat; advances the window."""
        deadline = beat.beat_tick - self.deadline_ticks
        start = deadline - TICKS_PER_BEAT if self._prev_deadline is None else self._prev_deadline
        floats = np.zeros(len(self.float_columns), dtype=np.float32)
        seq = ([self._last] if self._last is not None else []) + list(beat.notes)
        for i, n in enumerate(seq):
            end = seq[i + 1].onset if i + 1 < len(seq) else deadline
            span = min(end, deadline) - max(n.onset, start)
            if span > 0:
                floats[n.pitch % 12] += span / TICKS_PER_BEAT
        for n in beat.notes:
            floats[12 + n.pitch % 12] += 1.0 if n.onset % TICKS_PER_BEAT == 0 else 0.5
        if beat.notes:
            self._last = beat.notes[-1]
        self._prev_deadline = deadline
        prev = START if beat.previous_chord is None else CHORD_INDEX[beat.previous_chord]
        beat_in_bar = (beat.beat_tick // TICKS_PER_BEAT) % beat.meter.beats_per_bar
        row = [
            prev,
            min(beat_in_bar, MAX_BEATS - 1),
            meter_index(beat.meter),
            12 if self._last is None else self._last.pitch % 12,
            min(len(beat.notes), MAX_ONSETS),
            rhythm,
        ]
        if self.keys is not None:
            self.keys.update(floats[:12].astype(np.float64))
            bar = beat.beat_tick // beat.meter.ticks_per_bar
            row += [self.keys.index, bar % PHRASE_BARS]
        if self.bars_back:
            self._remember_onsets(beat.notes)
            b = beat.beat_tick // TICKS_PER_BEAT
            for j, k in enumerate(BARS_BACK):
                back = b - k * beat.meter.beats_per_bar
                slot = back % ONSET_MEMORY
                if back >= 0 and self._beat_of[slot] == back:
                    floats[24 + 12 * j: 36 + 12 * j] = self._onsets[slot]
        if self.foresight and beat.forecast is not None:
            floats[FORECAST_COLUMNS] = beat.forecast
        return np.array(row, dtype=np.int64), floats

    def _remember_onsets(self, notes: tuple[GridNote, ...]) -> None:
        for n in notes:
            b = n.onset // TICKS_PER_BEAT
            slot = b % ONSET_MEMORY
            if self._beat_of[slot] != b:
                self._beat_of[slot] = b
                self._onsets[slot] = 0.0
            self._onsets[slot, n.pitch % 12] += 1.0


def encoding_spec(deadline_ticks: int, name: str = ENCODING_NAME) -> dict:
    return {
        "name": name,
        "ticks_per_beat": TICKS_PER_BEAT,
        "int_columns": list(ENCODINGS[name]),
        "float_columns": list(FLOAT_COLUMNS[name]),
        "chords": [c.name for c in CHORD_VOCAB],
        "start_chord": START,
        "rhythm_edges": list(RHYTHM_EDGES),
        "max_beats": MAX_BEATS,
        "max_onsets": MAX_ONSETS,
        "deadline_ticks_before_beat": deadline_ticks,
    }


class Accompanist(ABC):
    """Per-beat chord predictor shared by the neural model and the rule arranger."""

    #: Target chord changes per beat, or None to follow the melody's style. Settable live.
    harmonic_rhythm: float | None = None
    #: How this accompanist's chords are drawn unless told otherwise (the neural model:
    #: its manifest's ``sampling``, hold included); greedy with a neutral hold here.
    default_params: ChordSamplingParams = ChordSamplingParams(temperature=0.0)

    @abstractmethod
    def reset(self) -> None:
        """Forget the melody and the chords (a new piece)."""

    @abstractmethod
    def step(self, beat: BeatInput) -> ChordDistribution:
        """Take the melody heard up to this beat's deadline; return odds for its chord.

        Call it for every beat, in order, even when the result comes too late to be
        played: each call consumes that beat's notes and advances the state.
        """

    def sample(
        self, dist: ChordDistribution, params: ChordSamplingParams, rng: np.random.Generator
    ) -> Chord:
        """Draw the chord to play (see :func:`sample_chord`); commits nothing."""
        return sample_chord(dist, params, rng)

    def look_ahead(self, dist: ChordDistribution, recalled: float = 0.0) -> ChordDistribution:
        """The last step's distribution (after the tune memory's blend, which recalls
        this music as clearly as ``recalled``, 0..1) weighed by the melody this
        accompanist expects on the beat; unchanged unless it has foresight
        (:class:`~instrument.models.harmony.ModelWithRules` with a forecast)."""
        return dist

    def decoding(self, temperature: float = 0.0) -> ChordSamplingParams:
        """Its :attr:`default_params` (hold, top-p) at ``temperature``: how an evaluator
        draws this accompanist's chords, as the live part does."""
        return replace(self.default_params, temperature=temperature)


class NeuralAccompanist(Accompanist):
    """The ONNX accompaniment model behind the :class:`Accompanist` interface."""

    def __init__(self, manifest: ModelManifest, session) -> None:
        self.stepper = OnnxStepper(manifest, session)
        self.manifest = manifest
        self.deadline_ticks = int(manifest.encoding["deadline_ticks_before_beat"])
        self.encoder = BeatEncoder(self.deadline_ticks,
                                   str(manifest.encoding.get("name", ENCODING_NAME)))
        self.harmonic_rhythm = None
        d = manifest.sampling
        self.default_params = ChordSamplingParams(
            temperature=float(d.get("temperature", 1.0)),
            top_p=float(d.get("top_p", 0.95)),
            hold=float(d.get("hold", 0.5)),
        )
        # How the model plays with the rule arranger (instrument.models.harmony), when
        # the manifest names it: the setting it was chosen and measured with.
        from instrument.models.harmony import HarmonyPolicy

        policy = d.get("harmony_policy")
        self.policy = HarmonyPolicy(**policy) if isinstance(policy, dict) else None
        self._ints = np.zeros((1, len(self.encoder.columns)), dtype=np.int64)
        self._floats = np.zeros((1, len(self.encoder.float_columns)), dtype=np.float32)
        self.forecast: MelodyForecast | None = None  # see attach_forecast
        self.forecast_timer = TimingHistogram()  # each beat's forecast, inside step

    @property
    def timer(self):
        return self.stepper.timer

    @property
    def takes_forecast(self) -> bool:
        """Whether its encoding reads the melody forecast (:data:`ENCODING_NAME_V4`)."""
        return self.encoder.foresight

    def attach_forecast(self, forecast: MelodyForecast | None) -> None:
        """Step ``forecast`` with every beat before the model's own step and give the
        model its answer (:attr:`BeatInput.forecast`; what the policy weighs is the
        forecast's :attr:`~instrument.models.foresight.MelodyForecast.over_beat`).
        Only a model that :attr:`takes_forecast` is given one; without it, such a model
        reads no forecast (zeros) and plays as it learned to without one."""
        self.forecast = forecast if self.takes_forecast else None

    def reset(self) -> None:
        self.stepper.reset_state()
        self.encoder.reset()
        if self.forecast is not None:
            self.forecast.reset()

    def save(self) -> tuple:
        """The streaming context (the network's state, the encoder's window and key, the
        attached forecast's context), copied, to go back to with :meth:`restore` after a
        step taken for a beat that turned out otherwise."""
        forecast = self.forecast.save() if self.forecast is not None else None
        return self.stepper.get_state(), self.encoder.save(), forecast

    def restore(self, saved: tuple) -> None:
        """Go back to a context :meth:`save` returned."""
        state, encoder, forecast = saved
        self.stepper.set_state(state)
        self.encoder.restore(encoder)
        if self.forecast is not None and forecast is not None:
            self.forecast.restore(forecast)

    def step(self, beat: BeatInput) -> ChordDistribution:
        if self.forecast is not None:
            t0 = time.perf_counter()
            next_note = self.forecast.observe(beat)
            self.forecast_timer.record(time.perf_counter() - t0)
            beat = BeatInput(beat.beat_tick, beat.meter, beat.notes, beat.previous_chord,
                             next_note)  # dataclasses.replace, without its overhead
        ints, floats = self.encoder.encode(beat, rhythm_bucket(self.harmonic_rhythm))
        self._ints[0, :] = ints
        self._floats[0, :] = floats
        out = self.stepper.run_step({"beat_ints": self._ints, "beat_floats": self._floats})
        return ChordDistribution(
            log_softmax(out["chord_logits"][0]), beat.beat_tick, beat.previous_chord
        )

    def warm_up(self, steps: int = 32) -> None:
        """Throwaway steps before the first beat is planned; then reset, timer cleared."""
        meter = Meter(4, 4)
        prev = None
        for i in range(steps):
            tick = (i + 1) * TICKS_PER_BEAT
            note = GridNote(60 + (i * 7) % 12, tick - TICKS_PER_BEAT, TICKS_PER_BEAT)
            prev = self.step(BeatInput(tick, meter, (note,), prev)).top()
        self.reset()
        self.stepper.timer.reset()
        self.forecast_timer.reset()


__all__ = [
    "NO_CHORD",
    "Accompanist",
    "BeatEncoder",
    "BeatInput",
    "ChordDistribution",
    "ChordSamplingParams",
    "NeuralAccompanist",
    "density_hold",
    "rhythm_bucket",
    "sample_chord",
]
