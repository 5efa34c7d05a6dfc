"""The beat and bar over the whole performance, at the recording's close.

While playing, the recording in hindsight (:mod:`instrument.midifile.hindsight`) reads
one bar phase for the whole performance: where the live follower's beats slipped (a beat
gained or lost in a tempo wobble), every bar line after the slip is off by the beats it
slipped; where its beat sat between the player's all along, every note is half a beat
off. At close everything is heard. First, :func:`half_beat_lead` asks the melody whether
the beats belong half a beat later (:func:`half_beat_later`; they move when it says so
by ``HALF_BEAT_MARGIN``). Then :func:`bar_path` reads the bar bar by bar:

1. The recorded beats are cut in chunks of one bar (``bar`` beats of the recorded
   numbering, from the beat before the first onset).
2. A :class:`~instrument.follow.bar.BarReader` with no decay hears every onset on the
   recorded numbering, with the whole tune's key and density style, and gives each
   onset's part of each cue per bar phase (:meth:`~instrument.follow.bar.BarReader.terms`
   with ``per_onset``); weighted with the live weights and summed per chunk, they score
   each phase in each chunk. Where the tune began (the start cue, placed as the
   hindsight reader placed it) counts in the first chunk, and so does the bar
   network's reading of the whole performance (its cue summed over every onset): the
   network reads the phase of a whole tune better than the tables do, but it follows
   the beats it has counted, so after a slip its answers stay with the old bar for a
   while and per chunk they would move the bar where the music did not (on 200 dev
   recordings, bars right: without it 163, in every chunk 164, with SWITCH 40 167, in
   the first chunk 171, and 169 with each onset's answer floored as the live reader
   floors it).
3. A Viterbi path of phases through the chunks: staying costs nothing, moving the bar
   costs ``SWITCH`` (log-likelihood), so the bar moves only where the music insists. A
   path that moves the bar must also beat one phase for the whole performance when
   each onset's network answer counts in its own chunk: else the network's reading,
   spent in the first chunk, would let the bar move away from it after that chunk
   (one dev recording of 200 did: its bar lines right once kept, none lost; validation
   unchanged).
4. The file's beats: the chosen downbeats on the recorded numbering, ``bar`` file beats
   evenly between consecutive ones (where the bar moved, the bar across the move holds
   the recorded beats between its downbeats: a bar played as the player played it, a
   little faster or slower in the file), whole recorded beats before the first and after
   the last.

With one phase for the whole performance the path is the hindsight reader's reading
(the same cues, the same weights), and nothing changes. The cost is one pass of the
reader's cues over every onset and a Viterbi over bars x phases: 65-160 ms for ten
minutes of a reel (5,100 onsets; 2-vCPU VM shared with other work), and the whole close
of such a recording, the file laid again, about 0.2 s; the bar network's pass over the
onsets adds about 0.5 s to that (5,184 onsets of a reel: 28-65 ms without it, 570-600
ms with it, the same quiet VM). Runs once, at close, on the recorder's thread.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Sequence

import numpy as np

from instrument.follow.bar import TERMS, BarReader
from instrument.follow.prior import INTERVAL_CODES, interval_code, tick_class
from instrument.follow.prior_data import MELODY
from instrument.music import TICKS_PER_BEAT, Meter

#: Log-likelihood a new bar phase must gain to move the bar (once). Chosen on the dev
#: split (200 recordings, issue-17 renders, ``python -m training.evaluate_recording
#: --split dev``): 10: 80.5 % bars right (one gained, one lost); 15, 20 and 25: 81.0 %
#: (one gained, none lost); 40: 80.5 % (none moved); without a path: 80.5 %. Capping
#: each bar's evidence (at 2 or 4 a bar, the switch scaled alike) lost 3-11 recordings;
#: chunks of half a bar (even bars) changed nothing at 20 and lost one at 10.
SWITCH = 20.0
#: Log-likelihood the melody's motion must gain on beats half a beat later for the whole
#: file's beats to move there (:func:`half_beat_lead`). On the dev split (200
#: recordings) the files whose bars were right would gain at most 6.2 (9 of 161 gain at
#: all); the one whose live beat sat between the played ones nearly all through gains
#: 21.5 (its bars right once moved); three half a beat off for part of the tune gain
#: 20.1 (moved, still wrong: partly off either way), 2.8 and 2.8.
HALF_BEAT_MARGIN = 10.0


def bar_path(beats: np.ndarray, chords: Sequence[tuple[float, int, float]], meter: Meter,
             snap: int, start_tick: int | None = None,
             switch: float = SWITCH) -> tuple[np.ndarray, int, np.ndarray]:
    """Read the bar chunk by chunk over recorded ``beats`` (times, one per recorded
    beat) from ``chords`` (time, highest pitch, accent; sorted), heard on ticks rounded
    to ``snap``; ``start_tick``: where the tune began for the start cue, in ticks of the
    recorded numbering (None: the first chord's).

    Returns the file's beat times, the index of the first of them that is a downbeat
    (modulo the bar), and the phase chosen in each chunk (recorded beats modulo the bar).
    """
    bar = meter.beats_per_bar
    beats = np.asarray(beats, dtype=float)
    t = np.array([c[0] for c in chords], dtype=float)
    x = _index(beats, t)
    first = max(0, math.floor(x[0]))  # no bar before the recording's first beat
    chunks = max(1, math.ceil((x[-1] + 1.0 - first) / bar))
    chunk = np.clip(np.floor((x - first) / bar).astype(np.int64), 0, chunks - 1)

    reader = BarReader(meter, len(t), 1.0)
    ticks = np.round(x * TICKS_PER_BEAT / snap).astype(np.int64) * snap
    for k, (when, pitch, accent) in enumerate(chords):
        reader.hear(int(ticks[k]), float(when), int(pitch), float(accent), score=False)
    weights = reader.weights
    used = {name for name in TERMS if getattr(weights, name)}
    rows = reader.terms(used - {"net"}, per_onset=True)
    per_onset = sum(getattr(weights, name) * part for name, part in rows.items())
    score = np.zeros((chunks, bar))
    np.add.at(score, chunk, per_onset)
    if start_tick is not None:
        reader.first[0] = start_tick
    whole = reader.terms({"start"} | ({"net"} & used))
    score[0] += weights.start * np.asarray(whole["start"], dtype=float)
    # The phases of the reader's rows: row r says beats r, r + bar... are downbeats.
    order = np.argsort(reader.tables.phase)
    anchored = score.copy()
    if "net" in whole:
        anchored[0] += weights.net * np.asarray(whole["net"], dtype=float)
    phases = _viterbi(anchored[:, order], switch)
    if "net" in whole and np.any(phases != phases[0]):
        # The network's reading of the whole tune, in the first chunk, anchors only that
        # chunk: a path may keep it there and move the bar where the network, onset by
        # onset, does not. It stands only if it explains every chunk better than one
        # phase does, with each onset's answer counted in its own chunk.
        net = np.zeros((chunks, bar))
        np.add.at(net, chunk, weights.net * reader.terms({"net"}, per_onset=True)["net"])
        each = (score + net)[:, order]
        moves = np.count_nonzero(np.diff(phases))
        if each[np.arange(chunks), phases].sum() - switch * moves <= each.sum(axis=0).max():
            phases = np.full(chunks, int(np.argmax(each.sum(axis=0))))
    return (*_file_beats(beats, phases, first, bar), phases)


def half_beat_lead(beats: np.ndarray, chords: Sequence[tuple[float, int, float]],
                   compound: bool) -> float:
    """How much likelier the melody's motion is on beats half a beat after the recorded
    ones than on the recorded ones: the summed log-ratio of each note's intervals into
    and out of it at its place in the beat (the follower's table,
    :func:`~instrument.follow.prior.rhythm_prior`'s ``melody``: a leap lands on the
    beat, a passing note falls between), on the grid of :func:`half_beat_later` less on
    ``beats``."""
    melody = np.asarray(MELODY["compound" if compound else "simple"])
    pitch = [c[1] for c in chords]
    if len(pitch) < 3:
        return 0.0
    codes = np.array([interval_code(b - a) * INTERVAL_CODES + interval_code(c - b)
                      for a, b, c in zip(pitch, pitch[1:], pitch[2:], strict=False)])
    t = np.array([c[0] for c in chords[1:-1]], dtype=float)
    lead = 0.0
    for grid, sign in ((half_beat_later(beats), 1.0), (beats, -1.0)):
        ticks = np.round(_index(grid, t) * TICKS_PER_BEAT).astype(np.int64) % TICKS_PER_BEAT
        places = np.array([tick_class(int(k), compound) for k in ticks])
        lead += sign * float(melody[places, codes].sum())
    return lead


def half_beat_later(beats: np.ndarray) -> np.ndarray:
    """Beats halfway between the recorded ones, from half a beat before the first to
    half a beat after the last."""
    beats = np.asarray(beats, dtype=float)
    mid = 0.5 * (beats[:-1] + beats[1:])
    return np.concatenate([[beats[0] - 0.5 * (beats[1] - beats[0])], mid,
                           [beats[-1] + 0.5 * (beats[-1] - beats[-2])]])


def _index(beats: np.ndarray, t: np.ndarray) -> np.ndarray:
    """The recorded beat numbers at times ``t``."""
    return _extended(t, beats, np.arange(len(beats), dtype=float))


def _time(beats: np.ndarray, x: np.ndarray) -> np.ndarray:
    """The time of recorded beat numbers ``x`` (fractional)."""
    return _extended(x, np.arange(len(beats), dtype=float), beats)


def _extended(x: np.ndarray, xp: np.ndarray, fp: np.ndarray) -> np.ndarray:
    """``np.interp(x, xp, fp)``, continued beyond either end along the end segment (the
    first and last beat's tempo beyond the beats)."""
    x = np.asarray(x, dtype=float)
    out = np.interp(x, xp, fp)
    lo, hi = x < xp[0], x > xp[-1]
    out[lo] = fp[0] + (x[lo] - xp[0]) * (fp[1] - fp[0]) / (xp[1] - xp[0])
    out[hi] = fp[-1] + (x[hi] - xp[-1]) * (fp[-1] - fp[-2]) / (xp[-1] - xp[-2])
    return out


def _viterbi(score: np.ndarray, switch: float) -> np.ndarray:
    """The best path of states through ``score`` ([chunk, state]) where a change of
    state costs ``switch``."""
    chunks, states = score.shape
    total = score[0].copy()
    back = np.zeros((chunks, states), dtype=np.int64)
    for c in range(1, chunks):
        best = int(np.argmax(total))
        stay = total >= total[best] - switch
        back[c] = np.where(stay, np.arange(states), best)
        total = np.where(stay, total, total[best] - switch) + score[c]
    path = [int(np.argmax(total))]
    for c in range(chunks - 1, 0, -1):
        path.append(int(back[c][path[-1]]))
    return np.array(path[::-1], dtype=np.int64)


def _file_beats(beats: np.ndarray, phases: np.ndarray, first: int,
                bar: int) -> tuple[np.ndarray, int]:
    """The file's beat times for the chosen phase of each chunk (module doc, 4), and
    the index of a downbeat among them modulo the bar."""
    downs: list[int] = []
    for c, phase in enumerate(phases):
        lo = first + c * bar
        d = lo + (int(phase) - lo) % bar
        if not downs or d - downs[-1] >= (bar + 1) // 2:
            downs.append(d)
        # else the bar moved on by less than half a bar: the bar before the move holds
        # the beats up to the chunk's next downbeat.
    x: list[float] = list(range(0, downs[0]))
    for a, b in itertools.pairwise(downs):
        x.extend(a + (b - a) * j / bar for j in range(bar))
    x.extend(range(downs[-1], max(len(beats), downs[-1] + 1)))
    return _time(beats, np.asarray(x, dtype=float)), max(0, downs[0]) % bar
