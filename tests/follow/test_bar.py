"""Finding the bar: tunes written here (no accents: flat velocities), performed and run
through the follower as the band reads it (:func:`instrument.follow.evaluate.simulate`).
The downbeats it plans are scored against the played ones from four bars after the first
note (F1 >= 0.8 is in phase; a half-bar shift scores 0)."""

import math
from dataclasses import replace

import numpy as np
import pytest

from instrument.follow import BeatFollower, FollowSettings
from instrument.follow.bar import BarReader
from instrument.follow.evaluate import IN_PHASE, simulate
from instrument.follow.performance import PerformanceStyle, perform
from instrument.follow.prior import SIMPLE_OFFSETS
from instrument.models.tune import Tune
from instrument.music import TICKS_PER_BEAT, GridNote, Meter
from tests.follow.playing import follow

FLAT = PerformanceStyle(bpm=(104.0, 104.0), drift=0.0, rubato=(0.005, 0.005),
                        ritardando=(0.0, 0.0), jitter=0.003, slips=0.0, accent=(0.0, 0.0),
                        level_walk=0.0, velocity_noise=0.0)
DRIFTING = PerformanceStyle(bpm=(96.0, 96.0), drift=0.08, phrase_bars=(8, 8),
                            rubato=(0.01, 0.01), jitter=0.004, accent=(0.0, 0.0),
                            level_walk=0.0, velocity_noise=0.0)


