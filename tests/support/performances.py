"""Generated performances: random tunes as a player might play them, for property tests.

Each has a meter, a tempo, an upbeat or not, notes of mixed lengths (some legato, some
detached), pauses, sometimes the sustain pedal, and an ending at any point of a beat.
Seeded: the same seed gives the same performance.
"""

from __future__ import annotations

import random

from instrument.midifile.performance import MidiPerformance
from instrument.music import Meter

METERS = (Meter(4, 4), Meter(3, 4), Meter(2, 4), Meter(5, 4), Meter(6, 8), Meter(9, 8))
BEATS = (0.25, 1 / 3, 0.5, 0.75, 1.0, 1.5, 2.0, 3.0)


def performance(seed: int) -> MidiPerformance:
    r = random.Random(seed)
    meter = r.choice(METERS)
    bpm = r.uniform(40.0, 200.0)
    beat = 60.0 / bpm
    t = r.choice((0.0, 0.0, 0.5, 0.75, 1.0 / 3.0, 2.5, r.random() * 4)) * beat  # upbeats
    events: list[tuple[float, tuple[int, ...]]] = []
    pedal = False
    for _ in range(r.randint(1, 60)):
        length = r.choice(BEATS) * beat
        pitch = r.randint(40, 90)
        notes = [pitch] + ([pitch - r.choice((3, 4, 7))] if r.random() < 0.15 else [])
        for p in notes:
            events.append((t, (0x90, p, r.randint(1, 127))))
            events.append((t + length * r.uniform(0.3, 1.05), (0x80, p, 0)))
        if r.random() < 0.1:
            pedal = not pedal
            events.append((t + r.random() * length, (0xB0, 64, 127 if pedal else 0)))
        t += length * r.uniform(0.97, 1.03)
        if r.random() < 0.1:
            t += r.uniform(0.2, 4.0)  # a pause
    if pedal:
        events.append((t, (0xB0, 64, 0)))
    events.sort(key=lambda e: (e[0], e[1][0] != 0x80))
    return MidiPerformance(events, meter, bpm)
