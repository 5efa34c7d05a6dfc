"""Fast checks on raw MIDI messages, safe to call inside real-time callbacks.

Live input is untrusted: a broken cable, a buggy app or a hostile sender can deliver
truncated messages, stray data bytes, SysEx floods or messages we do not use. These
helpers classify a message (a tuple, a list or bytes) by its values without
allocating, so the input rings (``instrument.realtime.input_ring``) can drop what they
cannot use and count it. The engine works on the checked byte tuples directly; mido is
used only to write files.
"""

from __future__ import annotations

from collections.abc import Sequence

NOTE_OFF = 0x80
NOTE_ON = 0x90
CONTROL_CHANGE = 0xB0
PROGRAM_CHANGE = 0xC0
PITCH_BEND = 0xE0
SYSEX = 0xF0
SONG_POSITION = 0xF2  # Song Position Pointer: LSB, MSB of sixteenths from the start
CLOCK = 0xF8
START = 0xFA
CONTINUE = 0xFB
STOP = 0xFC

CC_SUSTAIN = 64
CC_ALL_SOUND_OFF = 120
CC_ALL_NOTES_OFF = 123

# Expected total length of channel messages by high nibble.
_CHANNEL_LENGTH = {0x80: 3, 0x90: 3, 0xA0: 3, 0xB0: 3, 0xC0: 2, 0xD0: 2, 0xE0: 3}
# System messages we accept (realtime ones are a single byte).
_SYSTEM_LENGTH = {CLOCK: 1, START: 1, CONTINUE: 1, STOP: 1, 0xFE: 1, 0xFF: 1, 0xF1: 2,
                  SONG_POSITION: 3, 0xF3: 2, 0xF6: 1}

# Reasons a message is not used; counted by the callbacks and logged by the engine.
MALFORMED = "malformed"
SYSEX_DROPPED = "sysex"
UNUSED = "unused"


def check(message: Sequence[int]) -> str | None:
    """Return None for a well-formed message we may use, else the reason to drop it."""
    n = len(message)
    if n == 0:
        return MALFORMED
    status = message[0]
    if status < 0x80:
        return MALFORMED
    if status == SYSEX:
        return SYSEX_DROPPED
    if status >= 0xF0:
        expected = _SYSTEM_LENGTH.get(status)
        if expected is None or n != expected:
            return MALFORMED
    else:
        if n != _CHANNEL_LENGTH[status & 0xF0]:
            return MALFORMED
    for i in range(1, n):
        if message[i] > 0x7F:
            return MALFORMED
    return None


def channel_of(status: int) -> int:
    """1..16 for channel messages, 0 for system messages."""
    return (status & 0x0F) + 1 if status < 0xF0 else 0


def is_note_on(message: Sequence[int]) -> bool:
    return message[0] & 0xF0 == NOTE_ON and message[2] > 0


def is_note_off(message: Sequence[int]) -> bool:
    kind = message[0] & 0xF0
    return kind == NOTE_OFF or (kind == NOTE_ON and message[2] == 0)


def is_panic(message: Sequence[int]) -> bool:
    """CC 120 (all sound off) or CC 123 (all notes off)."""
    return message[0] & 0xF0 == CONTROL_CHANGE and message[1] in (
        CC_ALL_SOUND_OFF,
        CC_ALL_NOTES_OFF,
    )


def accepts_channel(status: int, listen: int) -> bool:
    """Channel filter: ``listen`` 0 is omni; system messages always pass."""
    return listen == 0 or status >= 0xF0 or (status & 0x0F) + 1 == listen
