"""Styles as files a musician writes: every shipped style loads, a mistake is named with
its line, a player's own style is picked up, and a style is chosen by meter and feel."""

from __future__ import annotations

import pytest

from instrument.models.chords import Chord
from instrument.music import Meter
from instrument.styles.library import SHIPPED_DIR, StyleLibrary
from instrument.styles.style import (
    ChordChanges,
    Feel,
    Section,
    Sevenths,
    StyleError,
    parse_style,
)

GOOD = """\
name = "shuffle"
meters = ["4/4"]
feel = "steady"
swing = 0.6

[main]
comping = ". x . x"
bass = "R 5 8 5 | R 3 5 A"
drums.kick = "x . x ."
drums.hat = "x x x x x x x x"

[variation]
drums.snare = ". x . x"
"""


def test_a_style_reads_as_written():
    style = parse_style(GOOD, "shuffle.toml")
    assert style.name == "shuffle" and style.meter == Meter(4, 4) and style.feel == Feel.STEADY
    main = style.pattern(Section.MAIN)
    assert main.bass.steps_per_beat == 1 and len(main.bass.bars) == 2
    assert main.bass.beat(1, 3, 4) == ("A",)  # the second bar's last beat
    assert main.drums["hat"].beat(0, 2, 4) == ("x", "x")  # eighths
    variation = style.pattern(Section.VARIATION)
    assert set(variation.drums) == {"snare"}  # its own drums replace main's
    assert variation.bass == main.bass  # a part it leaves out plays main's line
    assert style.pattern(Section.FILL) is None


@pytest.mark.parametrize(("text", "line", "words"), [
    (GOOD.replace('bass = "R 5 8 5 | R 3 5 A"', 'bass = "R 5 Q 5"'), 8, "unknown step 'Q'"),
    (GOOD.replace("drums.kick", "drums.cowbell"), 9, "unknown drum"),
    (GOOD.replace('comping = ". x . x"', 'comping = ". x . x x"'), 7, "do not divide"),
    (GOOD.replace('bass = "R 5 8 5 | R 3 5 A"', 'bass = "R 5 8 5 | R 3"'), 8,
     "same number of steps"),
    (GOOD.replace('feel = "steady"', 'feel = "groovy"'), 3, "sparse, steady, busy"),
    (GOOD.replace('feel = "steady"', 'feel = "steady"\nchord_changes = "twice"'), 4,
     "bar, half_bar, beat"),
    (GOOD.replace('feel = "steady"', 'feel = "steady"\nsevenths = "some"'), 4,
     "all, dominant, none"),
    (GOOD.replace("[main]", "[mian]"), 6, "unknown key"),
])
def test_a_mistake_is_named_with_its_file_and_line(text, line, words):
    with pytest.raises(StyleError) as error:
        parse_style(text, "mine.toml")
    message = str(error.value)
    assert message.startswith(f"mine.toml line {line}:"), message
    assert words in message


@pytest.mark.parametrize(("changes", "meter", "free"), [
    ("bar", Meter(3, 4), [True, False, False]),
    ("bar", Meter(4, 4), [True, False, False, False]),
    ("half_bar", Meter(4, 4), [True, False, True, False]),
    ("half_bar", Meter(6, 8), [True, True]),  # two dotted-quarter beats: both
    ("half_bar", Meter(3, 4), [True, False, False]),  # an odd bar has no middle
    ("half_bar", Meter(12, 8), [True, False, True, False]),
    ("beat", Meter(3, 4), [True, True, True]),
])
def test_the_harmonic_rhythm_says_where_the_chord_may_move(changes, meter, free):
    style = parse_style(GOOD.replace('feel = "steady"',
                                     f'feel = "steady"\nchord_changes = "{changes}"'))
    bar = meter.beats_per_bar
    assert [style.chord_may_change(b, meter) for b in range(bar)] == free
    assert [style.chord_may_change(b, meter) for b in range(5 * bar, 6 * bar)] == free


def test_a_style_that_names_no_harmonic_rhythm_leaves_the_harmony_free():
    assert parse_style(GOOD).chord_changes == ChordChanges.BEAT


