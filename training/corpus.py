"""Extraction of melodies, chorales and chord-labelled tunes from music21's bundled corpora.

Everything here runs once and is cached as gzipped JSON under ``training/cache/`` (no
pickle), keyed by the extractor version and the music21 version, so repeated training
runs start in about a second. Parsing is spread over worker processes with a progress bar.

What is extracted, all on the metrical grid of :mod:`instrument.music` (12 ticks a beat,
bar 0 starting at tick 0, pickups shifted so bar lines fall on multiples of the bar):

- ``folk``: monophonic melodies from Essen (``essenFolksong``), O'Neill's 1850
  (``oneills1850``) and Ryan's Mammoth Collection (``ryansMammoth``).
- ``chorales``: the 371 Bach chorales of ``corpus.chorales.Iterator`` that have exactly
  four parts: soprano as the melody, alto, tenor and bass as the accompaniment.
- ``chordsym``: tunes whose chords are written as chord symbols: the Nottingham reels
  file and the two lead sheets in ``leadSheet``.

Tunes with several time signatures, free meter, fewer than 8 notes, or more than 2 % of
notes off the 12-tick grid are dropped. Meters in halves (2/2, 3/2, 4/2) are read as the
same bar in quarters (4/4, 6/4, 8/4) so sixteenths stay on the grid. Repeats are not
expanded; notes are read as written.
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

EXTRACTOR_VERSION = 3
CACHE_DIR = pathlib.Path(__file__).resolve().parent / "cache"
FOLK_COLLECTIONS = ("essenFolksong", "oneills1850", "ryansMammoth")
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


def _notes_of(stream, tpq: int, shift_ql: Fraction, chord_symbols: bool = False):
    """(pitch, onset, duration) triples of a part, monophonic top line; count of off-grid."""
    from music21 import harmony

    out: list[tuple[int, int, int]] = []
    off_grid = 0
    for n in stream.stripTies(inPlace=False).flatten().notes:
        if isinstance(n, harmony.ChordSymbol) or n.duration.isGrace:
            continue
        ql = Fraction(n.quarterLength)
        if ql <= 0:
            continue
        pitch = n.pitch.midi if n.isNote else max(p.midi for p in n.pitches)
        on, ok1 = _to_ticks(Fraction(n.offset) + shift_ql, tpq)
        dur, ok2 = _to_ticks(ql, tpq)
        off_grid += (not ok1) + (not ok2)
        out.append((int(pitch), on, max(1, dur)))
    return out, off_grid


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


def _pickup_shift(part) -> Fraction:
    measures = part.getElementsByClass("Measure")
    if not measures:
        return Fraction(0)
    return Fraction(measures[0].paddingLeft or 0)


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
    """One folk tune as a JSON-able record, or None when it is not usable."""
    meter = _meter_of(score)
    if meter is None or not score.parts:
        return None
    tpq = ticks_per_quarter(*meter)
    part = score.parts[0]
    notes, off_grid = _notes_of(part, tpq, _pickup_shift(part))
    if len(notes) < MIN_NOTES or off_grid > 0.02 * 2 * len(notes):
        return None
    return {
        "collection": collection,
        "source": source,
        "title": _title(score, source),
        "meter": f"{meter[0]}/{meter[1]}",
        "melody": _monophonic(notes),
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
    shift = _pickup_shift(parts[0])
    voices = []
    for part in parts:
        notes, off_grid = _notes_of(part, tpq, shift)
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
        }
    ]


def _chord_symbol_tunes(path: str) -> list[dict]:
    """Tunes with chord symbols: melody plus per-symbol (onset, root pc, bass pc, pcs)."""
    from music21 import converter, harmony, stream

    parsed = converter.parse(path, forceSource=True)
    scores = parsed.scores if isinstance(parsed, stream.Opus) else [parsed]
    rel = str(pathlib.Path(path).relative_to(corpus_root()))
    out = []
    for i, score in enumerate(scores):
        meter = _meter_of(score)
        if meter is None:
            continue
        tpq = ticks_per_quarter(*meter)
        part = score.parts[0]
        shift = _pickup_shift(part)
        notes, off_grid = _notes_of(part, tpq, shift)
        symbols = []
        for cs in part.stripTies(inPlace=False).flatten().getElementsByClass(harmony.ChordSymbol):
            if cs.root() is None or not cs.pitches:
                continue
            on, _ = _to_ticks(Fraction(cs.offset) + shift, tpq)
            pcs = sorted({p.pitchClass for p in cs.pitches})
            symbols.append([on, cs.root().pitchClass, cs.bass().pitchClass, pcs, cs.figure])
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
