"""Extraction of melodies, chorales and chord-labelled tunes from music21's bundled corpora.

Everything here runs once and is cached as gzipped JSON under ``training/cache/`` (no
pickle), keyed by the extractor version and the music21 version, so repeated training
runs start in about a second. Parsing is spread over worker processes with a progress bar.

What is extracted, all on the metrical grid of :mod:`instrument.music` (12 ticks a beat,
bar 0 starting at tick 0, pickups shifted so bar lines fall on multiples of the bar):

- ``folk``: monophonic melodies from Essen (``essenFolksong``), O'Neill's 1850
  (``oneills1850``), Ryan's Mammoth Collection (``ryansMammoth``), Aird's Airs
  (``airdsAirs``) and the two fife and minstrelsy books of ``miscFolk``.
- ``chorales``: the 371 Bach chorales of ``corpus.chorales.Iterator`` that have exactly
  four parts: soprano as the melody, alto, tenor and bass as the accompaniment.
- ``chordsym``: tunes whose chords are written as chord symbols: the Nottingham reels
  file and the two lead sheets in ``leadSheet``.

Tunes with several time signatures, free meter, fewer than 8 notes, or more than 2 % of
notes off the 12-tick grid are dropped. Meters in halves (2/2, 3/2, 4/2) are read as the
same bar in quarters (4/4, 6/4, 8/4) so sixteenths stay on the grid.

Repeats are expanded (music21's ``expandRepeats``), so every tune is stored as played:
an ABC end-repeat with no start-repeat before it, after an earlier end-repeat, repeats
from just after that earlier one (as abc2midi reads it; music21 alone would go back to
the start), and the measures are laid out again so that every full measure starts on a
bar line (an anacrusis written again after a full first-ending bar is dropped rather
than shifting the rest of the tune by its length; see :func:`measure_starts`). A score
whose repeats music21 cannot expand is read as written. Each record keeps, per played
measure, its start tick and its written measure number (``measures``), so a played bar
can be traced to the written one.
"""

from __future__ import annotations

import gzip
import json
import multiprocessing as mp
import os
import pathlib
from collections.abc import Iterable
from fractions import Fraction

from tqdm import tqdm

EXTRACTOR_VERSION = 4
CACHE_DIR = pathlib.Path(__file__).resolve().parent / "cache"
FOLK_COLLECTIONS = ("essenFolksong", "oneills1850", "ryansMammoth", "airdsAirs", "miscFolk")
MIN_NOTES = 8


def _music21():
    import music21

    return music21


def corpus_root() -> pathlib.Path:
    return pathlib.Path(_music21().__file__).parent / "corpus"


def grid_meter(ratio: str) -> tuple[int, int] | None:
    """The (numerator, denominator) a time signature is read as, or None if unusable."""
    try:
        num_s, den_s = ratio.split("/")
        num, den = int(num_s), int(den_s)
    except ValueError:
        return None
    if den == 2:
        num, den = num * 2, den * 2
    if not (1 <= num <= 16 and den in (4, 8, 16)):
        return None
    return num, den


def ticks_per_quarter(num: int, den: int) -> int:
    """Grid ticks in a quarter note: the beat is 4/den quarters, or 12/den if compound."""
    compound = den == 8 and num % 3 == 0 and num > 3
    return den if compound else 3 * den


def _to_ticks(ql: Fraction, tpq: int) -> tuple[int, bool]:
    t = Fraction(ql) * tpq
    return round(t), t.denominator == 1


def _measure_length(m) -> Fraction:
    return Fraction(m.duration.quarterLength)


