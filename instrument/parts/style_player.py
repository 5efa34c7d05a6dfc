"""The band's parts playing a style: each beat's chord rendered as comping, bass and drums.

The :class:`~instrument.parts.accompaniment.Accompaniment` decides a chord for every
beat just before it; :meth:`StylePlayer.play_beat` turns that beat into the notes of
the band's three parts (``Part.ACCOMPANIMENT`` comps, ``Part.BASS``, ``Part.DRUMS``),
on the steps its style writes for that beat of the bar, at the clock's times for them
(``clock.time_at(beat + step / steps_per_beat)``, off-beat steps swung), so the band
keeps the followed beat and, with the beat's number, the bar.

**Sections**, chosen once per bar at its first beat: the ``intro`` for the bar the band
comes in on; the ``fill`` in the last bar of
each phrase (``style.phrase_bars`` bars counted from the bar the band came in on, moved
by the Band to where the tune's phrases start); else ``variation`` while the energy is
high (from ``VARIATION_FROM`` up, until it falls under ``VARIATION_UNTIL``) and ``main``
otherwise. The ``ending`` starts on the beat after :meth:`StylePlayer.end` (the player
holds what sounds like a last note), plays one bar of the style's ending from its start,
and then holds the chord (``HOLD``) until the Band lets go or :meth:`StylePlayer.resume`
goes on with the tune.

**Energy** (0..1, :mod:`instrument.parts.energy` or the density control) also thins
what is written: under ``THIN_FROM[level]`` a step finer than that metrical level rests
(comping and bass hold instead, so the chord sounds on); under ``PAD_BELOW`` the band is
a pad (the chord and a bass note held through the bar, struck on the downbeat and where
the harmony moves); the drums play only from ``style.drums_from`` up. The player's
touch sets the velocity (``level``), each step's mark (``X x o``) shades it, and each
part's volume scales it.

Comping and bass remember what they hold: a hit or a new bass note ends the last; a
rest ends it; a held step keeps it. Where the chord changes on a beat whose first step
holds or rests, the new chord (the bass its root) is struck there anyway, so the harmony
is heard where it moves; a held step with nothing held (the band just came in) strikes
too.
Drum hits are short notes. :meth:`release` ends everything held. Engine thread only;
work per beat is a few steps per part.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from instrument.engine.engine import TimedEvent
from instrument.midi import messages as mm
from instrument.midi.gm_drums import DRUM_NOTES
from instrument.models.chords import Chord
from instrument.models.voicing import Voicing
from instrument.names import BAND_PARTS, Part
from instrument.styles.style import HITS, HOLD, REST, Line, Pattern, Section, Style
from instrument.timing.beat import BeatClock

VARIATION_FROM = 0.65
VARIATION_UNTIL = 0.55
PAD_BELOW = 0.15
#: Energy under which steps of a metrical level rest: 3 (finer than half a beat), 2 (the
#: half beat, or a compound beat's eighths), 1 (the beats after the first).
THIN_FROM = {3: 0.6, 2: 0.5, 1: 0.35}
DRUM_LENGTH = 0.08  # seconds a drum note lasts (the kit rings on; receivers need an off)
#: The pad the band thins to: the chord and its bass held, struck on the downbeat.
PAD = Pattern(comping=Line((("x", "-", "-", "-"),), 1), bass=Line((("R", "-", "-", "-"),), 1))
#: After the ending's bar: the chord and its bass held (struck again only if it changes).
HOLD_ALL = Pattern(comping=Line((("-",),), 1), bass=Line((("-",),), 1))


@dataclass
class PartSettings:
    """How the band's parts sound, beside the style."""

    bass_range: tuple[int, int] = (36, 50)
    drums: bool = True  # the drum part plays (a control can switch it)
    volumes: dict[str, float] = field(default_factory=lambda: dict.fromkeys(BAND_PARTS, 1.0))


@dataclass
class _Held:
    """What a pitched part sounds now, and for which chord."""

    pitches: tuple[int, ...] = ()
    chord: Chord | None = None


