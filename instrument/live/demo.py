"""``instrument demo``: the whole partner in a few seconds, with nobody at the keyboard.

A short public-domain tune shipped with the package (the opening of a reel from
music21's corpora, ``instrument/tunes``), or the user's own MIDI file, is played into
the live instrument as if a player played it: each message enters where a controller's
would (stamped, checked, to the engine and to the player's synth at once), in real time.
The instrument accompanies it and, when the phrase ends, answers it; the session is
recorded and sent to MIDI out as any live session is. The demo ends when the answer has
ended (or a time limit passes).
"""

from __future__ import annotations

import logging
import threading
import time
from dataclasses import dataclass
from pathlib import Path

from instrument.live.one_process import OneProcessInstrument
from instrument.midifile.performance import MidiPerformance, read_performance
from instrument.realtime.router import MidiThreadInput

log = logging.getLogger(__name__)

DEMO_SEED = 0  # the models sample the same answer at every demo ([models] seed overrides)
DEMO_TUNE = Path(__file__).resolve().parents[1] / "tunes" / "reel_4-4.mid"
DEMO_BARS = 4
ANSWER_BEATS = 8.0  # the longest answer the demo waits for


def opening(performance: MidiPerformance, bars: int) -> MidiPerformance:
    """The first ``bars`` bars (from the first note), every note ended by their end."""
    if not performance.events:
        return performance
    beat = 60.0 / performance.bpm
    first = performance.events[0][0]
    bar = performance.meter.beats_per_bar * beat
    end = first + bars * bar - 1e-6 if bars > 0 else float("inf")
    kept, sounding = [], set()
    for t, message in performance.events:
        if t >= end:
            break
        kept.append((t, message))
        if message[0] == 0x90:
            sounding.add(message[1])
        elif message[0] == 0x80:
            sounding.discard(message[1])
    kept += [(end, (0x80, pitch, 0)) for pitch in sorted(sounding)]
    return MidiPerformance(kept, performance.meter, performance.bpm)


@dataclass
class DemoResult:
    notes_played: int
    responses: int
    seconds: float


def play(session: OneProcessInstrument, performance: MidiPerformance, timeout: float) -> DemoResult:
    """Play ``performance`` into the running ``session`` in real time, then wait for the
    instrument's answer to end (at most ``timeout`` seconds in all)."""
    sound = session.sound_side
    outgoing = sound.outgoing

    def forward(message) -> None:  # the player's notes on MIDI out too, as a key's would
        if outgoing is not None:
            sound.player_out.send_now(outgoing, message)

    player = MidiThreadInput(
        session.queue.ring(), session.queue.wakeup, session.clock.now, session.thru, forward
    )
    started = time.monotonic()
    notes = 0
    for t, message in performance.events:
        delay = started + t - time.monotonic()
        if delay > 0 and session.stop_requested.wait(delay):
            break
        player(list(message))
        notes += message[0] & 0xF0 == 0x90 and message[2] > 0
    band = session.band
    answered = threading.Event()
    while not session.stop_requested.wait(0.05):
        responder = band.responder
        if responder.responses and not responder.responding:
            answered.set()
            break
        if time.monotonic() - started > timeout:
            log.warning("demo: no answer had ended after %.0f s; stopping", timeout)
            break
    if answered.is_set():
        session.stop_requested.wait(1.0)  # the answer's last note rings out
    return DemoResult(notes, band.responder.responses, time.monotonic() - started)


def load(tune: Path | None, tempo: float | None, bars: int = DEMO_BARS) -> MidiPerformance:
    """The demo's performance: ``tune`` (default the shipped reel) at ``tempo``."""
    performance = read_performance(tune or DEMO_TUNE, tempo)
    return opening(performance, bars) if tune is None else performance