def tune(name: str, meter: Meter, bars: list[list[tuple[int, int]]],
         pickup: list[tuple[int, int]] = (), unit: int = 6) -> Tune:
    """A melody from bars of (pitch, length in ``unit`` ticks), ``pickup`` before bar 0."""
    notes, tick = [], -sum(n for _, n in pickup) * unit
    for pitch, n in [*pickup, *(note for bar in bars for note in bar)]:
        notes.append(GridNote(pitch, tick, n * unit, 80))
        tick += n * unit
    shift = -(notes[0].onset // meter.ticks_per_bar) * meter.ticks_per_bar
    notes = [GridNote(n.pitch, n.onset + shift, n.duration, 80) for n in notes]
    return Tune(name, meter, notes, [])


def run(t: Tune, meter: Meter | None, style: PerformanceStyle = FLAT, seed: int = 0):
    perf = perform(t, seed, style)
    follower = BeatFollower(meter, 100.0)
    return simulate(perf, follower, measure_cost=False), follower


# A polka in G, 2/4: a quarter on most downbeats, the chord's notes after it; eighths (1),
# quarters (2), a half note (4) at each phrase end.
POLKA = [
    [(67, 2), (71, 1), (74, 1)], [(72, 2), (76, 1), (72, 1)],
    [(74, 2), (72, 1), (69, 1)], [(71, 2), (67, 2)],
    [(69, 2), (72, 1), (69, 1)], [(71, 2), (74, 1), (71, 1)],
    [(72, 1), (71, 1), (69, 1), (66, 1)], [(67, 4)],
] * 3


@pytest.mark.parametrize("eighths", [1, 2, 3])
def test_an_upbeat_of_one_two_or_three_eighths_finds_the_downbeat(eighths):
    pickup = [(62, 1), (64, 1), (66, 1)][-eighths:]
    t = tune("polka", Meter(2, 4), POLKA, pickup)
    result, _ = run(t, Meter(2, 4))
    assert result.downbeat_f1_4 >= IN_PHASE


# A reel in D, all eighths: no long note marks the bar; the harmony (one chord a bar)
# and the tonic and fifth on the downbeats do.
REEL = [
    [(62, 1), (66, 1), (69, 1), (66, 1), (74, 1), (69, 1), (66, 1), (69, 1)],  # D
    [(69, 1), (73, 1), (76, 1), (73, 1), (69, 1), (64, 1), (67, 1), (73, 1)],  # A7
    [(67, 1), (71, 1), (74, 1), (71, 1), (67, 1), (71, 1), (74, 1), (79, 1)],  # G
    [(69, 1), (76, 1), (73, 1), (76, 1), (69, 1), (73, 1), (64, 1), (67, 1)],  # A
    [(66, 1), (69, 1), (74, 1), (69, 1), (66, 1), (62, 1), (66, 1), (69, 1)],  # D
    [(71, 1), (67, 1), (74, 1), (67, 1), (71, 1), (74, 1), (79, 1), (74, 1)],  # G
    [(69, 1), (73, 1), (76, 1), (79, 1), (76, 1), (73, 1), (69, 1), (67, 1)],  # A7
    [(66, 1), (62, 1), (66, 1), (69, 1), (62, 1), (66, 1), (69, 1), (66, 1)],  # D
] * 3


def test_a_reel_without_long_notes_on_the_downbeat_is_read_from_its_harmony():
    result, _ = run(tune("reel", Meter(4, 4), REEL), Meter(4, 4))
    assert result.downbeat_f1_4 >= IN_PHASE


# A jig in G: eighths (1) and quarter-eighth pairs; units of a compound eighth (4 ticks).
JIG = [
    [(67, 2), (71, 1), (74, 2), (71, 1)], [(72, 1), (71, 1), (69, 1), (71, 2), (67, 1)],
    [(66, 2), (69, 1), (72, 2), (69, 1)], [(67, 1), (71, 1), (74, 1), (79, 3)],
    [(76, 2), (74, 1), (72, 2), (71, 1)], [(69, 1), (71, 1), (72, 1), (74, 2), (71, 1)],
    [(72, 2), (69, 1), (66, 2), (69, 1)], [(67, 3), (67, 3)],
] * 3


def test_a_jig_in_six_eight():
    result, _ = run(tune("jig", Meter(6, 8), JIG, unit=4), Meter(6, 8))
    assert result.downbeat_f1_4 >= IN_PHASE


# A waltz in F: a dotted half or a half and a quarter, or three quarters (units of 12).
WALTZ = [
    [(65, 2), (69, 1)], [(72, 3)], [(70, 1), (69, 1), (67, 1)], [(72, 3)],
    [(67, 2), (70, 1)], [(76, 2), (72, 1)], [(69, 1), (67, 1), (64, 1)], [(65, 3)],
] * 3


def test_a_waltz_in_three_four_and_its_meter_heard():
    t = tune("waltz", Meter(3, 4), WALTZ, unit=12)
    result, _ = run(t, Meter(3, 4))
    assert result.downbeat_f1_4 >= IN_PHASE
    heard, follower = run(t, None)
    assert str(follower.meter) == "3/4" and heard.meter_right
    assert follower.meter_confidence > 0.5


# Two bars that read as well from either half (a run of eighths), then the tune's phrase:
# long notes and chord changes on its downbeats settle the bar, and stay settled.
AMBIGUOUS = [
    [(67, 1), (69, 1), (71, 1), (72, 1), (74, 1), (72, 1), (71, 1), (69, 1)],
    [(67, 1), (69, 1), (71, 1), (72, 1), (74, 1), (72, 1), (71, 1), (69, 1)],
    [(67, 4), (71, 2), (74, 2)], [(72, 4), (69, 2), (66, 2)],
    [(67, 2), (71, 2), (74, 2), (79, 2)], [(74, 2), (72, 2), (69, 4)],
    [(71, 4), (74, 2), (71, 2)], [(69, 2), (66, 2), (67, 4)],
] * 3


def test_an_ambiguous_first_phrase_is_settled_by_what_follows():
    result, follower = run(tune("ambiguous", Meter(4, 4), AMBIGUOUS), Meter(4, 4))
    assert result.bars_to_bar is not None and result.bars_to_bar <= 8
    assert follower.bar_confidence > 0.5


def _tapped_early(perf) -> BeatFollower:
    """A 6/8 follower told the played tempo by a tap three beats before the first note."""
    played = perf.beat_times
    follower = BeatFollower(Meter(6, 8), 100.0)
    period = played[1] - played[0]
    follower.seed(60.0 / period, played[0] - 3 * period, on_beat=True)
    return follower


def test_a_bar_found_wrong_moves_at_a_phrase_end_without_replaying_a_beat():
    # The tap puts the follower's downbeats on the jig's second beats; the jig (long notes
    # and chords on its downbeats) moves the bar after a long note, one number skipped
    # and none given twice.
    perf = perform(tune("jig", Meter(6, 8), JIG, unit=4), 3, FLAT)
    played = perf.beat_times
    tr = follow(perf.onsets, played, Meter(6, 8), follower=_tapped_early(perf))
    steps = np.diff(tr.numbers).astype(int)
    assert tr.follower.bar_moves == 1
    assert set(steps) == {1, 2}  # never replayed, at most one number dropped
    moved = int(np.flatnonzero(steps == 2)[0]) + 1  # the played beat where it moved
    assert moved <= 8 * 2  # within eight bars
    assert tr.downbeats_right(2, moved)
    # The onset that moved it came after a note a beat long (a phrase end).
    follower = _tapped_early(perf)
    times = [t for t, _p, _v in perf.onsets]
    heard = 0
    while not follower.bar_moves:
        t, pitch, velocity = perf.onsets[heard]
        follower.onset(t, pitch, velocity)
        follower.advance(t + 0.045)
        heard += 1
    assert times[heard - 1] - times[heard - 2] >= 0.9 * (played[1] - played[0])


def _moved_at(perf, follower: BeatFollower, moves: int) -> float:
    """The played time (in bars) of the onset at which ``follower`` made its ``moves``th
    bar move (inf if it never did), the onsets fed as the band reads them."""
    for t, pitch, velocity in perf.onsets:
        follower.onset(t, pitch, velocity)
        follower.advance(t + 0.045)
        if follower.bar_moves >= moves:
            return perf.beat_of(t) / perf.beats_per_bar
    return math.inf


def test_a_reel_of_even_eighths_has_a_wrong_bar_moved_once_the_reader_is_sure():
    # With a loose bar_margin (1 nat, the default before stop 23) its first notes put the
    # bar a beat off; with no note long enough to mark a phrase end, the reading that
    # leads waited bar_wait onsets (into the fifth bar). Far enough ahead (bar_sure) it
    # moves the bar at once, by the fifth bar's downbeat.
    perf = perform(tune("reel", Meter(4, 4), REEL), 0, FLAT)
    loose = FollowSettings(bar_margin=1.0)
    assert _moved_at(perf, BeatFollower(Meter(4, 4), 100.0, loose), 1) <= 0.5
    assert _moved_at(perf, BeatFollower(Meter(4, 4), 100.0, loose), 2) <= 4.1
    waiting = BeatFollower(Meter(4, 4), 100.0, FollowSettings(bar_margin=1.0, bar_sure=math.inf))
    assert _moved_at(perf, waiting, 2) >= 4.4


def test_a_reel_of_even_eighths_keeps_its_bar_when_the_first_notes_barely_lead():
    # The default bar_margin (2 nats) does not take the first notes' one-nat lead for a
    # reason to move the bar: the reel is on its downbeats from the start, never moved.
    result, follower = run(tune("reel", Meter(4, 4), REEL), Meter(4, 4))
    assert follower.bar_moves == 0
    assert result.downbeat_f1_2 == 1.0 and result.downbeat_f1_4 == 1.0


def test_the_status_shows_the_meter_heard_and_how_sure_the_follower_is():
    follower = BeatFollower(Meter(4, 4), 100.0)
    assert not follower.meter_auto and follower.meter_confidence == 1.0
    follower.configure(auto_meter=True)
    assert follower.meter_auto and follower.bar_confidence == 0.0
    perf = perform(tune("jig", Meter(6, 8), JIG, unit=4), 0, FLAT)
    for t, pitch, velocity in perf.onsets[:40]:
        follower.onset(t, pitch, velocity)
        follower.advance(t + 0.045)
    status = follower.status()
    assert status["meter"] == str(follower.meter) and status["meter_auto"]
    assert 0.0 <= status["bar_confidence"] <= 1.0 and 0.0 <= status["meter_confidence"] <= 1.0
    follower.configure(meter=Meter(3, 4))
    assert not follower.meter_auto and follower.meter == Meter(3, 4)





@pytest.mark.parametrize("style", [FLAT, DRIFTING])
def test_a_polka_played_to_a_box_told_no_meter_is_heard_in_simple_duple_time(style):
    # Its onsets, pitches and lengths come back every two and four beats, not every
    # three: 2/4 or 4/4 (which of the two, the notes alone do not say), never 3/4 or 6/8.
    t = tune("polka", Meter(2, 4), POLKA, [(62, 1), (64, 1)])
    _, follower = run(t, None, style)
    assert follower.meter in (Meter(2, 4), Meter(4, 4))
    assert follower.meter_confidence > 0.5


@pytest.mark.parametrize("style", [FLAT, DRIFTING])
def test_a_jig_played_to_a_box_told_no_meter_is_heard_in_six_eight(style):
    # Its eighths could be a simple beat's sixteenths, four to the beat: the compound
    # hearing, three eighths to the beat, takes over and the bar is the jig's.
    result, follower = run(tune("jig", Meter(6, 8), JIG, unit=4), None, style)
    assert follower.meter == Meter(6, 8) and result.meter_right
    assert result.kind == "same"
    assert result.downbeat_f1_4 >= IN_PHASE


def test_a_medley_from_a_polka_into_a_jig_is_heard_in_six_eight_by_its_end():
    # Once the simple hearing has held for the first bars, the compound one must win by
    # more to take over (late, it mostly took a simple tune for 6/8); a change of tune
    # still does. Allowed no late switch at all, the polka's meter would stay.
    polka = tune("polka", Meter(2, 4), POLKA).melody
    jig = tune("jig", Meter(6, 8), JIG, unit=4).melody
    bar = Meter(2, 4).ticks_per_bar
    after = -(-(polka[-1].onset + polka[-1].duration) // bar) * bar  # the next bar line
    medley = Tune("medley", Meter(2, 4), polka + [
        GridNote(n.pitch, n.onset + after, n.duration, 80) for n in jig], [])
    perf = perform(medley, 0, FLAT)
    for late_margin, heard in ((FollowSettings().kind_late_margin, Meter(6, 8)),
                               (math.inf, Meter(2, 4))):
        follower = BeatFollower(None, 100.0, FollowSettings(kind_late_margin=late_margin))
        simulate(perf, follower, measure_cost=False)
        assert follower.meter == heard


# A song in 8/4 as some collections write it: each bar two bars of 4/4 (a half note on
# their first beats, quarters after it, a whole note at each phrase end); a one-beat
# pickup. Units of a quarter (12 ticks).
SONG = [
    [(67, 2), (71, 1), (69, 1), (67, 2), (64, 1), (62, 1)],
    [(64, 2), (67, 1), (69, 1), (71, 4)],
    [(72, 2), (71, 1), (69, 1), (67, 2), (71, 1), (74, 1)],
    [(72, 2), (69, 1), (66, 1), (67, 4)],
] * 4


@pytest.mark.parametrize("seed", [0, 1])
def test_a_song_in_eight_four_with_a_pickup_is_read_in_phase(seed):
    # No meter of the reader's own has eight beats: it reads two bars of 4/4 a bar, and
    # the tune's start (a pickup just before the bar) tells which of them begins it.
    t = tune("song", Meter(8, 4), SONG, [(62, 1)], unit=12)
    result, _ = run(t, Meter(8, 4), seed=seed)
    assert result.downbeat_f1_4 >= IN_PHASE


# Two-bar figures of 2/4 played twice each, a run and a close; units of a sixteenth
# (3 ticks) for the busy tune, of an eighth (6 ticks) for the plain one.
FIGURES = [
    [(67, 1), (71, 1), (74, 1), (71, 1), (72, 1), (76, 1), (72, 1), (69, 1)],
    [(71, 1), (74, 1), (79, 1), (74, 1), (72, 2), (69, 2)],
] * 2 + [
    [(74, 1), (72, 1), (71, 1), (72, 1), (74, 1), (76, 1), (78, 1), (79, 1)],
    [(76, 1), (74, 1), (72, 1), (71, 1), (69, 2), (66, 2)],
] * 2


@pytest.mark.parametrize("seed", [0, 1])
def test_a_busy_tune_is_heard_in_two_four_and_the_same_figures_in_eighths_in_four_four(seed):
    # As such tunes are written: four notes a beat in bars of two beats, two a beat in
    # bars of four.
    busy = tune("busy", Meter(2, 4), FIGURES * 3, [(62, 2)], unit=3)
    result, follower = run(busy, None, seed=seed)
    assert follower.meter == Meter(2, 4) and result.meter_right
    assert result.downbeat_f1_4 >= IN_PHASE
    plain = tune("plain", Meter(4, 4), FIGURES * 3, [(62, 2)], unit=6)
    result, follower = run(plain, None, seed=seed)
    assert follower.meter == Meter(4, 4) and result.meter_right
    assert result.downbeat_f1_4 >= IN_PHASE


def test_the_notes_a_beat_speak_for_the_meters_written_in_such_notes():
    # Heard with no meter set: four notes a beat speak for 2/4 over 4/4 and 3/4 (2/4
    # tunes run in shorter notes), one a beat for 4/4 and 3/4 over 2/4.
    for per_beat in (4, 1):
        reader = BarReader(None)
        for k in range(32):
            reader.hear(k * 12 // per_beat, k * 0.6 / per_beat, 60 + k % 5, 0.0)
        density = reader.terms({"density"})["density"]
        tab = reader.tables
        part = {str(m): float(density[tab.meter_of == i][0]) for i, m in enumerate(tab.meters)}
        if per_beat == 4:
            assert part["2/4"] > max(part["4/4"], part["3/4"]) + 2.0
        else:
            assert min(part["4/4"], part["3/4"]) > part["2/4"] + 2.0


# A hymn in quarters, halves and a whole note at each phrase end, 4/4 (units of a
# quarter).
HYMN = [
    [(67, 1), (67, 1), (69, 1), (71, 1)], [(72, 2), (71, 2)],
    [(69, 1), (67, 1), (66, 1), (69, 1)], [(67, 4)],
    [(71, 1), (72, 1), (74, 1), (74, 1)], [(76, 2), (74, 2)],
    [(72, 1), (71, 1), (69, 2)], [(67, 4)],
] * 3


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_a_hymn_played_with_drift_to_a_box_told_no_meter_stays_in_four_four(seed):
    # Where the follower briefly takes another tempo at a held note (seed 1), the notes
    # heard before, placed on that tempo's beats, read as 3/4; the reader drops them and
    # the bar stays the hymn's.
    result, follower = run(tune("hymn", Meter(4, 4), HYMN, [(62, 1)], unit=12), None,
                           DRIFTING, seed)
    assert follower.meter == Meter(4, 4) and result.meter_right
    assert result.downbeat_f1_4 >= IN_PHASE


@pytest.mark.parametrize("style", [FLAT, DRIFTING])
def test_a_waltz_opening_with_a_hemiola_is_heard_in_three_four_within_eight_bars(style):
    # Three half notes over its first two bars sound duple, then the waltz proper: the
    # meter taken on the opening gives way to 3/4 by the first phrase end (it held until
    # bar 12 to 14 when a meter, once taken, needed meter_margin to be replaced).
    t = tune("waltz", Meter(3, 4), [[(65, 2), (69, 2), (72, 2)], *WALTZ], unit=12)
    result, follower = run(t, None, style)
    assert follower.meter == Meter(3, 4) and result.meter_right
    assert result.bars_to_bar is not None and result.bars_to_bar <= 8


def test_onsets_placed_again_on_a_new_grid_stay_on_the_beats_places():
    """When the follower moves to another tempo the onsets heard are placed again on its
    grid, each on the nearest place in the beat where onsets are heard: a tune begun on
    its downbeat, re-placed by a grid that puts its first note a little early, still
    begins on the bar line, and where it began still tells a downbeat start from a
    half-bar pickup."""
    reader = BarReader(Meter(4, 4))
    quarters = [0, 1, 2, 3, 4, 6, 8, 9, 10, 11, 12, 14]  # beats; halves at each bar's end
    for k, beat in enumerate(quarters):
        reader.hear(beat * TICKS_PER_BEAT, beat * 0.5, 60 + k % 5, 0.0)

    def start_lead() -> float:
        start, phase = reader.terms({"start"})["start"], reader.tables.phase
        return float(start[phase == 0][0] - start[phase == 2][0])

    before = start_lead()
    assert before > 1.0
    reader.remap(lambda t: t / 0.5 * 1.01 - 0.08)  # a slightly slower grid, a bit early
    assert reader.first[0] == 0
    placed = reader.x[: len(quarters)]
    assert np.all(np.diff(placed) > 0)
    assert set(placed % TICKS_PER_BEAT) <= set(SIMPLE_OFFSETS)
    assert start_lead() == pytest.approx(before)


def _rival_leads_from(follower: BeatFollower, onset: int, lead: float) -> list[float]:
    """From the reader's ``onset``-th onset on, the reading a beat after the bar in use
    leads it by ``lead`` (as a passage whose notes speak for another bar would).
    Returns a list that gets the time of the first onset so scored."""
    reader = follower._reader
    score = reader._score
    since: list[float] = []

    def biased() -> np.ndarray:
        scores = score()
        if reader.count >= onset:
            since.append(since[0] if since else float(reader.time[(reader.count - 1)
                                                                  % reader.history]))
            rival = np.flatnonzero(reader.tables.phase == 1)[0]
            scores[rival] = max(scores) + lead
        return scores

    reader._score = biased
    return since


@pytest.mark.parametrize("lead", [4.0, 8.0])
def test_a_bar_that_has_held_for_bars_moves_only_for_a_clear_lead(lead):
    # A polka followed in phase from its first bars: sixteen bars in, a rival reading
    # leads by 4 nats, enough to move a bar just found (bar_margin, 2) but not one
    # that has held for bar_settled_onsets onsets without the beat moving; by 8
    # (over bar_settled_margin) it moves even a settled bar, at the next phrase end.
    perf = perform(tune("polka", Meter(2, 4), POLKA), 0, FLAT)
    settings = FollowSettings()
    assert settings.bar_margin < 4.0 < settings.bar_settled_margin < 8.0
    assert _moved_at(perf, BeatFollower(Meter(2, 4), 100.0, settings), 1) == math.inf
    onsets_by_bar_16 = sum(perf.beat_of(t) < 2 * 16 for t, _p, _v in perf.onsets)
    assert onsets_by_bar_16 > settings.bar_settled_onsets
    for settled, moves in ((settings.bar_settled_onsets, lead > 4.0), (0, True)):
        follower = BeatFollower(Meter(2, 4), 100.0, replace(settings, bar_settled_onsets=settled))
        since = _rival_leads_from(follower, onsets_by_bar_16, lead)
        moved = _moved_at(perf, follower, 1)
        assert (moved < math.inf) == moves, (settled, lead, moved)
        if moves:  # at a phrase end within four bars of the lead
            led = perf.beat_of(since[0]) / 2
            assert led <= moved <= led + 4
