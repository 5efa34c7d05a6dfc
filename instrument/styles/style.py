"""A style: how the band plays the chords, as a small TOML file a musician can read.

A style gives each band part a *line* per section. A line is a bar of steps separated
by blanks (``|`` separates bars when a line is longer than one bar); a bar's steps
divide its beats evenly: ``"x . x ."`` in 4/4 is one step per beat, ``"R . . 5 R . 5 ."``
two (eighths), and in 6/8 (two dotted-quarter beats) six steps are the eighths. ::

    name = "reel"
    meters = ["4/4", "2/2"]   # the meters it is written for; the first is its bar
    feel = "busy"             # sparse | steady | busy: chosen when the player plays so
    swing = 0.0               # 0 straight .. 1 triplet swing of the off-beat steps
    phrase_bars = 8           # a fill leads into every phrase of this many bars
    drums_from = 0.3          # the drums play from this energy up (0..1)
    chord_changes = "half_bar"  # where the harmony may move: bar | half_bar | beat
    sevenths = "all"          # the chords' sevenths it plays: all | dominant | none

    [main]                    # sections: main, variation, fill, intro, ending
    comping = ". x . x . x . x"
    bass = "R . . 5 R . 5 ."
    drums.kick = "X . . . x . . ."
    drums.snare = ". . x . . . x ."

Steps: for ``comping`` and ``drums``: ``X`` accent, ``x`` hit, ``o`` soft, ``-`` hold
(the chord sounds on; for drums a rest), ``.`` rest. For ``bass``, the chord role of the
note: ``R`` the chord's bass note (its root, or the inversion's bass), ``3``, ``5``,
``7`` (the seventh, or the octave when the chord has none), ``8`` the octave, ``A`` the
approach from a half step below the root, then ``-`` hold and ``.`` rest. Drum names
are those of :data:`~instrument.midi.gm_drums.DRUM_NOTES`.

``chord_changes`` is the style's harmonic rhythm, where the band moves to a new chord:
``bar`` on the bar line only (a waltz), ``half_bar`` also in the middle of a bar of an
even number of beats (a reel, a jig), ``beat`` on any beat (the default: the harmony is
free, as a chorale's). On the other beats the band keeps the chord it plays
(:meth:`Style.chord_may_change`, asked by :mod:`instrument.parts.accompaniment`).
``sevenths`` says which of the harmony's seventh chords the band plays as they are:
``all`` (the default), ``dominant`` (only a dominant seventh, as a folk guitarist's D7)
or ``none`` (triads). The harmony draws its chord among those the style plays
(:attr:`Style.chords_left_out`); a chord held from before the style changed sounds as
its triad (:meth:`Style.sounding`).

Sections: ``main`` is the groove and must be there; ``variation`` is the busier groove
the band moves to when the player's energy is high; ``fill`` is the bar before a new
phrase; ``intro`` the bar the band comes in with; ``ending`` the bar it ends on (played
once, then the chord holds). A part a section leaves out plays its ``main`` line there;
``fill``, ``intro`` and ``ending`` may be left out whole.

:func:`parse_style` checks everything and raises :class:`StyleError` naming the file, the
line and what is allowed, so a user's style never half-loads.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from enum import Enum

import numpy as np

from instrument.midi.gm_drums import DRUM_NOTES
from instrument.models.chords import CHORD_INDEX, Chord, sevenths_left_out
from instrument.music import Meter, grid_meter
from instrument.names import Name

try:
    import tomllib
except ModuleNotFoundError:  # Python 3.10
    import tomli as tomllib


class StyleError(ValueError):
    """A style file that cannot be played (the message names the file and line)."""


class Feel(Name):
    SPARSE = "sparse"
    STEADY = "steady"
    BUSY = "busy"


class ChordChanges(Name):
    """Where a style's harmony may move (its ``chord_changes``)."""

    BAR = "bar"
    HALF_BAR = "half_bar"
    BEAT = "beat"


class Sevenths(Name):
    """Which seventh chords a style plays with their seventh (its ``sevenths``)."""

    ALL = "all"
    DOMINANT = "dominant"
    NONE = "none"


#: The seventh chords' qualities each ``sevenths`` plays with their seventh (None: all).
_SEVENTHS_KEPT: dict[Sevenths, frozenset[str] | None] = {
    Sevenths.ALL: None, Sevenths.DOMINANT: frozenset({"7"}), Sevenths.NONE: frozenset(),
}


class Section(Name):
    MAIN = "main"
    VARIATION = "variation"
    FILL = "fill"
    INTRO = "intro"
    ENDING = "ending"


HITS = {"X": 1.2, "x": 1.0, "o": 0.6}  # step -> velocity factor
HOLD, REST = "-", "."
BASS_ROLES = ("R", "3", "5", "7", "8", "A")
_PART_STEPS = {
    "comping": (*HITS, HOLD, REST),
    "drums": (*HITS, HOLD, REST),
    "bass": (*BASS_ROLES, HOLD, REST),
}
STEPS_PER_BEAT = (1, 2, 3, 4, 6, 8)