def measure_starts(lengths: list[Fraction], bar: Fraction) -> list[Fraction]:
    """Where each measure of a played sequence starts, in quarters from bar 0.

    A short first measure is an anacrusis: it ends on the first bar line. Every other
    measure follows the one before, except that a full measure always starts on a bar
    line: when the measures before leave it off the grid (a pickup written again after a
    full first-ending bar, a part-bar that does not add up), it moves to the nearest bar
    line, the earlier one on a tie. Moving back overlaps the measure before, whose notes
    from that point on are then dropped by the caller.
    """
    starts: list[Fraction] = []
    pos = Fraction(0)
    for i, length in enumerate(lengths):
        if i == 0 and 0 < length < bar:
            start = bar - length
        elif length >= bar and pos % bar:
            lo = (pos // bar) * bar
            start = lo if pos - lo <= lo + bar - pos else lo + bar
        else:
            start = pos
        starts.append(start)
        pos = start + length
    return starts


def _notes_of(measures, starts: list[Fraction], tpq: int):
    """A part laid out at ``starts``: (pitch, onset, duration) triples, off-grid count, and
    chord symbols as (onset, root pc, bass pc, pcs, figure).

    ``measures``: the part's measures in played order (ties already stripped). Notes and
    symbols of a measure that start at or after the next measure's start (an overlap made
    by :func:`measure_starts`) are dropped.
    """
    from music21 import harmony

    out: list[tuple[int, int, int]] = []
    symbols: list[list] = []
    off_grid = 0
    for m, start in zip(measures, starts, strict=True):
        begin, _ = _to_ticks(start, tpq)
        out = [n for n in out if n[1] < begin]
        symbols = [c for c in symbols if c[0] < begin]
        for n in m.flatten().notes:
            if isinstance(n, harmony.ChordSymbol):
                if n.root() is not None and n.pitches:
                    on, _ = _to_ticks(start + Fraction(n.offset), tpq)
                    pcs = sorted({p.pitchClass for p in n.pitches})
                    symbols.append([on, n.root().pitchClass, n.bass().pitchClass, pcs, n.figure])
                continue
            if n.duration.isGrace:
                continue
            ql = Fraction(n.quarterLength)
            if ql <= 0:
                continue
            pitch = n.pitch.midi if n.isNote else max(p.midi for p in n.pitches)
            on, ok1 = _to_ticks(start + Fraction(n.offset), tpq)
            dur, ok2 = _to_ticks(ql, tpq)
            off_grid += (not ok1) + (not ok2)
            out.append((int(pitch), on, max(1, dur)))
    return out, off_grid, symbols


def _mark_implicit_repeat_starts(score) -> None:
    """Give each section that ends in an end-repeat with no start-repeat its start-repeat.

    ABC players repeat such a section from just after the previous end-repeat (or from
    the start for the first one); music21's expander would go back to the start.
    Measures under a repeat bracket (first and second endings) are skipped over when
    finding where the next section begins.
    """
    from music21 import bar, spanner

    for part in score.parts:
        measures = list(part.getElementsByClass("Measure"))
        in_bracket = {id(m) for rb in part.spanners.getElementsByClass(spanner.RepeatBracket)
                      for m in rb.getSpannedElements()}
        section_start = None  # first measure after the previous end-repeat
        has_start = True  # the first section may start at the top
        for i, m in enumerate(measures):
            left = m.leftBarline
            if isinstance(left, bar.Repeat) and left.direction == "start":
                has_start = True
            right = m.rightBarline
            if isinstance(right, bar.Repeat) and right.direction == "end":
                if not has_start and section_start is not None:
                    section_start.leftBarline = bar.Repeat(direction="start")
                has_start = False
                j = i + 1
                while j < len(measures) and id(measures[j]) in in_bracket:
                    j += 1
                section_start = measures[j] if j < len(measures) else None


def _has_repeats(score) -> bool:
    from music21 import bar

    return any(isinstance(b, bar.Repeat)
               for b in score.parts[0].recurse().getElementsByClass(bar.Barline))


def played(score):
    """The score with its repeats expanded (see the module doc), and whether it was."""
    if not _has_repeats(score):
        return score, False
    try:
        _mark_implicit_repeat_starts(score)
        return score.expandRepeats(), True
    except Exception:  # music21's expander raises several types on odd repeat marks
        return score, False


def _layout(score, tpq: int) -> tuple[list, list[Fraction], list[list[int]]]:
    """Per part, its played measures (ties stripped); their starts; the measure record."""
    from music21 import stream

    parts = [p.stripTies(inPlace=False) for p in score.parts]
    measures = [list(p.getElementsByClass(stream.Measure)) for p in parts]
    ts = score.recurse().getElementsByClass("TimeSignature").first()
    bar = Fraction(ts.barDuration.quarterLength)
    starts = measure_starts([_measure_length(m) for m in measures[0]], bar)
    record = [[_to_ticks(s, tpq)[0], int(m.number or 0)] for s, m in zip(starts, measures[0],
                                                                        strict=True)]
    return measures, starts, record


def _monophonic(notes: list[tuple[int, int, int]]) -> list[list[int]]:
    """Sort by onset, keep the highest of simultaneous notes, cut overlaps at the next onset."""
    by_onset: dict[int, tuple[int, int, int]] = {}
    for n in notes:
        if n[1] not in by_onset or n[0] > by_onset[n[1]][0]:
            by_onset[n[1]] = n
    seq = [by_onset[k] for k in sorted(by_onset)]
    out = []
    for i, (p, on, dur) in enumerate(seq):
        if i + 1 < len(seq):
            dur = min(dur, seq[i + 1][1] - on)
        out.append([p, on, max(1, dur)])
    return out


def _meter_of(score) -> tuple[int, int] | None:
    ratios = {ts.ratioString for ts in score.recurse().getElementsByClass("TimeSignature")}
    if len(ratios) != 1:
        return None
    return grid_meter(ratios.pop())


def _title(score, fallback: str) -> str:
    md = score.metadata
    title = (md.title if md is not None else None) or fallback
    number = md.number if md is not None else None
    return f"{title} #{number}" if number else str(title)


def melody_record(score, collection: str, source: str) -> dict | None:
    """One folk tune, as played (repeats expanded), as a JSON-able record, or None when it
    is not usable."""
    meter = _meter_of(score)
    if meter is None or not score.parts:
        return None
    tpq = ticks_per_quarter(*meter)
    score, expanded = played(score)
    measures, starts, record = _layout(score, tpq)
    notes, off_grid, _ = _notes_of(measures[0], starts, tpq)
    if len(notes) < MIN_NOTES or off_grid > 0.02 * 2 * len(notes):
        return None
    return {
        "collection": collection,
        "source": source,
        "title": _title(score, source),
        "meter": f"{meter[0]}/{meter[1]}",
        "melody": _monophonic(notes),
        "repeats_expanded": expanded,
        "measures": record,
    }


def _parse_file(args: tuple[str, str]) -> list[dict]:
    collection, path = args
    from music21 import converter, stream

    try:
        parsed = converter.parse(path, format="abc", forceSource=True)
    except Exception as exc:  # music21 raises many types on malformed ABC
        return [{"error": f"{path}: {type(exc).__name__}: {exc}"}]
    scores = parsed.scores if isinstance(parsed, stream.Opus) else [parsed]
    rel = str(pathlib.Path(path).relative_to(corpus_root()))
    out = []
    for i, score in enumerate(scores):
        try:
            rec = melody_record(score, collection, f"{rel}#{i}")
        except Exception as exc:
            rec = {"error": f"{rel}#{i}: {type(exc).__name__}: {exc}"}
        if rec is not None:
            out.append(rec)
    return out


def _chorale(name: str) -> list[dict]:
    from music21 import corpus

    try:
        score = corpus.parse(name)
    except Exception as exc:
        return [{"error": f"{name}: {type(exc).__name__}: {exc}"}]
    parts = list(score.parts)
    meter = _meter_of(score)
    if len(parts) != 4 or meter is None:
        return []
    tpq = ticks_per_quarter(*meter)
    score, expanded = played(score)
    measures, starts, record = _layout(score, tpq)
    if len(measures) != 4 or any(len(m) != len(measures[0]) for m in measures):
        return []
    voices = []
    for part_measures in measures:
        notes, off_grid, _ = _notes_of(part_measures, starts, tpq)
        if off_grid > 0.02 * 2 * max(1, len(notes)):
            return []
        voices.append(_monophonic(notes))
    if len(voices[0]) < MIN_NOTES:
        return []
    lower = [[p, on, d, v] for v, notes in enumerate(voices[1:], start=1) for p, on, d in notes]
    return [
        {
            "collection": "bachChorales",
            "source": name,
            "title": _title(score, name),
            "meter": f"{meter[0]}/{meter[1]}",
            "melody": voices[0],
            "accompaniment": sorted(lower, key=lambda n: (n[1], n[3])),
            "repeats_expanded": expanded,
            "measures": record,
        }
    ]


def _chord_symbol_tunes(path: str) -> list[dict]:
    """Tunes with chord symbols: melody plus per-symbol (onset, root pc, bass pc, pcs)."""
    from music21 import converter, stream

    parsed = converter.parse(path, forceSource=True)
    scores = parsed.scores if isinstance(parsed, stream.Opus) else [parsed]
    rel = str(pathlib.Path(path).relative_to(corpus_root()))
    out = []
    for i, score in enumerate(scores):
        meter = _meter_of(score)
        if meter is None:
            continue
        tpq = ticks_per_quarter(*meter)
        score, expanded = played(score)
        measures, starts, record = _layout(score, tpq)
        notes, off_grid, symbols = _notes_of(measures[0], starts, tpq)
        if len(notes) < MIN_NOTES or not symbols or off_grid > 0.02 * 2 * len(notes):
            continue
        out.append(
            {
                "collection": "chordSymbols",
                "source": f"{rel}#{i}",
                "title": _title(score, rel),
                "meter": f"{meter[0]}/{meter[1]}",
                "melody": _monophonic(notes),
                "chord_symbols": sorted(symbols, key=lambda s: s[0]),
                "repeats_expanded": expanded,
                "measures": record,
            }
        )
    return out


def _run_pool(fn, jobs: list, desc: str, workers: int) -> list[dict]:
    records: list[dict] = []
    errors = 0
    if workers <= 1:
        results: Iterable = map(fn, jobs)
        pool = None
    else:
        pool = mp.get_context("spawn").Pool(workers)
        results = pool.imap_unordered(fn, jobs)
    try:
        for batch in tqdm(results, total=len(jobs), desc=desc, unit="file"):
            for rec in batch:
                if "error" in rec:
                    errors += 1
                else:
                    records.append(rec)
    finally:
        if pool is not None:
            pool.close()
            pool.join()
    if errors:
        print(f"{desc}: {errors} files or tunes could not be parsed and were skipped")
    records.sort(key=lambda r: r["source"])
    return records


def _cache_path(kind: str) -> pathlib.Path:
    return CACHE_DIR / f"{kind}-v{EXTRACTOR_VERSION}-m21_{_music21().__version__}.json.gz"


def _cached(kind: str, build) -> list[dict]:
    path = _cache_path(kind)
    if path.exists():
        with gzip.open(path, "rt", encoding="utf-8") as f:
            return json.load(f)
    records = build()
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".tmp")
    with gzip.open(tmp, "wt", encoding="utf-8") as f:
        json.dump(records, f, separators=(",", ":"))
    os.replace(tmp, path)
    return records


