import pytest

from instrument.midi import messages as mm


@pytest.mark.parametrize(
    "message",
    [[0x90, 60, 100], [0x80, 60, 0], [0xB3, 64, 127], [0xC0, 5], [0xE0, 0, 64], [0xF8], [0xFA]],
)
def test_well_formed_messages_pass(message):
    assert mm.check(message) is None


@pytest.mark.parametrize(
    ("message", "reason"),
    [
        ([], mm.MALFORMED),
        ([0x90, 60], mm.MALFORMED),  # truncated
        ([0x90, 60, 100, 5], mm.MALFORMED),  # too long
        ([0x45, 0x12], mm.MALFORMED),  # running status / stray data bytes
        ([0x90, 200, 100], mm.MALFORMED),  # data byte with the top bit set
        ([0xF4], mm.MALFORMED),  # undefined system message
        ([0xF8, 1], mm.MALFORMED),
        ([0xF0, 0x7E, 1, 2, 0xF7], mm.SYSEX_DROPPED),
    ],
)
def test_bad_or_unused_messages_are_classified(message, reason):
    assert mm.check(message) == reason


def test_note_on_with_zero_velocity_is_a_note_off():
    assert mm.is_note_off([0x90, 60, 0]) and not mm.is_note_on([0x90, 60, 0])
    assert mm.is_note_on([0x91, 60, 1])


def test_panic_and_channel_filter():
    assert mm.is_panic([0xB0, 123, 0]) and mm.is_panic([0xBF, 120, 0])
    assert not mm.is_panic([0xB0, 64, 127])
    assert mm.accepts_channel(0x92, 0)
    assert mm.accepts_channel(0x92, 3) and not mm.accepts_channel(0x92, 2)
    assert mm.accepts_channel(0xF8, 5)
