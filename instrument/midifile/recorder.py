"""Recording every session as a Standard MIDI File a producer can open in a DAW.

A type-1 file: a conductor track (tempo, meter) and one named track per part that
played (``SOUNDING_PARTS``: "player", "accompaniment", "continuation", "bass", "drums"),
each part on its own channel (by default ``MidiConfig``'s: the drums on 10). The engine
hands every event over with ``play`` (and cuts with ``cancel`` and ``panic``) by
appending to a deque: it never waits for the recorder. Every ``flush_interval`` seconds
the recorder's thread takes what arrived, encodes the events that have happened (each
exactly once, with mido), and appends them to the file in place
(``instrument.midifile.growing_smf``): a flush costs what is new, the same in the third
hour of a gig as in the first minute, and is skipped when nothing is. A crash or a
SIGKILL leaves a complete, readable file that lacks at most the last interval. A full
disk is warned about once; playing goes on and the file catches up when there is room
again.

When the beat follows the player (``BeatClock.follows_player``, or ``hindsight=True``) the
file is laid in hindsight (``instrument.midifile.hindsight``): at each flush the tempo map,
the bar lines and the events of the last ``TAIL_BEATS`` beats are laid anew from
everything heard (one continuous beat sequence, smoothed to the onsets, the bar read over
the whole performance); older ones are frozen and appended once; a new bar phase rewrites
each track's first delta (a whole-file atomic rewrite). At close the bar is read bar by bar
over the whole performance; where it moved within it, the whole file is laid again (the
events are kept for this). The file's tick 0 is a bar line,
up to a bar before the session's start.

Otherwise the conductor track follows the beat clock (``BeatClock``): at each flush the file's beat
is brought to the clock's, so its bar lines fall where the music's do, with a tempo event
wherever the tempo changed. While the clock stands still (before the first note, in thru
mode) the file keeps its last tempo; when the clock starts, the file's next bar line is
placed on the clock's.
"""

from __future__ import annotations

import logging
import threading
import time
from collections import deque
from collections.abc import Callable
from pathlib import Path

import mido
from mido.midifiles.meta import encode_variable_int

from instrument.config import MidiConfig
from instrument.engine.engine import TimedEvent
from instrument.midi import messages as mm
from instrument.midifile.growing_smf import GrowingSmf
from instrument.midifile.hindsight import Hindsight, Layout
from instrument.music import Meter
from instrument.names import Part
from instrument.timing.beat import BeatClock, BeatMapping, beat_at
from instrument.timing.tempo_map import (
    FILE_TICKS_PER_QUARTER,
    beat_quarters,
    file_tempo_at_speed,
    file_tick,
)

log = logging.getLogger(__name__)

CONDUCTOR = "instrument"
#: The file's tempo follows the clock within this range of grid beats per second.
MIN_SPEED, MAX_SPEED = 10.0 / 60.0, 600.0 / 60.0
#: ...and as fast as this to reach a bar line in silence before the clock starts.
MAX_ALIGN_SPEED = 1000.0
_ANCHORS_KEPT = 32  # past tempo segments kept to place an event that arrives late
#: A flush takes what happened until this long ago, and no later than the engine has
#: handled its inputs (``progress``): a note that starts the beat clock has started it.
HORIZON_LAG = 0.1
_CANCEL, _PANIC = "cancel", "panic"


def session_path(directory: Path, started: float | None = None) -> Path:
    """``session-YYYYmmdd-HHMMSS.mid`` in ``directory``; never overwrites a file."""
    stamp = time.strftime("%Y%m%d-%H%M%S", time.localtime(started or time.time()))
    path = directory / f"session-{stamp}.mid"
    n = 1
    while path.exists():
        n += 1
        path = directory / f"session-{stamp}-{n}.mid"
    return path


#: Clock changes smaller than this (tempo share, beats of phase) make no tempo event of
#: their own: the next segment takes them up.
NUDGE_TEMPO, NUDGE_PHASE = 0.003, 0.02


def _close_to(old: BeatMapping, new: BeatMapping, t: float) -> bool:
    return (abs(new[2] / old[2] - 1.0) < NUDGE_TEMPO
            and abs(beat_at(new, t) - beat_at(old, t)) < NUDGE_PHASE)


def _events(messages: list, first_delta: int = 0) -> bytes:
    """Messages as track bytes: the first ``first_delta`` ticks after the previous event,
    the others at the same tick."""
    out = bytearray()
    delta = first_delta
    for message in messages:
        out += bytes(encode_variable_int(delta)) + bytes(message.bytes())
        delta = 0
    return bytes(out)