class StylePlayer:
    """See the module docstring."""

    def __init__(self, style: Style, settings: PartSettings | None = None) -> None:
        self.style = style
        self.settings = settings or PartSettings()
        self.section = Section.MAIN
        self.sections_played: list[tuple[int, Section]] = []  # (bar, section): tests, status
        self.phrase_origin: int | None = None  # a bar where a phrase starts
        self._held = {Part.ACCOMPANIMENT: _Held(), Part.BASS: _Held()}
        # The chord of the beat before, per part (None: the band just came in).
        self._last_chord: dict[Part, Chord | None] = dict.fromkeys(self._held)
        self._bar: int | None = None
        self._entered: int | None = None
        self._ending = False
        self._ending_beat: int | None = None  # the beat the ending started on
        self._variation = False

    # -- state ---------------------------------------------------------------------------

    def set_style(self, style: Style) -> None:
        """Play ``style`` from its next bar on."""
        self.style = style

    def enter(self) -> None:
        """The band comes in (again): its next bar is the intro."""
        self._entered = None
        self._bar = None
        self._ending = False
        self._ending_beat = None

    def end(self) -> None:
        """The player is ending: the next beat starts the ending, then the band holds."""
        self._ending = True

    def resume(self) -> None:
        """The player went on after all: the groove goes on from the next beat."""
        if self._ending:
            self._ending, self._ending_beat = False, None
            self.section = Section.VARIATION if self._variation and \
                Section.VARIATION in self.style.sections else Section.MAIN

    @property
    def ending(self) -> bool:
        return self._ending

    def release(self, t: float) -> list[TimedEvent]:
        """Note-offs at ``t`` for everything comping and bass hold."""
        events: list[TimedEvent] = []
        for part, held in self._held.items():
            events += [TimedEvent(t, part, (mm.NOTE_OFF, p, 0)) for p in held.pitches]
            self._held[part] = _Held()
        return events

    def forget(self) -> None:
        """Forget what is held (its notes were ended another way: a cancel, a panic)."""
        for part in self._held:
            self._held[part] = _Held()
            self._last_chord[part] = None

    # -- playing -------------------------------------------------------------------------

    def play_beat(self, beat: int, chord: Chord, voicing: Voicing, clock: BeatClock,
                  level: float, energy: float) -> list[TimedEvent]:
        """The band's notes for ``beat`` (see the module docstring); ``level``: the
        velocity of an ``x`` step before the part volumes."""
        beats_per_bar = clock.meter.beats_per_bar
        bar, in_bar = divmod(beat, beats_per_bar)
        if self._bar != bar:
            self._start_bar(bar, energy)
        if self._ending:
            if self._ending_beat is None:
                self._ending_beat = beat
                self.section = Section.ENDING
            # The ending is read from its own first beat, wherever in the bar it starts.
            bar, in_bar = divmod(beat - self._ending_beat, beats_per_bar)
        pattern = self._pattern(energy, bar)
        if chord.is_silent:
            return self.release(clock.time_at(beat))
        events = self._pitched(Part.ACCOMPANIMENT, pattern.comping, beat, bar, in_bar,
                                chord, voicing.upper, clock, level, energy)
        bass = (voicing.bass,) if voicing.bass is not None else ()
        events += self._pitched(Part.BASS, pattern.bass, beat, bar, in_bar, chord, bass,
                                clock, level, energy)
        if self._drums_play(energy):
            for drum, line in pattern.drums.items():
                events += self._drum(DRUM_NOTES[drum], line, beat, bar, in_bar, clock, level,
                                     energy)
        return events

    def _start_bar(self, bar: int, energy: float) -> None:
        self._bar = bar
        style = self.style
        if self._entered is None:
            self._entered = bar
            if self.phrase_origin is None:
                self.phrase_origin = bar
        if energy >= VARIATION_FROM:
            self._variation = True
        elif energy < VARIATION_UNTIL:
            self._variation = False
        origin = self.phrase_origin if self.phrase_origin is not None else bar
        if self._ending:
            return
        if bar == self._entered and Section.INTRO in style.sections:
            section = Section.INTRO
        elif (bar + 1 - origin) % style.phrase_bars == 0 and Section.FILL in style.sections:
            section = Section.FILL
        elif self._variation and Section.VARIATION in style.sections:
            section = Section.VARIATION
        else:
            section = Section.MAIN
        self.section = section
        self.sections_played.append((bar, section))
        del self.sections_played[:-64]

    def _pattern(self, energy: float, bar: int) -> Pattern:
        if self.section == Section.ENDING:
            if bar > 0:
                return HOLD_ALL
            return self.style.pattern(Section.ENDING) or PAD
        if energy < PAD_BELOW:
            return PAD
        pattern = self.style.pattern(self.section)
        assert pattern is not None  # _start_bar picks only sections the style has
        return pattern

    def _drums_play(self, energy: float) -> bool:
        if not self.settings.drums or self.settings.volumes.get(Part.DRUMS, 1.0) <= 0:
            return False
        return self.section == Section.ENDING or energy >= self.style.drums_from

    def _steps(self, line: Line, beat: int, bar: int, in_bar: int, clock: BeatClock,
               energy: float) -> list[tuple[float, str, bool]]:
        """(time, step, thinned) for each step of the beat."""
        spb = line.steps_per_beat
        steps = line.beat(bar, in_bar, clock.meter.beats_per_bar)
        out = []
        for i, step in enumerate(steps):
            position = i
            if self.style.swing and spb % 2 == 0 and i % 2 == 1:
                position += self.style.swing / 3.0
            t = clock.time_at(beat + position / spb)
            level = _metrical_level(in_bar, i, spb, clock.meter.compound)
            thinned = (self.section != Section.ENDING and level > 0
                       and energy < THIN_FROM[level])
            out.append((t, step, thinned))
        return out

    def _pitched(self, part: Part, line: Line | None, beat: int, bar: int, in_bar: int,
                 chord: Chord, pitches: tuple[int, ...], clock: BeatClock, level: float,
                 energy: float) -> list[TimedEvent]:
        if line is None or not pitches:
            return self._stop(part, clock.time_at(beat))
        events: list[TimedEvent] = []
        for i, (t, step, thinned) in enumerate(self._steps(line, beat, bar, in_bar, clock,
                                                            energy)):
            held = self._held[part]
            if thinned:
                step = HOLD
            changed = held.chord is None or held.chord.identity != chord.identity
            if i == 0 and step in (REST, HOLD) and changed and \
                    (step == HOLD or self._last_chord[part] is not None):
                # The harmony moves (or the band just came in) on a beat the line holds or
                # rests: the new chord is struck there, so it is heard where it changes.
                events += self._strike(part, _first_hit(part), chord, pitches, t, level)
            elif step == REST:
                events += self._stop(part, t)
            elif step != HOLD:
                events += self._strike(part, step, chord, pitches, t, level)
        self._last_chord[part] = chord
        return events

    def _strike(self, part: Part, step: str, chord: Chord, pitches: tuple[int, ...],
                t: float, level: float) -> list[TimedEvent]:
        if part == Part.BASS:
            notes = (_bass_pitch(step, chord, pitches[0], self.settings.bass_range),)
            shade = 1.0
        else:
            notes, shade = pitches, HITS[step]
        events = self._stop(part, t)
        velocity = self._velocity(part, level * shade)
        events += [TimedEvent(t, part, (mm.NOTE_ON, p, velocity)) for p in notes]
        self._held[part] = _Held(tuple(notes), chord)
        return events

    def _stop(self, part: Part, t: float) -> list[TimedEvent]:
        held = self._held[part]
        self._held[part] = _Held()
        return [TimedEvent(t, part, (mm.NOTE_OFF, p, 0)) for p in held.pitches]

    def _drum(self, note: int, line: Line, beat: int, bar: int, in_bar: int,
              clock: BeatClock, level: float, energy: float) -> list[TimedEvent]:
        events: list[TimedEvent] = []
        for t, step, thinned in self._steps(line, beat, bar, in_bar, clock, energy):
            if thinned or step not in HITS:
                continue
            velocity = self._velocity(Part.DRUMS, level * HITS[step])
            events.append(TimedEvent(t, Part.DRUMS, (mm.NOTE_ON, note, velocity)))
            events.append(TimedEvent(t + DRUM_LENGTH, Part.DRUMS, (mm.NOTE_OFF, note, 0)))
        return events

    def _velocity(self, part: str, level: float) -> int:
        return max(1, min(127, round(level * self.settings.volumes.get(part, 1.0))))


