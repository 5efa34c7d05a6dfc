"""The band playing styles on the offline clock: each style's pattern on the followed beat
through a drift, the band's notes per bar following the player's, the fill before a new
phrase, the ending with the player's last note, and no note left sounding on any part
whatever stops it (a mode switch, a panic, a program change, an unsure follower)."""

from __future__ import annotations

import itertools
from pathlib import Path

import numpy as np
import pytest

from instrument.follow.performance import PerformanceStyle, perform
from instrument.models.tune import Tune, read_midi
from instrument.music import TICKS_PER_BEAT, GridNote, Meter
from instrument.names import BAND_PARTS, Part
from instrument.realtime.router import InputEvent
from instrument.styles.style import Section
from tests.parts.test_band import BEAT
from tests.parts.test_band import play as play_beats
from tests.parts.test_band import rig as fixed_rig
from tests.parts.test_follow_band import play as play_performance
from tests.parts.test_follow_band import rig as follow_rig

DATA = Path(__file__).parents[1] / "data"
DRIFT = PerformanceStyle(bpm=(90.0, 120.0), drift=0.1, slips=0.0, accent=(1.0, 1.0))
SCALE = (60, 62, 64, 65, 67, 69, 71, 72)


def made_tune(meter: Meter, bars: int = 16) -> Tune:
    """A plain tune in ``meter``: a long note on each downbeat, then eighths."""
    eighth = TICKS_PER_BEAT // (3 if meter.compound else 2)
    notes, tick = [], 0
    for bar in range(bars):
        end = tick + meter.ticks_per_bar
        first = 2 * eighth
        notes.append(GridNote(SCALE[(2 * bar) % 8], tick, first, 96))
        t, step = tick + first, 0
        while t < end:
            notes.append(GridNote(SCALE[(bar + step) % 8], t, eighth, 72))
            t, step = t + eighth, step + 1
        tick = end
    return Tune(f"made {meter}", meter, notes)