def default_workers() -> int:
    return max(1, min(2, os.cpu_count() or 1))


def folk_tunes(workers: int | None = None, tiny: bool = False) -> list[dict]:
    """All usable folk melodies (Essen, O'Neill, Ryan), extracted once and cached.

    ``tiny``: only the two smallest files of each collection (a few dozen tunes), for
    smoke runs that must not parse the whole corpus.
    """

    def build() -> list[dict]:
        root = corpus_root()
        jobs = []
        for c in FOLK_COLLECTIONS:
            paths = sorted((root / c).glob("*.abc"))
            if tiny:
                paths = sorted(paths, key=lambda p: (os.path.getsize(p), p.name))[:2]
            jobs.extend((c, str(p)) for p in paths)
        # Big files first so the pool stays busy to the end.
        jobs.sort(key=lambda j: -os.path.getsize(j[1]))
        return _run_pool(_parse_file, jobs, "folk melodies", workers or default_workers())

    return _cached("folk-tiny" if tiny else "folk", build)


def chorales(workers: int | None = None, tiny: bool = False) -> list[dict]:
    """The four-part Bach chorales: soprano melody, alto/tenor/bass accompaniment.

    ``tiny``: the first 24 chorales of the iterator only.
    """

    def build() -> list[dict]:
        from music21 import corpus

        names = list(corpus.chorales.Iterator(returnType="filename"))
        if tiny:
            names = names[:24]
        return _run_pool(_chorale, names, "bach chorales", workers or default_workers())

    return _cached("chorales-tiny" if tiny else "chorales", build)


def chord_symbol_tunes() -> list[dict]:
    """Nottingham reels and the lead sheets, with their chord symbols."""

    def build() -> list[dict]:
        root = corpus_root()
        paths = [
            root / "nottingham-dataset" / "reelsa-c.abc",
            *sorted((root / "leadSheet").glob("*")),
        ]
        return _run_pool(_chord_symbol_tunes, [str(p) for p in paths], "chord symbols", 1)

    return _cached("chordsym", build)


def main() -> None:
    sources = (("folk", folk_tunes), ("chorales", chorales), ("chordsym", chord_symbol_tunes))
    for name, fn in sources:
        recs = fn()
        print(f"{name}: {len(recs)} tunes, {sum(len(r['melody']) for r in recs)} melody notes")


if __name__ == "__main__":
    main()