def _first_hit(part: Part) -> str:
    return "R" if part == Part.BASS else "x"


def _metrical_level(beat_in_bar: int, step: int, steps_per_beat: int, compound: bool) -> int:
    """0 the bar's first step, 1 a beat's first, 2 the half beat (a compound beat's
    eighths), 3 anything finer."""
    if step == 0:
        return 0 if beat_in_bar == 0 else 1
    if compound and steps_per_beat == 3:
        return 2
    if steps_per_beat % 2 == 0 and step == steps_per_beat // 2:
        return 2
    return 3


def _bass_pitch(role: str, chord: Chord, bass: int, bass_range: tuple[int, int]) -> int:
    """The pitch of chord role ``role`` (see ``instrument.styles.style``) around ``bass``,
    the voiced bass note (the chord's bass pitch class, near the last)."""
    if role == "R":
        return bass
    tones = chord.pitch_classes
    root = bass - (bass - chord.root) % 12  # the root at or below the voiced bass
    if root < bass_range[0]:
        root += 12
    if role == "8":
        pitch = root + 12
    elif role == "A":
        pitch = root - 1
    else:
        index = {"3": 1, "5": 2, "7": 3}[role]
        pitch = root + ((tones[index] - chord.root) % 12 if index < len(tones) else 12)
    while pitch > bass_range[1] + 7:  # an octave or a fifth over the range is still a bass
        pitch -= 12
    while pitch < bass_range[0] - 5:
        pitch += 12
    return pitch
