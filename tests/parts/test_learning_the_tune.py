"""What the parts learn during a tune, live on the offline clock: it outlives a panic; a
program change or a long silence starts a new tune with empty memories; the Markov
model keeps what it learned for the gig."""

from __future__ import annotations

from instrument.realtime.router import InputEvent

from .test_band import BEAT, rig

#: Two bars in G, eighths: played twice over, it is a tune with a repeat.
PHRASE = [67, 71, 74, 71, 79, 74, 71, 74, 74, 78, 81, 78, 74, 72, 69, 66]


def play_phrase(engine, start_beat: float, times: int = 2) -> float:
    """Queue the phrase ``times`` times from ``start_beat``; the beat after its end."""
    beat = start_beat
    for _ in range(times):
        for pitch in PHRASE:
            engine.submit(InputEvent(beat * BEAT, (0x90, pitch, 90)))
            engine.submit(InputEvent((beat + 0.5) * BEAT, (0x80, pitch, 0)))
            beat += 0.5
    return beat


def learned(band) -> tuple[int, int]:
    """(beats in the accompaniment's tune memory, notes in the continuation's copy)."""
    return band.accompaniment.memory.beats, band.responder.memory.notes


def test_the_parts_learn_the_tune_and_a_panic_keeps_it():
    engine, band, _ = rig("accompany+continue")
    end = play_phrase(engine, 0)
    engine.advance_to(end * BEAT)
    beats, notes = learned(band)
    assert beats >= 12 and notes == 2 * len(PHRASE)
    assert any(label is not None for label in band.accompaniment.memory.labels)
    engine.submit(InputEvent(end * BEAT, (0xB0, 123, 0)))  # panic
    engine.advance_to(end * BEAT + 0.01)
    assert learned(band) == (beats, notes)


def test_a_program_change_starts_a_new_tune():
    engine, band, _ = rig("accompany+continue")
    end = play_phrase(engine, 0)
    engine.advance_to(end * BEAT)
    online = band.responder.markov.online_pitch.tables
    contexts = [dict(t) for t in online]
    assert learned(band)[0] > 0 and learned(band)[1] > 0 and contexts[1]
    engine.submit(InputEvent(end * BEAT, (0xC0, 3)))
    engine.advance_to(end * BEAT + 0.01)
    assert learned(band) == (0, 0)
    assert band.accompaniment.memory.recollection is None
    assert band.responder.markov.online_pitch.tables == contexts  # the gig is remembered


def test_a_long_silence_starts_a_new_tune():
    engine, band, out = rig("accompany+continue")
    end = play_phrase(engine, 0)
    engine.advance_to(end * BEAT + 20.0)
    first = learned(band)
    assert first[0] > 0 and first[1] > 0
    silent_from = max(e.due for e in out.events)  # the answer and the chords are over
    assert silent_from < end * BEAT + 19.0
    gap = band.settings.new_tune_after + 1.0
    again = (silent_from + gap) / BEAT
    play_phrase(engine, again, times=1)
    engine.advance_to((again + 4) * BEAT)
    beats, notes = learned(band)
    assert 0 < notes <= len(PHRASE)  # only the new tune's notes so far
    assert 0 < beats <= 6  # the beats since the new tune began


def test_a_pause_shorter_than_a_new_tunes_keeps_the_tune():
    engine, band, out = rig("accompany+continue")
    end = play_phrase(engine, 0)
    engine.advance_to(end * BEAT + 20.0)
    before = learned(band)
    silent_from = max(e.due for e in out.events)
    # The pause counts from the last note of either side (the answer and the chords end
    # after the player's last note), and is shorter than a new tune's.
    again = (silent_from + band.settings.new_tune_after - 2.0) / BEAT
    assert again * BEAT - end * BEAT > 2.0
    play_phrase(engine, again, times=1)
    engine.advance_to((again + 4) * BEAT)
    beats, notes = learned(band)
    assert notes > before[1] and beats > before[0]
