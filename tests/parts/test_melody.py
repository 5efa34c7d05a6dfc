from instrument.parts.melody import MelodyLine


def test_chord_keeps_its_top_note_and_sequential_notes_follow_in_order():
    line = MelodyLine(chord_window=0.04)
    line.note_on(60, 80, 0.00)
    line.note_on(64, 80, 0.01)  # same chord, higher: the melody
    line.note_on(55, 80, 0.02)  # same chord, lower: accompaniment
    line.note_on(62, 90, 0.50)  # later and lower: the next melody note (descending line)
    line.note_off(64, 0.55)  # already cut at 0.50
    line.note_off(62, 0.90)
    done = line.take_completed()
    assert [(n.pitch, n.onset, n.end) for n in done] == [(64, 0.0, 0.5), (62, 0.5, 0.9)]
    assert [n.pitch for n in line.take_onsets()] == [64, 62]
    assert not line.sounding
