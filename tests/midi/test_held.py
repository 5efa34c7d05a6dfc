from instrument.midi.held import HeldNotes


def test_without_pedal_a_release_stops_the_note():
    held = HeldNotes()
    held.note_on(60)
    assert held.note_off(60) is True
    assert held.sounding() == set()


def test_pedal_holds_released_notes_until_lifted():
    held = HeldNotes()
    held.note_on(60)
    held.pedal(True)
    held.note_on(64)
    assert held.note_off(60) is False and held.note_off(64) is False
    assert held.sounding() == {60, 64}
    held.note_on(67)
    assert held.pedal(False) == [60, 64]
    assert held.sounding() == {67}


def test_restruck_sustained_note_is_held_again_not_released_by_pedal():
    held = HeldNotes()
    held.pedal(True)
    held.note_on(60)
    held.note_off(60)
    held.note_on(60)
    assert held.pedal(False) == []
    assert held.note_off(60) is True


def test_stray_note_off_is_ignored_and_clear_returns_all():
    held = HeldNotes()
    assert held.note_off(61) is False
    held.note_on(60)
    held.pedal(True)
    held.note_on(62)
    held.note_off(62)
    assert held.clear() == [60, 62]
    assert not held.pedal_down