@dataclass(frozen=True)
class Line:
    """One instrument's steps: ``bars`` of ``steps_per_beat`` steps to each beat."""

    bars: tuple[tuple[str, ...], ...]
    steps_per_beat: int

    def beat(self, bar: int, beat: int, beats_per_bar: int) -> tuple[str, ...]:
        """The steps of ``beat`` (0-based in its bar) of ``bar``; the line repeats, and a
        bar longer than the line's own plays its beats again from its first."""
        steps = self.bars[bar % len(self.bars)]
        own_beats = len(steps) // self.steps_per_beat
        b = beat % own_beats
        return steps[b * self.steps_per_beat:(b + 1) * self.steps_per_beat]


@dataclass(frozen=True)
class Pattern:
    """What the band parts play in one section (``None``/empty: the part rests)."""

    comping: Line | None = None
    bass: Line | None = None
    drums: dict[str, Line] = field(default_factory=dict)


@dataclass(frozen=True)
class Style:
    """A parsed style (see the module docstring)."""

    name: str
    meters: tuple[Meter, ...]
    feel: Feel
    sections: dict[Section, Pattern]
    swing: float = 0.0
    phrase_bars: int = 8
    drums_from: float = 0.3
    chord_changes: ChordChanges = ChordChanges.BEAT
    sevenths: Sevenths = Sevenths.ALL
    description: str = ""
    source: str = ""

    @property
    def meter(self) -> Meter:
        """The meter its lines are written in."""
        return self.meters[0]

    def fits(self, meter: Meter) -> bool:
        return any(m.beats_per_bar == meter.beats_per_bar and m.compound == meter.compound
                   for m in self.meters)

    def chord_may_change(self, beat: int, meter: Meter) -> bool:
        """Whether the harmony may move on ``beat`` (counted from a bar line) of a bar of
        ``meter`` in this style's :attr:`chord_changes`."""
        bpb = meter.beats_per_bar
        place = beat % bpb
        if place == 0 or self.chord_changes is ChordChanges.BEAT:
            return True
        return self.chord_changes is ChordChanges.HALF_BAR and bpb % 2 == 0 and place == bpb // 2

    @property
    def chords_left_out(self) -> np.ndarray | None:
        """Mask over the chord vocabulary of the seventh chords this style does not play
        (:attr:`sevenths`), for the draw to choose among the others; None: all play."""
        kept = _SEVENTHS_KEPT[self.sevenths]
        return None if kept is None else sevenths_left_out(kept)

    def sounding(self, chord: Chord) -> Chord:
        """``chord`` as this style plays it: its seventh left out where the style does
        not play it (:attr:`chords_left_out`, :meth:`~instrument.models.chords.Chord.
        without_seventh`)."""
        left_out = self.chords_left_out
        if left_out is None or not left_out[CHORD_INDEX[chord]]:
            return chord
        return chord.without_seventh()

    def pattern(self, section: Section) -> Pattern | None:
        """The section's pattern, its missing parts from ``main``; None if not written."""
        own = self.sections.get(section)
        if own is None:
            return None
        main = self.sections[Section.MAIN]
        return Pattern(
            comping=own.comping if own.comping is not None else main.comping,
            bass=own.bass if own.bass is not None else main.bass,
            drums=own.drums or main.drums,
        )


# -- parsing ---------------------------------------------------------------------------

_TOP_KEYS = {"name", "meters", "feel", "swing", "phrase_bars", "drums_from", "chord_changes",
             "sevenths",
             "description",
             *(s.value for s in Section)}
_PART_KEYS = ("comping", "bass", "drums")


def parse_style(text: str, source: str = "<style>") -> Style:
    """Parse and check a style file's text; raise :class:`StyleError` on any fault."""
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise StyleError(f"{source}: not valid TOML: {exc}") from None
    where = _Locator(text, source)

    unknown = sorted(set(data) - _TOP_KEYS)
    if unknown:
        raise where.error((), unknown[0], f"unknown key; allowed: {', '.join(sorted(_TOP_KEYS))}")
    name = data.get("name")
    if not isinstance(name, str) or not name.strip():
        raise where.error((), "name", "a style needs a name (name = \"reel\")")
    meters = _meters(data.get("meters", ["4/4"]), where)
    feel = _choice(data.get("feel", Feel.STEADY), Feel, "feel", where)
    swing = _number(data.get("swing", 0.0), 0.0, 1.0, "swing", where)
    phrase = _number(data.get("phrase_bars", 8), 1, 64, "phrase_bars", where)
    drums_from = _number(data.get("drums_from", 0.3), 0.0, 1.0, "drums_from", where)
    changes = _choice(data.get("chord_changes", ChordChanges.BEAT), ChordChanges,
                      "chord_changes", where)
    sevenths = _choice(data.get("sevenths", Sevenths.ALL), Sevenths, "sevenths", where)
    if Section.MAIN not in data:
        raise where.error((), "main", "a style needs a [main] section")
    sections = {}
    for section in Section:
        if section in data:
            sections[section] = _pattern(data[section], section, meters[0], where)
    return Style(
        name=name.strip(), meters=meters, feel=feel, sections=sections, swing=float(swing),
        phrase_bars=int(phrase), drums_from=float(drums_from), chord_changes=changes,
        sevenths=sevenths,
        description=str(data.get("description", "")), source=source,
    )