def _recordable(message: tuple[int, ...], channel: int) -> mido.Message | None:
    """The message as it goes into the file, on ``channel`` (0..15), or None."""
    status = message[0]
    if status >= 0xF0:
        return None
    kind = status & 0xF0
    if kind == mm.NOTE_ON and message[2] == 0:
        return mido.Message("note_off", channel=channel, note=message[1])
    if kind in (mm.NOTE_ON, mm.NOTE_OFF, mm.CONTROL_CHANGE, mm.PITCH_BEND, mm.PROGRAM_CHANGE):
        return mido.Message.from_bytes([kind | channel, *message[1:]])
    return None


def _kept(events) -> list[tuple[float, bytes | mido.MetaMessage]]:
    """Frozen ``events`` (time, message) as a track keeps them: channel messages as bytes."""
    return [(t, m if m.is_meta else bytes(m.bin())) for t, m in events]


def _message(kept: bytes | mido.MetaMessage) -> mido.Message | mido.MetaMessage:
    """A kept event's message again (see :func:`_kept`)."""
    return mido.Message.from_bytes(kept) if isinstance(kept, bytes) else kept


class _Track:
    """One part's events not yet due, and where its last encoded event sits.

    Laid in hindsight, a track's bytes are ``head`` (its name; the conductor's first
    tempo and meter too), the delta of its first frozen event from the file's start,
    ``body`` (the frozen events, the first without its delta) and the tail (events laid
    anew at each flush, ``tail``); ``first`` and ``last_tick`` are the frozen events'
    first and last ticks from beat 0 (without the layout's offset)."""

    def __init__(self, index: int, channel: int, head: bytes = b"") -> None:
        self.index = index
        self.channel = channel
        self.last_tick = 0
        self.pending: list[tuple[float, tuple[int, ...]]] = []
        self.head = head
        self.first: int | None = None
        self.body = bytearray()
        self.tail: list[tuple[float, mido.Message | mido.MetaMessage]] = []
        #: The frozen events as laid (time, message), kept in hindsight: a new beat unit
        #: (the meter heard) or a bar moved at close lays them all again. A channel
        #: message is kept as its bytes (:func:`_kept`): about 12 MB per 100,000 events
        #: against 33 MB as mido messages, for a session that may run for hours.
        self.frozen: list[tuple[float, bytes | mido.MetaMessage]] | None = None
        self.stable = len(head)  # bytes of the track in the file that stay as they are

    def unfreeze(self) -> None:
        """Forget the encoded body: the frozen events are laid again with the tail."""
        self.tail = [(t, _message(m)) for t, m in self.frozen or []] + self.tail
        self.frozen = [] if self.frozen is not None else None
        self.first = None
        self.last_tick = 0
        self.body = bytearray()

    def prefix(self, offset: int) -> bytes:
        """Head and the first frozen event's delta, with the layout's ``offset``."""
        if self.first is None:
            return self.head
        return self.head + bytes(encode_variable_int(max(0, self.first + offset)))


