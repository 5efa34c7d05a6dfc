"""Hypothesis strategies for hostile MIDI: raw bytes, broken and valid messages, SysEx,
system messages, and the controls a performer (or a broken cable) can send."""

from __future__ import annotations

from hypothesis import strategies as st

BYTE = st.integers(0, 255)
DATA = st.integers(0, 127)
CHANNEL = st.integers(0, 15)
CONTROLS = st.sampled_from([0, 1, 7, 20, 21, 22, 23, 24, 25, 26, 27, 64, 120, 121, 123, 127])

raw = st.lists(BYTE, min_size=0, max_size=12)
notes = st.builds(lambda kind, ch, p, v: [kind | ch, p, v],
                  st.sampled_from([0x80, 0x90]), CHANNEL, DATA, DATA)
control_changes = st.builds(lambda ch, cc, v: [0xB0 | ch, cc, v],
                            CHANNEL, st.one_of(CONTROLS, DATA), DATA)
other_channel = st.builds(lambda s, ch, d: [s | ch, *d],
                          st.sampled_from([0xA0, 0xC0, 0xD0, 0xE0]), CHANNEL,
                          st.lists(DATA, min_size=1, max_size=2))
truncated_or_bad_data = st.builds(lambda s, d: [s, *d], st.integers(0x80, 0xEF),
                                  st.lists(BYTE, min_size=0, max_size=4))
sysex = st.builds(lambda body, end: [0xF0, *body, *end], st.lists(BYTE, max_size=40),
                  st.sampled_from([[0xF7], []]))
system = st.builds(lambda s, d: [s, *d],
                   st.integers(0xF1, 0xFF), st.lists(BYTE, min_size=0, max_size=3))

#: One message as it could arrive from a JACK client, valid or not.
message = st.one_of(raw, notes, control_changes, other_channel, truncated_or_bad_data,
                    sysex, system)

#: What python-rtmidi agrees to send (non-empty; longer than 3 bytes only as SysEx).
rtmidi_message = message.filter(lambda m: len(m) > 0 and (len(m) <= 3 or m[0] == 0xF0))


def well_formed(message: tuple[int, ...]) -> bool:
    """A complete MIDI message: a status byte, data bytes < 0x80, the right length."""
    lengths = {0x80: 3, 0x90: 3, 0xA0: 3, 0xB0: 3, 0xC0: 2, 0xD0: 2, 0xE0: 3}
    if not message or message[0] < 0x80 or any(b > 0x7F for b in message[1:]):
        return False
    status = message[0]
    if status < 0xF0:
        return len(message) == lengths[status & 0xF0]
    if status == 0xF0:
        return message[-1] == 0xF7
    return len(message) == {0xF1: 2, 0xF2: 3, 0xF3: 2}.get(status, 1)
