"""The accompaniment's tune memory: what it recognises as the same music, what it plays
from it, and that it stays bounded and starts clean.

Melodies are generated here: eighth notes drawn from the tones of a chord progression
(chord tones on the beats, any scale tone between), so their hindsight chords are known
and nothing depends on a model.
"""

from __future__ import annotations

import numpy as np
import pytest

from instrument.evaluation.generators import run_accompanist
from instrument.memory.tune_memory import NO_INTERVAL, MemorySettings, TuneMemory
from instrument.models.accompaniment import (
    Accompanist,
    BeatInput,
    ChordDistribution,
    ChordSamplingParams,
)
from instrument.models.chords import CHORD_INDEX, N_CHORDS, Chord
from instrument.models.tune import Tune
from instrument.music import TICKS_PER_BEAT, GridNote, Meter

M44 = Meter(4, 4)
DEADLINE = 2
EIGHTH = TICKS_PER_BEAT // 2
G_MAJOR = (7, 9, 11, 0, 2, 4, 6)
G, C, D, EM = Chord(7, "maj", 7), Chord(0, "maj", 0), Chord(2, "maj", 2), Chord(4, "min", 4)
PROGRESSION = (G, C, G, D, EM, C, D, G)  # one chord a bar: an eight-bar section


def section(seed: int, chords=PROGRESSION, start_bar: int = 0, shift: int = 0) -> list[GridNote]:
    """Eight eighths a bar: chord tones on the beats, scale tones between (seeded)."""
    rng = np.random.default_rng(seed)
    notes = []
    for bar, chord in enumerate(chords):
        tones = sorted(chord.pitch_classes)
        for k in range(8):
            pcs = tones if k % 2 == 0 else G_MAJOR
            pitch = 67 + (int(rng.choice(pcs)) - 7) % 12
            onset = ((start_bar + bar) * 4) * TICKS_PER_BEAT + k * EIGHTH
            notes.append(GridNote(pitch + shift, onset, EIGHTH))
    return notes


def moved(notes: list[GridNote], bars: int, shift: int = 0) -> list[GridNote]:
    return [GridNote(n.pitch + shift, n.onset + bars * M44.ticks_per_bar, n.duration)
            for n in notes]


