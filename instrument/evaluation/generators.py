"""Teacher-forced, causal evaluation of continuation and accompaniment, with and without
what the instrument learns during a tune, beside the baselines.

Used by ``instrument evaluate DIR`` and by the training scripts (validation metrics in
the manifests come from these functions, run on the exported ONNX files through the
same runtime classes the engine uses).

**First and repeated passes.** Every figure is given for the whole tune and split by
pass (:func:`repeated_bars`): a bar is *repeated* when it and the bar before it were
both played before, together: some earlier pair of consecutive bars has at least
:data:`REPEAT_SIMILARITY` of the same notes (same pitch, same place in the two bars,
counted against the fuller of the two windows). Everything else is a *first pass*. The
definition reads only the notes as played, so it works alike for a corpus tune whose
repeat signs were expanded and for a MIDI file, which has none; a varied repeat counts
as repeated when most of its notes are the same, a transposed passage does not, and the
first bar of a repeated section counts as a first pass (nothing has shown yet that the
section is coming round again). The split only sorts the scores; no model sees it.

Continuation, per melody note: the generator is stepped with the true notes so far and
scored on the true next note. ``top1``: share of notes whose pitch is the most likely
one; ``nll_bits``: mean negative log2-probability of the pitch; ``rhythm_nll_bits``: the
same for the rest and duration classes. A generator with ``learn_next`` (the Markov
baseline, :class:`~instrument.memory.adaptive.AdaptiveContinuator`) also learns each
note online *after* it is scored; its ``forget_online`` is called between tunes, so it
adapts within each tune only.

Accompaniment, per beat: the accompanist runs online over the melody, stepped at each
beat's deadline (``beat - deadline_ticks``) with the melody notes that began before it
and with its own previous chord fed back; chords are drawn greedily (temperature 0)
unless a seed and temperature are given, with the accompanist's own ``hold`` (the
manifest's ``sampling.hold``), as the live part draws them. With a
:class:`~instrument.memory.tune_memory.TuneMemory` (reset between tunes), the memory
observes each beat's notes and its recollection is blended into the distribution before
the chord is drawn, as the live part does; a beat's own notes reach the memory only when
the next beat is planned, so nothing is learned before it is scored. ``note_in_chord``:
share of melody notes whose pitch class sounds in the accompaniment at their onset,
counting only notes during which the accompaniment sounds (``coverage`` is the share of
notes counted). ``change_rate``: share of beat boundaries, from the first melody beat to
the last, where the chord (root and quality) changes. ``max_pitch_classes``: the most
pitch classes any chord played sounds at once; ``four_pitch_class_share``: the share of
the beats a chord sounds on, from the first melody beat, whose chord has four pitch
classes or more (a seventh holds more of any melody). For a reference accompaniment (a second
MIDI track) chords are labelled per beat from the pitches sounding at the beat, and
note-in-chord uses the reference pitches sounding at each melody onset.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field

import numpy as np

from instrument.baselines.markov import MarkovContinuator
from instrument.baselines.rules import RuleArranger
from instrument.memory.adaptive import AdaptiveContinuator
from instrument.memory.tune_memory import MemorySettings, TuneMemory
from instrument.models import melody as enc
from instrument.models.accompaniment import Accompanist, BeatInput, ChordSamplingParams
from instrument.models.chords import NO_CHORD, Chord, fit_chord
from instrument.models.continuation import Continuator
from instrument.models.tune import Tune
from instrument.music import TICKS_PER_BEAT, GridNote

LN2 = math.log(2.0)
#: Share of equal notes for two two-bar windows to count as the same music.
REPEAT_SIMILARITY = 0.8
PASSES = ("first", "repeated")


def _bar_windows(tune: Tune) -> list[set[tuple[int, int]]]:
    """Per bar, the (onset in the two-bar window, pitch) of the notes in it and the bar
    before it."""
    tpb = tune.meter.ticks_per_bar
    n_bars = (tune.melody[-1].onset // tpb + 1) if tune.melody else 0
    bars: list[list[tuple[int, int]]] = [[] for _ in range(n_bars)]
    for n in tune.melody:
        bars[n.onset // tpb].append((n.onset % tpb, n.pitch))
    windows = []
    for k in range(n_bars):
        before = bars[k - 1] if k > 0 else []
        windows.append({*before, *((on + tpb, p) for on, p in bars[k])})
    return windows


def repeated_bars(tune: Tune) -> list[bool]:
    """Per bar of the melody, whether it is a repeated pass (see the module doc)."""
    windows = _bar_windows(tune)
    out = []
    for k, w in enumerate(windows):
        found = False
        if w and k > 0:
            for a in range(1, k):
                other = windows[a]
                if other and len(w & other) >= REPEAT_SIMILARITY * max(len(w), len(other)):
                    found = True
                    break
        out.append(found)
    return out


def note_passes(tune: Tune) -> list[str]:
    """"first" or "repeated" for each melody note, from its bar."""
    rep = repeated_bars(tune)
    tpb = tune.meter.ticks_per_bar
    return [PASSES[int(rep[n.onset // tpb])] for n in tune.melody]


def beat_passes(tune: Tune, n_beats: int) -> list[str]:
    """"first" or "repeated" for beats 0..n_beats-1, from their bar (first past the end)."""
    rep = repeated_bars(tune)
    bpb = tune.meter.beats_per_bar
    return [PASSES[int(b // bpb < len(rep) and rep[b // bpb])] for b in range(n_beats)]


@dataclass
class _NoteTally:
    n: int = 0
    correct: int = 0
    nll: float = 0.0
    rhythm_nll: float = 0.0

    def result(self) -> dict[str, float]:
        if self.n == 0:
            return {"top1": float("nan"), "nll_bits": float("nan"),
                    "rhythm_nll_bits": float("nan"), "notes": 0}
        return {"top1": self.correct / self.n, "nll_bits": self.nll / self.n / LN2,
                "rhythm_nll_bits": self.rhythm_nll / self.n / LN2, "notes": self.n}


def continuation_metrics(continuator: Continuator, tunes: Sequence[Tune]) -> dict:
    """Teacher-forced next-note metrics over ``tunes``, whole and per pass (module doc)."""
    online = hasattr(continuator, "learn_next")
    tallies = {k: _NoteTally() for k in ("all", *PASSES)}
    for tune in tunes:
        if online:
            continuator.forget_online()
        continuator.reset()
        dist = continuator.step(None, tune.meter)
        prev_end = None
        for note, pass_ in zip(tune.melody, note_passes(tune), strict=True):
            target = enc.pitch_index(note.pitch)
            rest = enc.first_rest(note.onset, tune.meter) if prev_end is None else (
                note.onset - prev_end
            )
            hit = int(np.argmax(dist.pitch) == target)
            nll = -dist.pitch[target]
            rhythm = -dist.rest[enc.rest_index(rest)] - dist.duration[
                enc.duration_index(note.duration)]
            for key in ("all", pass_):
                t = tallies[key]
                t.n += 1
                t.correct += hit
                t.nll += nll
                t.rhythm_nll += rhythm
            if online:
                continuator.learn_next(note, tune.meter)
            dist = continuator.step(note, tune.meter)
            prev_end = note.onset + note.duration
    out = tallies["all"].result()
    out.update({k: tallies[k].result() for k in PASSES})
    return out


def beat_range(tune: Tune) -> range:
    """Beats from the one holding the first melody onset to the one holding the last."""
    if not tune.melody:
        return range(0)
    first = tune.melody[0].onset // TICKS_PER_BEAT
    last = tune.melody[-1].onset // TICKS_PER_BEAT
    return range(first, last + 1)


def heard_by_deadline(tune: Tune, deadline_ticks: int
                      ) -> Iterator[tuple[int, tuple[GridNote, ...]]]:
    """Each beat's tick, from beat 0 to the tune's last melody beat, with the melody notes
    that began after the previous beat's deadline and before its own (``deadline_ticks``
    before the beat): what the accompaniment is handed for that beat, live and here."""
    notes = tune.melody
    i = 0
    for b in range(beat_range(tune).stop):
        tick = b * TICKS_PER_BEAT
        start = i
        while i < len(notes) and notes[i].onset < tick - deadline_ticks:
            i += 1
        yield tick, tuple(notes[start:i])


def run_accompanist(
    accompanist: Accompanist,
    tune: Tune,
    deadline_ticks: int,
    params: ChordSamplingParams | None = None,
    rng: np.random.Generator | None = None,
    memory: TuneMemory | None = None,
) -> list[Chord]:
    """Chords for beats 0..last melody beat, planned online (one step per beat); with a
    ``memory`` (reset first), its recollection blended in as the live part does. Without
    ``params``, greedy with the accompanist's own hold and top-p (its manifest's
    ``sampling``, :meth:`~instrument.models.accompaniment.Accompanist.decoding`)."""
    params = params or accompanist.decoding(0.0)
    rng = rng or np.random.default_rng(0)
    accompanist.reset()
    if memory is not None:
        memory.reset()
    prev: Chord | None = None
    chords = []
    for beat_tick, heard in heard_by_deadline(tune, deadline_ticks):
        beat = BeatInput(beat_tick, tune.meter, heard, prev)
        dist = accompanist.step(beat)
        recalled = 0.0
        if memory is not None:
            memory.observe(beat)
            dist = memory.blend(dist)
            recalled = memory.recall()
        dist = accompanist.look_ahead(dist, recalled)
        prev = accompanist.sample(dist, params, rng)
        if memory is not None:
            memory.settle()  # as live: after the decision
        chords.append(prev)
    return chords


@dataclass
class _Tally:
    hits: int = 0
    counted: int = 0
    notes: int = 0
    changes: int = 0
    boundaries: int = 0
    max_pitch_classes: int = 0
    sounding_beats: int = 0
    four_pitch_class_beats: int = 0
    identities: set = field(default_factory=set)
    per_tune_distinct: list[int] = field(default_factory=list)

    def add_note(self, pcs: Sequence[int] | set[int], pitch: int) -> None:
        self.notes += 1
        if pcs:
            self.counted += 1
            self.hits += int(pitch % 12 in pcs)
            self.max_pitch_classes = max(self.max_pitch_classes, len(pcs))

    def result(self) -> dict[str, float]:
        return {
            "note_in_chord": self.hits / self.counted if self.counted else float("nan"),
            "change_rate": self.changes / self.boundaries if self.boundaries else float("nan"),
            "coverage": self.counted / self.notes if self.notes else float("nan"),
            "max_pitch_classes": self.max_pitch_classes,
            "four_pitch_class_share": self.four_pitch_class_beats / self.sounding_beats
            if self.sounding_beats else float("nan"),
            "distinct_chords": len(self.identities),
            "distinct_chords_per_tune": float(np.mean(self.per_tune_distinct))
            if self.per_tune_distinct
            else float("nan"),
            "notes": self.notes,
        }


class _PassTallies:
    """One tally for the whole and one per pass."""

    def __init__(self) -> None:
        self.tallies = {k: _Tally() for k in ("all", *PASSES)}

    def add_note(self, pass_: str, pcs, pitch: int) -> None:
        for k in ("all", pass_):
            self.tallies[k].add_note(pcs, pitch)

    def add_chords(self, tune: Tune, chords: Sequence[Chord]) -> None:
        beats = beat_range(tune)
        passes = beat_passes(tune, beats.stop)
        span = [chords[b] if b < len(chords) else NO_CHORD for b in beats]
        for a, b, beat in zip(span, span[1:], list(beats)[1:], strict=False):
            for k in ("all", passes[beat]):
                self.tallies[k].boundaries += 1
                self.tallies[k].changes += int(a.identity != b.identity)
        for chord, beat in zip(span, beats, strict=True):
            if not chord.is_silent:
                for k in ("all", passes[beat]):
                    self.tallies[k].sounding_beats += 1
                    self.tallies[k].four_pitch_class_beats += int(len(chord.pitch_classes) >= 4)
        ids = {c.identity for c in span if not c.is_silent}
        widest = max((len(c.pitch_classes) for c in span), default=0)
        for t in self.tallies.values():
            t.identities |= ids
            t.max_pitch_classes = max(t.max_pitch_classes, widest)
        self.tallies["all"].per_tune_distinct.append(len(ids))

    def result(self) -> dict:
        out: dict = self.tallies["all"].result()
        for k in PASSES:
            r = self.tallies[k].result()
            out[k] = {key: r[key] for key in ("note_in_chord", "change_rate", "coverage",
                                              "four_pitch_class_share", "notes")}
        return out


def _score_chords(tally: _PassTallies, tune: Tune, chords: Sequence[Chord]) -> None:
    for note, pass_ in zip(tune.melody, note_passes(tune), strict=True):
        b = note.onset // TICKS_PER_BEAT
        chord = chords[b] if 0 <= b < len(chords) else NO_CHORD
        tally.add_note(pass_, chord.pitch_classes, note.pitch)
    tally.add_chords(tune, chords)


def accompaniment_metrics(
    accompanist: Accompanist,
    tunes: Sequence[Tune],
    deadline_ticks: int,
    params: ChordSamplingParams | None = None,
    seed: int = 0,
    memory: TuneMemory | None = None,
) -> dict:
    """Online accompaniment metrics over ``tunes``, whole and per pass (micro-averaged;
    see module doc); with ``memory``, adapting within each tune."""
    tally = _PassTallies()
    rng = np.random.default_rng(seed)
    for tune in tunes:
        chords = run_accompanist(accompanist, tune, deadline_ticks, params, rng, memory)
        _score_chords(tally, tune, chords)
    return tally.result()


def _sounding(notes: Sequence, tick: int) -> list[int]:
    return [n.pitch for n in notes if n.onset <= tick < n.onset + n.duration]


def reference_chords(tune: Tune) -> list[Chord]:
    """Per-beat chords labelled from the reference accompaniment (and melody) at each beat."""
    chords = []
    for b in range(beat_range(tune).stop):
        tick = b * TICKS_PER_BEAT
        acc = _sounding(tune.accompaniment, tick)
        if not acc:
            chords.append(NO_CHORD)
            continue
        weights = np.zeros(12, dtype=np.float32)
        for p in acc + _sounding(tune.melody, tick):
            weights[p % 12] += 1.0
        chords.append(fit_chord(weights, bass=min(acc)))
    return chords


def reference_metrics(tunes: Sequence[Tune]) -> dict | None:
    """Metrics of the reference accompaniments, or None when no tune has one."""
    with_ref = [t for t in tunes if t.accompaniment]
    if not with_ref:
        return None
    tally = _PassTallies()
    for tune in with_ref:
        for note, pass_ in zip(tune.melody, note_passes(tune), strict=True):
            pcs = {p % 12 for p in _sounding(tune.accompaniment, note.onset)}
            tally.add_note(pass_, pcs, note.pitch)
        tally.add_chords(tune, reference_chords(tune))
    out = tally.result()
    out["files"] = len(with_ref)
    return out


def continuation_comparison(
    neural: Continuator, new_markov: Callable[[], MarkovContinuator], tunes: Sequence[Tune],
) -> dict:
    """The published continuation rows: ``adaptive`` (the neural model mixed with the
    online Markov model and the copy model, :class:`~instrument.memory.adaptive.
    AdaptiveContinuator`, as the live part plays), ``model`` (the neural model alone)
    and ``markov`` (the online Markov baseline); ``new_markov`` makes a fresh Markov
    model with the shipped prior."""
    return {
        "adaptive": continuation_metrics(AdaptiveContinuator(neural, new_markov()), tunes),
        "model": continuation_metrics(neural, tunes),
        "markov": continuation_metrics(new_markov(), tunes),
    }


def as_played(neural: Accompanist, deadline_ticks: int,
              continuation: object | None = None) -> Accompanist:
    """The model as the live part plays it: with the rule arranger and its manifest's
    harmony policy when it names one (:mod:`instrument.models.harmony`), else alone;
    with a policy's foresight, the forecast of the ``continuation`` model (a
    :class:`~instrument.models.continuation.NeuralContinuator`; the live part has one
    whenever that model loaded), else none. A model that reads the forecast as an input
    is given it (:meth:`~instrument.models.accompaniment.NeuralAccompanist.
    attach_forecast`; with the rules, again at each reset of the pair), and keeps it when
    stepped alone."""
    from instrument.models.harmony import ModelWithRules, forecast_for

    policy = getattr(neural, "policy", None)
    forecast = forecast_for(policy, continuation, neural)
    if policy is None:
        if getattr(neural, "takes_forecast", False):
            neural.attach_forecast(forecast)  # None: it reads none
        return neural
    return ModelWithRules(neural, RuleArranger(deadline_ticks), policy, forecast)


def accompaniment_comparison(
    neural: Accompanist,
    tunes: Sequence[Tune],
    deadline_ticks: int,
    temperature: float = 0.0,
    seed: int = 0,
    memory: MemorySettings | None = None,
    continuation: object | None = None,
) -> dict:
    """The published accompaniment rows: ``adaptive`` (the model with the tune memory,
    as the live part plays), ``model`` (alone), ``rules_adaptive`` (the fallback with the
    memory), ``rules`` (the rule arranger alone) and ``reference`` (a second track, or
    None). A model with a harmony policy (:mod:`instrument.models.harmony`) plays
    ``adaptive`` with it, as live (with its foresight, from the ``continuation`` model),
    and adds ``policy``: with it, without the memory. Each accompanist draws at
    ``temperature`` with its own hold (the model: its manifest's)."""
    rules = RuleArranger(deadline_ticks)

    def score(accompanist: Accompanist, adaptive: bool) -> dict:
        mem = TuneMemory(memory) if adaptive else None
        return accompaniment_metrics(accompanist, tunes, deadline_ticks,
                                     accompanist.decoding(temperature), seed, mem)

    played = as_played(neural, deadline_ticks, continuation)
    extra = {} if played is neural else {"policy": score(played, False)}
    return {
        "adaptive": score(played, True),
        "model": score(neural, False),
        **extra,
        "rules_adaptive": score(rules, True),
        "rules": score(rules, False),
        "reference": reference_metrics(tunes),
    }