def _meters(value, where: _Locator) -> tuple[Meter, ...]:
    if isinstance(value, str):
        value = [value]
    if not isinstance(value, list) or not value:
        raise where.error((), "meters", "meters must be a list like [\"4/4\"]")
    meters = []
    for text in value:
        try:
            meter = Meter.parse(str(text))
        except ValueError as exc:
            raise where.error((), "meters", str(exc)) from None
        meters.append(grid_meter(meter.numerator, meter.denominator))
    return tuple(meters)


def _choice(value, kind: type[Enum], key: str, where: _Locator):
    allowed = [str(k.value) for k in kind]
    if value not in allowed:
        raise where.error((), key, f"must be one of {', '.join(allowed)}; got {value!r}")
    return kind(value)


def _number(value, low: float, high: float, key: str, where: _Locator) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not low <= value <= high:
        raise where.error((), key, f"must be a number from {low} to {high}; got {value!r}")
    return value


def _pattern(table, section: Section, meter: Meter, where: _Locator) -> Pattern:
    if not isinstance(table, dict):
        raise where.error((), section, f"{section} must be a table ([{section}])")
    unknown = sorted(set(table) - set(_PART_KEYS))
    if unknown:
        raise where.error((section,), unknown[0],
                          f"unknown part; parts are {', '.join(_PART_KEYS)}")
    comping = bass = None
    if "comping" in table:
        comping = _line(table["comping"], "comping", (section,), "comping", meter, where)
    if "bass" in table:
        bass = _line(table["bass"], "bass", (section,), "bass", meter, where)
    drums = {}
    if "drums" in table:
        lines = table["drums"]
        if not isinstance(lines, dict):
            raise where.error((section,), "drums",
                              "drums is a table of lines by drum: drums.kick = \"x . x .\"")
        for drum, text in lines.items():
            if drum not in DRUM_NOTES:
                raise where.error((section, "drums"), drum,
                                  f"unknown drum; drums are {', '.join(DRUM_NOTES)}")
            drums[drum] = _line(text, "drums", (section, "drums"), drum, meter, where)
    return Pattern(comping=comping, bass=bass, drums=drums)


def _line(text, part: str, table: tuple[str, ...], key: str, meter: Meter,
          where: _Locator) -> Line:
    if not isinstance(text, str) or not text.strip():
        raise where.error(table, key, "a line is a string of steps, like \"x . x .\"")
    allowed = _PART_STEPS[part]
    bars = []
    for bar_text in text.split("|"):
        steps = tuple(bar_text.split())
        for step in steps:
            if step not in allowed:
                raise where.error(table, key,
                                  f"unknown step {step!r}; {part} steps are {' '.join(allowed)}")
        bars.append(steps)
    counts = {len(b) for b in bars}
    if len(counts) != 1:
        raise where.error(table, key, "every bar of a line needs the same number of steps")
    (count,) = counts
    beats = meter.beats_per_bar
    if count % beats or count // beats not in STEPS_PER_BEAT:
        raise where.error(
            table, key,
            f"{count} steps do not divide a bar of {meter} ({beats} beats) into "
            f"{', '.join(map(str, STEPS_PER_BEAT))} steps per beat")
    return Line(tuple(bars), count // beats)


class _Locator:
    """Finds the line a key was written on, for error messages."""

    def __init__(self, text: str, source: str) -> None:
        self.lines = text.splitlines()
        self.source = source

    def error(self, table: tuple[str, ...], key: str, message: str) -> StyleError:
        path = ".".join((*table, key))
        number = self._find(tuple(table), key)
        at = f" line {number}" if number else ""
        return StyleError(f"{self.source}{at}: {path}: {message}")

    def _find(self, table: tuple[str, ...], key: str) -> int | None:
        header: tuple[str, ...] = ()
        for number, raw in enumerate(self.lines, start=1):
            line = raw.split("#", 1)[0].strip()
            heading = re.fullmatch(r"\[\s*([^\]]+?)\s*\]", line)
            if heading:
                header = tuple(p.strip().strip('"') for p in heading.group(1).split("."))
                if header == (*table, key):
                    return number
                continue
            if "=" not in line:
                continue
            written = tuple(p.strip().strip('"') for p in line.split("=", 1)[0].split("."))
            if header + written == (*table, key) or header + written[:1] == (*table, key):
                return number
        return None