@pytest.mark.parametrize(("sevenths", "sounding"), [
    ("all", ["G7/F", "Am7", "Cmaj7/E", "Bm7b5", "C"]),
    ("dominant", ["G7/F", "Am", "C/E", "Bdim", "C"]),
    ("none", ["G", "Am", "C/E", "Bdim", "C"]),  # a seventh in the bass: the root's
])
def test_a_style_plays_the_sevenths_it_names(sevenths, sounding):
    style = parse_style(GOOD.replace('feel = "steady"',
                                     f'feel = "steady"\nsevenths = "{sevenths}"'))
    chords = [Chord(7, "7", 5), Chord(9, "m7", 9), Chord(0, "maj7", 4), Chord(11, "m7b5", 11),
              Chord(0, "maj", 0)]
    assert [style.sounding(c).name for c in chords] == sounding
    assert parse_style(GOOD).sevenths == Sevenths.ALL  # unnamed: as the harmony chose


def test_broken_toml_is_an_error_not_a_crash():
    with pytest.raises(StyleError, match="not valid TOML"):
        parse_style('name = "x"\n[main\n', "bad.toml")


def test_every_shipped_style_loads_and_the_meters_are_covered():
    library = StyleLibrary.load(None)
    assert library.errors == []
    assert {"reel", "jig", "slip_jig", "waltz", "polka", "air", "ballad", "pad"} <= set(
        library.names)
    for path in SHIPPED_DIR.glob("*.toml"):
        style = library.get(parse_style(path.read_text(), str(path)).name)
        for section in (Section.MAIN, Section.ENDING):
            assert style.pattern(section) is not None, (style.name, section)
    for meter in ("4/4", "2/4", "3/4", "6/8", "9/8", "12/8"):
        chosen = library.choose(Meter.parse(meter), Feel.BUSY)
        assert chosen.fits(Meter.parse(meter)) and chosen.name != "pad", meter


@pytest.mark.parametrize(("meter", "feel", "name"), [
    ("4/4", Feel.BUSY, "reel"), ("6/8", Feel.BUSY, "jig"), ("9/8", Feel.BUSY, "slip_jig"),
    ("3/4", Feel.STEADY, "waltz"), ("2/4", Feel.BUSY, "polka"), ("4/4", Feel.SPARSE, "air"),
    ("4/4", Feel.STEADY, "ballad"), ("5/4", Feel.BUSY, "pad"),
])
def test_the_style_is_chosen_for_the_meter_and_the_feel(meter, feel, name):
    assert StyleLibrary.load(None).choose(Meter.parse(meter), feel).name == name


def test_a_players_own_style_is_picked_up_and_a_broken_one_is_reported(tmp_path):
    (tmp_path / "shuffle.toml").write_text(GOOD)
    (tmp_path / "reel.toml").write_text(GOOD.replace('"shuffle"', '"reel"'))  # replaces it
    (tmp_path / "broken.toml").write_text(GOOD.replace("x x x x x x x x", "x x y"))
    library = StyleLibrary.load(tmp_path)
    assert library.get("shuffle").source.endswith("shuffle.toml")
    assert library.get("reel").feel == Feel.STEADY
    assert len(library.errors) == 1 and "broken.toml line 10" in library.errors[0]
    with pytest.raises(KeyError, match="styles: air"):
        library.get("bossa")


def test_instrument_check_names_a_broken_style_and_an_unknown_one(tmp_path):
    import subprocess
    import sys

    styles = tmp_path / "config" / "instrument" / "styles"
    styles.mkdir(parents=True)
    (styles / "mine.toml").write_text('name = "mine"\n[main]\nbass = "R Q"\n')
    config = tmp_path / "instrument.toml"
    config.write_text('[accompaniment]\nstyle = "bossa"\n')
    env = {"XDG_CONFIG_HOME": str(tmp_path / "config"), "PATH": "/usr/bin:/bin"}
    done = subprocess.run([sys.executable, "-m", "instrument", "check", "--config", str(config)],
                          capture_output=True, text=True, timeout=60, env=env)
    assert done.returncode == 2
    assert "mine.toml line 3: main.bass: unknown step 'Q'" in done.stderr
    assert "accompaniment.style: no style 'bossa'" in done.stderr