def twice(name: str) -> Tune:
    """A tune from tests/data played through twice, as a player plays the repeat."""
    tune = read_midi(DATA / name)
    length = -(-tune.end_tick // tune.meter.ticks_per_bar) * tune.meter.ticks_per_bar
    again = [GridNote(n.pitch, n.onset + length, n.duration, n.velocity) for n in tune.melody]
    return Tune(tune.name, tune.meter, [*tune.melody, *again])


TUNES = {
    "reel": lambda: twice("reel_4-4.mid"),
    "ballad": lambda: twice("reel_4-4.mid"),
    "jig": lambda: twice("jig_6-8.mid"),
    "waltz": lambda: twice("song_3-4.mid"),
    "polka": lambda: made_tune(Meter(2, 4)),
    "slip_jig": lambda: made_tune(Meter(9, 8)),
    "air": lambda: twice("song_3-4.mid"),
    "pad": lambda: twice("jig_6-8.mid"),
}


def onsets(out, part):
    return np.array(sorted({t for t, _ in out.onsets(part)}))


@pytest.mark.parametrize("style", sorted(TUNES))
def test_each_style_keeps_its_pattern_on_the_followed_beat_through_a_drift(style):
    tune = TUNES[style]()
    performance = perform(tune, seed=5, style=DRIFT)
    engine, band, out = follow_rig("follow", meter=str(tune.meter), style=style)
    end = play_performance(engine, performance)
    engine.advance_to(end + 8.0)
    assert band.accompaniment.player.style.name == style
    subdivision = 3 if tune.meter.compound else 2  # the styles' steps: eighths
    start = performance.time_of(performance.first_beat + 4 * performance.beats_per_bar)
    for part in BAND_PARTS:
        times = onsets(out, part)
        times = times[(times > start) & (times < performance.onsets[-1][0])]
        if part == Part.DRUMS and style in ("air", "pad"):
            assert times.size == 0, "this style has no drums"
            continue
        assert times.size >= (3 if style in ("air", "pad") else 8), (part, times.size)
        errors = []
        for t in times:
            position = performance.beat_of(t) * subdivision
            beat_seconds = performance.time_of(np.floor(position / subdivision) + 1) - \
                performance.time_of(np.floor(position / subdivision))
            errors.append(abs(position - round(position)) * beat_seconds / subdivision)
        p90 = 1000 * np.percentile(errors, 90)
        print(f"{style} {part}: {times.size} onsets, |error| to the played eighths p90 "
              f"{p90:.0f} ms")
        assert p90 <= 40, (style, part, p90)
    for part in BAND_PARTS:
        assert out.unfinished(part) == set(), part


def notes_per_bar(out, start, bars, bar_seconds):
    times = np.concatenate([onsets(out, part) for part in BAND_PARTS])
    return np.array([np.sum((times >= start + i * bar_seconds)
                            & (times < start + (i + 1) * bar_seconds)) for i in range(bars)])


def test_a_busy_passage_raises_the_bands_notes_per_bar_and_a_sparse_one_lowers_them():
    engine, band, out = fixed_rig("accompany", **{"accompaniment__style": "reel"})
    busy = [(i * 0.5, SCALE[i % 8], 0.5) for i in range(8 * 8)]  # 8 bars of eighths
    sparse = [(32 + i * 2.0, SCALE[i % 8], 2.0) for i in range(8 * 2)]  # 8 of half notes
    busy_again = [(64 + i * 0.5, SCALE[i % 8], 0.5) for i in range(8 * 8)]
    play_beats(engine, busy + sparse + busy_again)
    engine.advance_to(100 * BEAT)
    bar = 4 * BEAT
    counts = notes_per_bar(out, 0.0, 24, bar)
    print(f"band notes per bar: {counts.tolist()}")
    # Two bars for the band to hear the change.
    assert counts[2:8].mean() > 1.5 * counts[10:16].mean()
    assert counts[18:24].mean() > 1.5 * counts[10:16].mean()
    energies = band.accompaniment.player.sections_played
    assert energies  # the band played bars


def test_a_fill_falls_in_the_bar_before_each_new_phrase():
    engine, band, out = fixed_rig("accompany", **{"accompaniment__style": "reel"})
    play_beats(engine, [(i * 0.5, SCALE[i % 8], 0.5) for i in range(8 * 18)])
    engine.advance_to(80 * BEAT)
    played = dict(band.accompaniment.player.sections_played)
    origin = band.accompaniment.player.phrase_origin
    assert played[origin] == Section.INTRO
    fills = sorted(bar for bar, section in played.items() if section == Section.FILL)
    assert fills and all((bar + 1 - origin) % 8 == 0 for bar in fills), (origin, fills)
    assert origin + 7 in fills and origin + 15 in fills
    # The fill is heard: the frame drum rolls (the reel's fill has more strokes).
    frame = [t for t, p in out.onsets(Part.DRUMS) if p == 64]
    per_bar = {bar: sum(1 for t in frame if bar * 4 * BEAT <= t < (bar + 1) * 4 * BEAT)
               for bar in played}
    assert per_bar[origin + 7] > per_bar[origin + 6]


def test_the_band_ends_with_the_players_last_note():
    engine, band, out = fixed_rig("accompany", **{"accompaniment__style": "reel"})
    tune = [(i * 0.5, SCALE[i % 8], 0.5) for i in range(8 * 6)]  # six bars of eighths
    last_onset, held = 24.0, 5.0  # then a last note on the downbeat, held five beats
    play_beats(engine, [*tune, (last_onset, 60, held)])
    engine.advance_to(60 * BEAT)
    released = (last_onset + held) * BEAT
    assert Section.ENDING in dict(band.accompaniment.player.sections_played).values() or \
        band.accompaniment.player.section == Section.ENDING
    for part in BAND_PARTS:
        starts = [t for t, _ in out.onsets(part)]
        # Nothing struck after the player let go, and nothing a bar later.
        assert max(starts) < released, (part, max(starts) - released)
        ends = [e.due for e in out.notes(part) if e.is_note_off]
        assert max(ends) <= released + 0.15, (part, max(ends) - released)
        assert out.unfinished(part) == set(), part
    # The ending was struck within the last note's first bar, not a bar after it.
    struck = [t for t, _ in out.onsets(Part.ACCOMPANIMENT) if t > (last_onset + 1.5) * BEAT]
    assert struck and min(struck) <= (last_onset + 3) * BEAT


def test_a_note_after_a_long_held_one_goes_on_with_the_tune():
    engine, band, out = fixed_rig("accompany", **{"accompaniment__style": "reel"})
    tune = [(i * 0.5, SCALE[i % 8], 0.5) for i in range(8 * 4)]
    later = [(19 + i * 0.5, SCALE[i % 8], 0.5) for i in range(8 * 4)]
    play_beats(engine, [*tune, (16, 60, 3.0), *later])  # held three beats, then on
    engine.advance_to(40 * BEAT)
    drums = [t for t, _ in out.onsets(Part.DRUMS)]
    assert any(t > 25 * BEAT for t in drums), "the band stopped after a long note"
    assert band.accompaniment.playing


def busy_band(mode="accompany"):
    engine, band, out = fixed_rig(mode, **{"accompaniment__style": "reel"})
    play_beats(engine, [(i * 0.5, SCALE[i % 8], 0.5) for i in range(8 * 4)])
    return engine, band, out


def assert_silent_after(out, t):
    for part in BAND_PARTS:
        assert out.unfinished(part) == set(), part
        late = [s for s, _ in out.onsets(part) if s > t + 0.05]
        assert late == [], (part, late)


@pytest.mark.parametrize("stop", ["mode", "panic", "unsure"])
def test_whatever_stops_the_band_leaves_no_note_sounding_on_any_part(stop):
    engine, band, out = busy_band()
    engine.advance_to(6 * BEAT + 0.01)
    assert all(out.onsets(part) for part in BAND_PARTS)
    t = engine.clock.now()
    if stop == "mode":
        engine.submit(InputEvent(t, (0xB0, 20, 0)))  # CC 20 low: thru
        engine.advance_to(20 * BEAT)
        assert_silent_after(out, t)
    elif stop == "panic":  # the outputs' all-notes-off ends what sounded (tests/engine)
        engine.submit(InputEvent(t, (0xB0, 123, 0)))
        engine.advance_to(t + 0.01)
        assert out.panics == 1
        assert all(engine.sounding(part) == set() for part in BAND_PARTS)
        # What was handed out before the panic and not yet due, the outputs drop (the
        # Transcript keeps it); the band plays on when the player does.
        out.events = [e for e in out.events if e.due > t]
        handed_out = len(out.events)
        engine.advance_to(30 * BEAT)
        out.events = out.events[handed_out:]
    else:
        band._holding = True  # the follower's doubt, as Band._follow sets it
        engine.cancel(Part.DRUMS)
        engine.advance_to(12 * BEAT)
        assert [s for s, _ in out.onsets(Part.DRUMS) if s > t + 0.05] == []
    engine.advance_to(30 * BEAT)
    for part in BAND_PARTS:
        assert out.unfinished(part) == set(), part


def test_a_program_change_goes_on_with_nothing_left_sounding():
    engine, _band, out = busy_band()
    engine.advance_to(6 * BEAT + 0.01)
    engine.submit(InputEvent(engine.clock.now(), (0xC0, 5)))
    engine.advance_to(30 * BEAT)
    for part in BAND_PARTS:
        assert out.unfinished(part) == set(), part


def test_controls_pick_the_style_switch_the_drums_and_set_each_parts_volume():
    engine, band, out = busy_band()
    engine.advance_to(2 * BEAT)
    now = engine.clock.now()
    names = ["auto", *band.accompaniment.styles.names]
    jig_value = round((names.index("ballad") + 0.5) / len(names) * 127)
    engine.submit(InputEvent(now, (0xB0, 28, jig_value)))  # style
    engine.submit(InputEvent(now, (0xB0, 29, 0)))  # drums off
    engine.submit(InputEvent(now, (0xB0, 30, 64)))  # bass volume half
    engine.advance_to(12 * BEAT)
    assert band.accompaniment.player.style.name == "ballad"
    assert [t for t, _ in out.onsets(Part.DRUMS) if t > now + 0.05] == []
    assert out.unfinished(Part.DRUMS) == set()
    bass = [e.message[2] for e in out.events
            if e.part == Part.BASS and e.is_note_on and e.due > now + 4 * BEAT]
    before = [e.message[2] for e in out.events
              if e.part == Part.BASS and e.is_note_on and e.due < now]
    assert bass and before and max(bass) < min(before)
    status = band.status()
    assert status["style"] == "ballad" and status["drums"] is False
    assert status["chord_changes"] == "half_bar"  # the ballad's chords move there only


def test_auto_hears_the_feel_in_the_first_bars_and_then_keeps_to_phrases():
    # A reel that opens on a long note: sparse for a bar, then eighths.
    engine, band, _out = fixed_rig("accompany")
    opening = [(0, 67, 4.0)]
    eighths = [(4 + i * 0.5, SCALE[i % 8], 0.5) for i in range(8 * 12)]
    play_beats(engine, [*opening, *eighths])
    engine.advance_to(12 * 4 * BEAT)
    played = band.accompaniment.player
    assert played.style.name == "reel"
    origin = played.phrase_origin
    # The reel by the third bar, and no change of style after it within the phrase.
    styles_by_bar = band.accompaniment.styles_by_bar
    assert styles_by_bar[origin + 2] == "reel", styles_by_bar
    assert all(styles_by_bar[b] == "reel" for b in styles_by_bar if b >= origin + 2)


def alternating_melody(beats: int) -> list[tuple[float, int, float]]:
    """A note a beat, C major's tones and G7's by turns: free harmony moves every beat."""
    tones = ((60, 64, 67), (71, 65, 62))
    return [(b, tones[b % 2][(b // 2) % 3], 1.0) for b in range(beats)]


@pytest.mark.parametrize(("style", "meter", "moves_on"), [
    ("waltz", "3/4", {0}),  # chord_changes = "bar"
    ("reel", "4/4", {0, 2}),  # chord_changes = "half_bar"
])
def test_the_band_moves_its_chords_where_its_style_does(style, meter, moves_on):
    bar = int(meter.split("/")[0])

    def changes(style_name):
        engine, band, _ = fixed_rig("accompany", accompaniment__style=style_name,
                                    tempo__meter=meter)
        play_beats(engine, alternating_melody(12 * bar))
        engine.advance_to((12 * bar + 1) * BEAT)
        assert band.accompaniment.player.style.name == style_name
        history = band.accompaniment.history
        return [b.beat for a, b in itertools.pairwise(history)
                if a.chord.identity != b.chord.identity]

    free = changes("pad")  # chord_changes = "beat": the harmony follows the melody
    assert {b % bar for b in free} - moves_on, "the melody should move a free harmony"
    held = changes(style)
    assert held, "the style's band should still change chord"
    assert {b % bar for b in held} <= moves_on, held


def c_and_g7_bars(bars: int) -> list[tuple[float, int, float]]:
    """Eighths outlining C, then G7 (its B, D and F), bar by bar."""
    c, g7 = (60, 64, 67, 72, 64, 67, 60, 64), (71, 65, 74, 65, 67, 71, 65, 62)
    return [(bar * 4 + i * 0.5, pitch, 0.5)
            for bar in range(bars) for i, pitch in enumerate(c if bar % 2 == 0 else g7)]


@pytest.mark.parametrize(("sevenths", "played_sevenths"), [
    ("all", {"G7", "Fmaj7"}),
    ("dominant", {"G7"}),  # a dominant seventh only
    ("none", set()),
])
def test_the_band_plays_the_sevenths_its_style_plays(tmp_path, sevenths, played_sevenths):
    """A player's reel that names its ``sevenths``: over melodies the harmony (the rule
    arranger's, on a fixed beat) gives G7 and Fmaj7, the band plays the seventh chords
    the style plays and chooses among the others elsewhere, and its voicing holds only
    the tones of the chord it plays."""
    from instrument.styles.library import SHIPPED_DIR

    reel = (SHIPPED_DIR / "reel.toml").read_text()
    (tmp_path / "reel.toml").write_text(
        reel.replace('chord_changes = "half_bar"',
                     f'chord_changes = "half_bar"\nsevenths = "{sevenths}"'))

    def played(melody, beats):
        engine, band, _ = fixed_rig("accompany", accompaniment__style="reel",
                                    accompaniment__styles_dir=str(tmp_path))
        play_beats(engine, melody)
        engine.advance_to((beats + 1) * BEAT)
        assert band.accompaniment.player.style.sevenths == sevenths
        history = band.accompaniment.history
        for choice in history:
            assert {p % 12 for p in choice.voicing.pitches} <= set(choice.chord.pitch_classes)
        return [c.chord for c in history if not c.chord.is_silent]

    chords = played(c_and_g7_bars(12), 48) + played(alternating_melody(48), 48)
    assert {c.name for c in chords if c.has_seventh} == played_sevenths
    assert len({c.identity for c in chords}) >= 2  # the harmony still moves