class SmfRecorder:
    """An engine output that records events with their due times (see module doc).

    ``beat`` is the beat clock the conductor track follows; without one the file has a
    fixed ``tempo_bpm`` (quarter notes a minute) and ``meter`` from ``start_time``.
    ``progress`` says until when the engine has handled its inputs (``Engine``'s
    ``handled_until``).
    """

    def __init__(
        self,
        path: Path,
        start_time: float,
        now: Callable[[], float],
        beat: BeatClock | None = None,
        tempo_bpm: float = 120.0,
        meter: tuple[int, int] = (4, 4),
        flush_interval: float = 0.5,
        channels: dict[str, int] | None = None,
        progress: Callable[[], float] | None = None,
        hindsight: bool | None = None,
        hear_meter: bool = False,
    ) -> None:
        self.path = path
        self.start_time = start_time
        self.now = now
        if beat is None:
            fixed_meter = Meter(*meter)
            beat = BeatClock(tempo_bpm / beat_quarters(fixed_meter), fixed_meter)
            beat.start(start_time)
        self.beat = beat
        self.flush_interval = flush_interval
        self._progress = progress
        self.channels = channels or MidiConfig().channels()
        self._inbox: deque[TimedEvent | tuple[str, str, float]] = deque()
        self._file = GrowingSmf(path, FILE_TICKS_PER_QUARTER)
        self._tracks: dict[str, _Track] = {}
        # The file's time line: (time, file beat, beats per second) from each anchor on.
        meter_now = beat.meter
        self._meter = meter_now
        speed = 1.0 / beat.seconds_per_beat
        self._start_speed = speed
        self._anchors: deque[tuple[float, float, float]] = deque(maxlen=_ANCHORS_KEPT)
        self._anchors.append((start_time, 0.0, speed))
        self._offset: float | None = None  # file beat minus clock beat while it runs
        self._cursor = 0  # the beat clock's changes read so far
        self._state: tuple[bool, BeatMapping] = (False, beat.mapping())
        self._tempo_us = file_tempo_at_speed(speed, meter_now)
        self._conductor_tick = 0
        if hindsight is None:
            hindsight = beat.follows_player
        self.hindsight: Hindsight | None = None
        #: In hindsight, at close, the bar was read to move within the performance: the
        #: whole file was laid again on the moved bar (``instrument.midifile.bar_path``).
        self.bar_moved_at_close = False
        if hindsight:
            ticks = round(FILE_TICKS_PER_QUARTER * beat_quarters(meter_now))
            self.hindsight = Hindsight(start_time, beat, None if hear_meter else meter_now,
                                       ticks)
            self._layout: Layout | None = None
            name = _events([mido.MetaMessage("track_name", name=CONDUCTOR)])
            self._conductor = _Track(self._file.add_track(name), 0, name)
            self._knots_done = 1  # the first knot whose tempo event is not frozen
            self._frozen_tempo: int | None = None  # the last frozen tempo event's
            self.relaid = 0  # events laid again in a tail
            self.full_relayouts = 0  # layouts that moved the frozen part (a new bar)
        else:
            self._file.add_track(_events([
                mido.MetaMessage("track_name", name=CONDUCTOR),
                mido.MetaMessage("set_tempo", tempo=self._tempo_us),
                self._time_signature(meter_now),
            ]))
        self._track(Part.PLAYER)
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self.write_failures = 0
        self.writes = 0
        self.encoded = 0  # events encoded so far (each exactly once)

    # -- engine output (engine thread: appends only) ---------------------------------

    def play(self, event: TimedEvent) -> None:
        self._inbox.append(event)

    def cancel(self, part: str, now: float) -> None:
        """A part was cut short: its events after ``now`` never happened."""
        self._inbox.append((_CANCEL, part, now))

    def panic(self, now: float) -> None:
        """What was planned for later never happened: drop it."""
        self._inbox.append((_PANIC, "", now))

    # -- lifecycle ---------------------------------------------------------------------

    def start(self) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self.flush()
        self._thread = threading.Thread(target=self._run, name="recorder", daemon=True)
        self._thread.start()

    @property
    def alive(self) -> bool:
        """False if the recorder's thread died (it is started and not told to stop)."""
        thread = self._thread
        return thread is None or thread.is_alive() or self._stop.is_set()

    def _run(self) -> None:
        while not self._stop.wait(self.flush_interval):
            self.flush()

    def close(self) -> bool:
        """Write everything, including events still in the future, and stop.

        False if the last write failed (the warning was logged)."""
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=2.0)
        ok = self.flush(until=float("inf"))
        self._file.close()
        return ok

    # -- the file ----------------------------------------------------------------------

    def flush(self, until: float | None = None) -> bool:
        """Encode what has happened and append it to the file.

        False (warned once per failure streak) if the disk refused; the events stay in
        memory and the next flush tries again.
        """
        self._take_inbox()
        horizon = self.now() - HORIZON_LAG
        if self._progress is not None:
            horizon = min(horizon, self._progress())
        if self.hindsight is not None:
            self._lay_in_hindsight(horizon, until)
        else:
            self._follow_beat(horizon)
            self._encode_due(horizon if until is None else until)
        try:
            if self._file.write():
                self._file.sync()
        except OSError as exc:
            self.write_failures += 1
            if self.write_failures == 1:
                log.warning(
                    "cannot write the recording %s (%s); playing on, will retry",
                    self.path, exc.strerror or exc,
                )
            return False
        self.writes += 1
        if self.write_failures:
            log.info("recording %s written again", self.path)
            self.write_failures = 0
        return True

    def _track(self, part: str) -> _Track:
        track = self._tracks.get(part)
        if track is None:
            name = _events([mido.MetaMessage("track_name", name=part)])
            index = self._file.add_track(name)
            track = _Track(index, self.channels.get(part, 1) - 1, name)
            if self.hindsight is not None:
                track.frozen = []
            self._tracks[part] = track
        return track

    def _take_inbox(self) -> None:
        inbox = self._inbox
        while inbox:
            item = inbox.popleft()
            if isinstance(item, TimedEvent):
                if item.message[0] < 0xF0:  # clock and transport are not recorded
                    self._track(item.part).pending.append((item.due, item.message))
                    message = item.message
                    if (self.hindsight is not None and item.part == Part.PLAYER
                            and message[0] & 0xF0 == mm.NOTE_ON and message[2] > 0):
                        self.hindsight.hear(item.due, message[1], message[2])
                continue
            command, part, now = item
            for name, track in self._tracks.items():
                if command == _PANIC or name == part:
                    track.pending = [(t, m) for t, m in track.pending if t <= now]

    # -- tempo map -------------------------------------------------------------------

    @staticmethod
    def _time_signature(meter: Meter) -> mido.MetaMessage:
        return mido.MetaMessage(
            "time_signature", numerator=meter.numerator, denominator=meter.denominator
        )

    def _file_beat(self, t: float) -> float:
        """The file's beat at time ``t`` (from the latest anchor at or before it)."""
        for at, beat, speed in reversed(self._anchors):
            if t >= at:
                return beat + (t - at) * speed
        at, beat, speed = self._anchors[0]
        return beat + (t - at) * speed

    def _follow_beat(self, horizon: float) -> None:
        """Bring the file's tempo map up to ``horizon``: one tempo segment per change of
        the beat clock (read from its change log), each ending where the clock's beat
        says, so the file's beats are the clock's beats."""
        clock = self.beat
        meter = clock.meter
        for number, running, mapping in clock.changes_since(self._cursor):
            start = max(mapping[0], self._anchors[-1][0])
            if start > horizon:
                break  # the engine set it for later: the next flush
            was_running, old = self._state
            beat = beat_at(mapping, start)
            if running and (not was_running or abs(beat - beat_at(old, start)) > 0.5):
                self._align_bars(start, beat, 1.0 / mapping[2], meter)
            elif running == was_running and _close_to(old, mapping, start):
                pass  # a nudge (the follower corrects at every note): no tempo event
            else:
                self._close(start, meter)
            self._state = (running, mapping)
            self._cursor = number
        self._close(horizon, meter)

    def _close(self, end: float, meter: Meter) -> None:
        """End the current segment at ``end``: at the clock's beat then, if it runs."""
        last_time, last_beat, speed = self._anchors[-1]
        if end <= last_time:
            return
        running, mapping = self._state
        if running and self._offset is not None:
            target = beat_at(mapping, end) + self._offset
            kept = last_beat + (end - last_time) * speed
            # Within a nudge of where the file's own tempo gets it: no tempo event.
            if not (abs(target - kept) < NUDGE_PHASE
                    and abs(mapping[2] * speed - 1.0) < NUDGE_TEMPO):
                speed = (target - last_beat) / (end - last_time)
        self._segment(last_time, last_beat, end, speed, meter)

    def _align_bars(
        self, start: float, clock_beat: float, clock_speed: float, meter: Meter
    ) -> None:
        """The clock started (or jumped) at ``start``: from there on, its bar lines are the
        file's. On a bar line (a start: the first note, a count-in), the segment before
        reaches the file's next bar line exactly then; otherwise the file moves on to the
        clock's place in the bar within a few milliseconds. Then it goes on at the
        clock's speed (``clock_speed`` beats a second)."""
        bar = meter.beats_per_bar
        last_time, last_beat, speed = self._anchors[-1]
        reached = last_beat + (start - last_time) * speed
        on_bar = abs(clock_beat / bar - round(clock_beat / bar)) < 1e-6
        first_time = self.start_time
        if on_bar and self.encoded == 0 and self._conductor_tick == 0 and start > first_time:
            # Nothing is in the file yet: lay its time line out afresh from the start, at
            # about its tempo, so that whole bars end where the clock's bar begins; when
            # that is less than half a bar, the file begins where the clock's bar does.
            span = start - first_time
            bars = round(span * self._start_speed / bar)
            self._anchors.clear()
            if bars == 0:
                reached = 0.0
            else:
                self._anchors.append((first_time, 0.0, bars * bar / span))
                reached = self._segment(first_time, 0.0, start, bars * bar / span, meter)
                self._anchors.pop()
            self._anchors.append((start, reached, clock_speed))
            self._offset = reached - clock_beat
        elif on_bar and start > last_time:
            # The file's next bar line, reached by then at whatever speed that takes (the
            # time before the clock starts is silent: the player has not played yet).
            file_bar = -(-(reached - 1e-9) // bar) * bar
            reached = self._segment(
                last_time, last_beat, start, (file_bar - last_beat) / (start - last_time),
                meter, limit=MAX_ALIGN_SPEED,
            )
            self._anchors[-1] = (start, reached, clock_speed)
            self._offset = reached - clock_beat
        else:
            # The beat was renumbered (the follower changed its mind about the bar): the
            # file reaches the clock's place in the bar at once, so that no note falls in
            # a catching-up stretch.
            self._close(start, meter)
            _, file_beat, _ = self._anchors[-1]
            gap = (clock_beat - file_beat) % bar
            if gap > 1e-9:
                span = gap / MAX_ALIGN_SPEED
                self._segment(start, file_beat, start + span, MAX_ALIGN_SPEED, meter,
                              limit=MAX_ALIGN_SPEED)
                self._anchors[-1] = (start + span, file_beat + gap, clock_speed)
            self._offset = file_beat + gap - clock_beat

    def _segment(
        self, start: float, beat: float, end: float, speed: float, meter: Meter,
        limit: float = MAX_SPEED,
    ) -> float:
        """The file goes from ``beat`` at time ``start`` to ``end`` at ``speed`` (clamped
        to ``limit``) beats a second; tempo and meter events where they change. Returns
        the file beat at ``end``; the file goes on at that speed until told otherwise."""
        speed = min(limit, max(MIN_SPEED, speed))
        anchors = self._anchors
        if anchors[-1][0] == start:
            anchors.pop()
        # A segment that goes on at the same speed extends the one before: the anchors
        # kept are tempo changes, not flushes.
        if not (anchors and anchors[-1][2] == speed
                and abs(anchors[-1][1] + (start - anchors[-1][0]) * speed - beat) < 1e-9):
            anchors.append((start, beat, speed))
        end_beat = beat + (end - start) * speed
        anchors.append((end, end_beat, speed))
        metas = []
        tempo = file_tempo_at_speed(speed, meter)
        if tempo != self._tempo_us:
            metas.append(mido.MetaMessage("set_tempo", tempo=tempo))
            self._tempo_us = tempo
        if meter != self._meter:
            metas.append(self._time_signature(meter))
            self._meter = meter
        if metas:
            tick = max(self._conductor_tick, file_tick(beat, meter, FILE_TICKS_PER_QUARTER))
            self._file.append(0, _events(metas, tick - self._conductor_tick))
            self._conductor_tick = tick
        return end_beat

    # -- events ------------------------------------------------------------------------

    def _encode_due(self, until: float) -> None:
        meter = self._meter
        for track in self._tracks.values():
            if not track.pending:
                continue
            due = sorted((e for e in track.pending if e[0] <= until), key=lambda e: e[0])
            if not due:
                continue
            track.pending = [e for e in track.pending if e[0] > until]
            encoded = bytearray()
            for t, message in due:
                msg = _recordable(message, track.channel)
                if msg is None:
                    continue
                tick = max(track.last_tick,
                           file_tick(self._file_beat(t), meter, FILE_TICKS_PER_QUARTER))
                encoded += _events([msg], tick - track.last_tick)
                track.last_tick = tick
                self.encoded += 1
            if encoded:
                self._file.append(track.index, bytes(encoded))

    # -- in hindsight ------------------------------------------------------------------

    def _lay_in_hindsight(self, horizon: float, until: float | None) -> None:
        """Lay the tempo map, the bar lines and the events with everything heard (see
        ``instrument.midifile.hindsight``): the frozen part is appended once, the tail
        written anew; a new bar phase or meter rewrites each track's start."""
        assert self.hindsight is not None
        final = until is not None
        last = horizon
        for track in self._tracks.values():
            due = [e for e in track.pending if e[0] <= (horizon if until is None else until)]
            if not due:
                continue
            track.pending = [e for e in track.pending if e[0] > (
                horizon if until is None else until)]
            for t, message in due:
                msg = _recordable(message, track.channel)
                if msg is not None:
                    track.tail.append((t, msg))
                    last = max(last, t)
            track.tail.sort(key=lambda e: e[0])
        layout = self.hindsight.layout(last if final else horizon, final)
        old = self._layout
        moved = old is None or old.offset != layout.offset or old.meter != layout.meter
        if old is not None and (old.ticks_per_beat != layout.ticks_per_beat or layout.relaid):
            # The heard meter changed kind (a new beat unit), or at close the bar moved
            # within the performance (new beats): every tick laid again.
            for track in self._tracks.values():
                track.unfreeze()
            self._conductor.unfreeze()
            self._knots_done = 1
            self._frozen_tempo = None
            moved = True
        self._layout = layout
        if layout.relaid:
            self.bar_moved_at_close = True
        if moved and old is not None:
            self.full_relayouts += 1
        self._lay_conductor(layout, moved)
        for track in self._tracks.values():
            self._lay_track(track, track.tail, layout, moved)

    def _lay_conductor(self, layout: Layout, moved: bool) -> None:
        """The conductor: the first tempo and the meter at tick 0, then a tempo event at
        each knot where the tempo changes."""
        track = self._conductor
        head = track.head[:len(_events([mido.MetaMessage("track_name", name=CONDUCTOR)]))]
        head += _events([mido.MetaMessage("set_tempo", tempo=self._clamped(layout, 0)),
                         self._time_signature(layout.meter)])
        if head != track.head:
            track.head = head
            moved = True
        events = []
        first_tempo = self._clamped(layout, 0)
        tempo = self._frozen_tempo if self._frozen_tempo is not None else first_tempo
        for k in range(self._knots_done, len(layout.knot_index) - 1):
            value = self._clamped(layout, k)
            if value != tempo:
                events.append((k, value))
                tempo = value
        # The segment from knot k is final when knot k + 1 is.
        final = layout.frozen_knots - 1
        frozen = [(k, v) for k, v in events if k < final]
        tail = [(k, v) for k, v in events if k >= final]
        if final > self._knots_done:
            self._knots_done = final
            if frozen:
                self._frozen_tempo = frozen[-1][1]
        tpb = layout.ticks_per_beat
        new = [(int(layout.knot_index[k]) * tpb, mido.MetaMessage("set_tempo", tempo=v))
               for k, v in frozen]
        rest = [(int(layout.knot_index[k]) * tpb, mido.MetaMessage("set_tempo", tempo=v))
                for k, v in tail]
        self._write_track(track, new, rest, layout, moved)

    def _clamped(self, layout: Layout, k: int) -> int:
        lo, hi = mido.bpm2tempo(300.0), mido.bpm2tempo(30.0)
        return min(hi, max(lo, layout.tempo_us(k)))

    def _lay_track(self, track: _Track, events, layout: Layout, moved: bool) -> None:
        """A part's events: those before the layout's frozen time are final."""
        cut = 0
        while cut < len(events) and events[cut][0] < layout.frozen_time:
            cut += 1
        new = [(layout.beat_tick(t), msg) for t, msg in events[:cut]]
        rest = [(layout.beat_tick(t), msg) for t, msg in events[cut:]]
        track.tail = events[cut:]
        if track.frozen is not None:
            track.frozen.extend(_kept(events[:cut]))
        self.encoded += len(new)
        self.relaid += len(rest)
        self._write_track(track, new, rest, layout, moved)

    def _write_track(self, track: _Track, new: list, rest: list, layout: Layout,
                     moved: bool) -> None:
        """Freeze ``new`` (tick, message) into the track's body, lay ``rest`` as its
        tail, and hand the changed bytes to the file."""
        offset = layout.offset_ticks
        had_body = track.first is not None
        keep = track.stable
        frozen = bytearray()
        for tick, msg in new:
            if track.first is None:
                track.first = tick
                track.last_tick = tick
                frozen += bytes(msg.bytes())
            else:
                tick = max(tick, track.last_tick)
                frozen += _events([msg], tick - track.last_tick)
                track.last_tick = tick
        track.body += frozen
        tail = bytearray()
        # With nothing frozen, the tail's first delta counts from the file's start.
        previous = -offset if track.first is None else track.last_tick
        for tick, msg in rest:
            tick = max(tick, previous)
            tail += _events([msg], tick - previous)
            previous = tick
        prefix = track.prefix(offset)
        if moved or not had_body:
            self._file.replace(track.index, 0, prefix + bytes(track.body) + bytes(tail))
        else:
            self._file.replace(track.index, keep, bytes(frozen) + bytes(tail))
        track.stable = len(prefix) + len(track.body)