def beats_of(melody: list[GridNote]):
    """The melody beat by beat as the live part hands it over: each beat with the notes
    heard by its deadline."""
    i = 0
    for b in range(melody[-1].onset // TICKS_PER_BEAT + 1):
        tick = b * TICKS_PER_BEAT
        start = i
        while i < len(melody) and melody[i].onset < tick - DEADLINE:
            i += 1
        yield BeatInput(tick, M44, tuple(melody[start:i]), None)


def observe(memory: TuneMemory, melody: list[GridNote]) -> list:
    """Feed the melody beat by beat as the live part does; the recollection and the blend
    weight of every beat."""
    out = []
    for beat in beats_of(melody):
        memory.observe(beat)
        out.append((memory.recollection, memory.weight()))
    return out


def recognised(beats: list, lag: int | None = None) -> float:
    """Share of ``beats`` where the memory leads the blend (weighs at least half), from
    ``lag`` beats back if given."""
    ok = [w >= 0.5 and (lag is None or r.lag == lag) for r, w in beats]
    return sum(ok) / len(ok)


SECTION = 8 * 4  # beats


def test_a_repeated_section_is_recognised_after_a_few_beats_and_not_before():
    first = section(1)
    beats = observe(TuneMemory(), first + moved(first, 8))
    assert recognised(beats[:SECTION]) == 0.0  # nothing to remember on the first pass
    assert recognised(beats[SECTION + 8:], lag=SECTION) >= 0.95  # from its third bar on


def test_a_varied_repeat_is_still_taken_for_the_section_it_varies():
    first = section(1)
    rng = np.random.default_rng(7)
    varied = moved(first, 8)
    for bar in range(8):  # one of the eight notes of every bar played differently
        k = bar * 8 + int(rng.integers(1, 8, 1)[0] // 2 * 2 + 1)  # an off-beat note
        varied[k] = GridNote(varied[k].pitch + 2, varied[k].onset, varied[k].duration)
    beats = observe(TuneMemory(), first + varied)
    assert recognised(beats[SECTION + 8:], lag=SECTION) >= 0.8
    exact = observe(TuneMemory(), first + moved(first, 8))
    quality = np.mean([r.quality for r, _ in beats[SECTION + 8:]])
    assert quality < np.mean([r.quality for r, _ in exact[SECTION + 8:]])


def test_a_transposed_repeat_is_recognised_in_its_own_key_with_chords_transposed():
    first = section(1)
    memory = TuneMemory()
    beats = observe(memory, first + moved(first, 8, shift=5))
    late = beats[SECTION + 8:]
    assert recognised(late, lag=SECTION) >= 0.9
    assert all(r.transposition == 5 for r, w in late if w >= 0.5)
    labels = memory.labels
    for b, (r, w) in enumerate(late, start=SECTION + 8):
        remembered = labels[b - SECTION]
        if w >= 0.5 and remembered is not None and r.quality > 0.9:
            assert r.chord.root == (remembered.root + 5) % 12


def test_a_different_tune_is_not_taken_for_the_one_before():
    first = section(1)
    other = section(2, chords=(EM, D, C, G, C, D, G, G), start_bar=8)
    beats = observe(TuneMemory(), first + other)
    assert recognised(beats[SECTION:]) == 0.0  # the model keeps leading throughout
    assert np.mean([w for _, w in beats[SECTION:]]) < 0.05  # chance likeness weighs little


class OneChord(Accompanist):
    """An accompanist that always proposes the same chord (a poor first pass)."""

    def __init__(self, chord: Chord) -> None:
        super().__init__()
        self.chord = chord

    def reset(self) -> None:
        pass

    def step(self, beat: BeatInput) -> ChordDistribution:
        logp = np.full(N_CHORDS, np.log(0.2 / (N_CHORDS - 1)))
        logp[CHORD_INDEX[self.chord]] = np.log(0.8)
        return ChordDistribution(logp, beat.beat_tick, beat.previous_chord)


def note_in_chord(melody: list[GridNote], chords: list[Chord]) -> float:
    hits = [n.pitch % 12 in chords[n.onset // TICKS_PER_BEAT].pitch_classes for n in melody]
    return sum(hits) / len(hits)


def test_the_second_pass_of_a_poorly_harmonized_tune_plays_the_hindsight_chords():
    first = section(3)
    second = moved(first, 8)
    tune = Tune("aa", M44, first + second)
    params = ChordSamplingParams(temperature=0.0)
    memory = TuneMemory()
    chords = run_accompanist(OneChord(C), tune, DEADLINE, params, memory=memory)
    hindsight = memory.labels[:SECTION]
    replayed = chords[SECTION + 8: 2 * SECTION]
    same = [a.identity == b.identity
            for a, b in zip(replayed, hindsight[8:], strict=True) if b is not None]
    assert sum(same) / len(same) >= 0.8
    assert [c.identity for c in chords[:SECTION]].count(C.identity) == SECTION  # all C
    assert note_in_chord(second[16:], chords) >= note_in_chord(first[16:], chords) + 0.3


def test_memory_stays_bounded_over_a_long_session():
    settings = MemorySettings(capacity_beats=128)
    memory = TuneMemory(settings)
    sizes = {k: v.nbytes for k, v in vars(memory).items() if isinstance(v, np.ndarray)}
    melody = []
    for rep in range(60):  # 60 sections, 480 bars, 1920 beats: fifteen times the ring
        melody += section(rep % 3, start_bar=rep * 8)
    beats = observe(memory, melody)
    assert memory.beats == 128 and len(memory.labels) == 128
    assert {k: v.nbytes for k, v in vars(memory).items() if isinstance(v, np.ndarray)} == sizes
    assert len(memory._recent) <= memory._recent.maxlen
    # Still recognises the section it heard three sections (96 beats) ago, inside the ring.
    assert recognised(beats[-SECTION + 8:], lag=3 * SECTION) >= 0.9


def test_a_fresh_tune_starts_clean():
    first = section(1)
    memory = TuneMemory()
    observe(memory, first)
    assert memory.beats > 0
    memory.reset()
    assert memory.beats == 0 and memory.labels == [] and memory.recollection is None
    beats = observe(memory, first)  # the same music again, but in a new tune
    assert recognised(beats) == 0.0


@pytest.mark.parametrize("capacity", [64, 1024])
def test_every_bar_gets_a_hindsight_chord_of_the_key(capacity):
    memory = TuneMemory(MemorySettings(capacity_beats=capacity))
    first = section(4)
    observe(memory, first + moved(first, 8))
    labels = [c for c in memory.labels[:-4] if c is not None]
    assert len(labels) >= min(capacity, 2 * SECTION) - 8
    assert all(c.root in G_MAJOR for c in labels)


def _reference_match(memory: TuneMemory, g: int, lag: int) -> float:
    """The module docstring's ``match`` of beat ``g`` with the beat ``lag`` before, sample
    by sample: the onsets both have with the same interval, over the onsets either has;
    with no onset on either side, half when both sound or are silent alike."""
    n = memory.settings.capacity_beats
    now, then = g % n, (g - lag) % n
    on, past_on = memory._onset[now], memory._onset[then]
    iv, past_iv = memory._interval[now], memory._interval[then]
    events = int((on | past_on).sum())
    if events:
        return int((on & past_on & (iv == past_iv)).sum()) / events
    quiet, past_quiet = iv == NO_INTERVAL, past_iv == NO_INTERVAL
    return 0.5 * float((quiet == past_quiet).all())


def test_the_similarity_follows_its_definition_through_the_ring():
    settings = MemorySettings(capacity_beats=48)
    memory = TuneMemory(settings)
    rng = np.random.default_rng(5)
    melody = [n for rep in range(6) for n in section(rep % 2, start_bar=rep * 8)
              if rng.random() > 0.2]  # gaps: beats where a note is held or nothing sounds
    expected = np.zeros(settings.capacity_beats)
    rho = settings.persistence
    for beat in beats_of(melody):
        memory.observe(beat)
        g = memory._count - 1  # the beat just stored
        for lag in range(1, min(g, settings.capacity_beats - 1) + 1):
            expected[lag] = rho * expected[lag] + (1 - rho) * _reference_match(memory, g, lag)
        np.testing.assert_allclose(memory._similarity, expected, atol=1e-12)
    assert memory._count > 3 * settings.capacity_beats  # the ring wrapped several times


def test_a_bar_is_labelled_after_its_next_downbeat_is_decided_and_settling_changes_nothing():
    """The bar just ended is labelled once the next downbeat's chord is decided
    (``settle``, off the deadline) or, if nothing settled it, at the next beat; the
    recollections are the same either way."""
    melody = section(0) + moved(section(0), 8)
    settled, lazy = TuneMemory(), TuneMemory()
    for beat in beats_of(melody):
        settled.observe(beat)
        lazy.observe(beat)
        a, b = settled.recollection, lazy.recollection
        assert (a is None) == (b is None)
        if a is not None:
            assert (a.lag, a.transposition, a.quality) == (b.lag, b.transposition, b.quality)
            np.testing.assert_array_equal(a.probs, b.probs)
        if beat.beat_tick // TICKS_PER_BEAT == 8:  # bar 2's downbeat: bar 1 just ended
            assert settled.labels[4:8] == [None] * 4
            settled.settle()
            assert None not in settled.labels[4:8]
            assert lazy.labels[4:8] == [None] * 4  # not settled: still waiting
        else:
            settled.settle()
    assert settled.labels[:-4] == lazy.labels[:-4]
