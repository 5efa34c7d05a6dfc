"""Everything that runs in the audio callback, in one folder.

On JACK, one ``JackCycle`` (``cycle``) is the instrument's real-time path: each JACK
process cycle it applies the plans the engine sent from its own process
(``remote.PlanReader``, from a ``shared_ring.SharedRing``; nothing to do when the
engine shares the process and writes the queues itself), reads the MIDI that arrived
(into an ``InputRing`` for an engine in this process, or ``remote.InputWriter`` for one
in the other, and the player's notes straight to the ``ThruPlayer``, on their own
sample), plays the planned notes that fall due in this block (``PlannedNotes``),
computes the block with pyo, and writes the MIDI out messages due in this block at their
frames (``MidiOutQueue``), the player's own notes, pedal and pitch bend among them at
the frames they arrived on (``player_out``: they never go through the engine). With
ALSA MIDI and the engine in the other process, the cycle also reads what rtmidi's
callbacks stamped into their ``InputRing``s (``router.CycleInput``), so the player's
input takes the same path whichever the MIDI API. Without JACK audio, pyo's own block
callback runs a ``PyoBlock`` (thru and planned notes) and MIDI goes out from a thread
that reads the same ``MidiOutQueue``.

With the engine in another process (``instrument.live.audio_process``), nothing of the engine,
models, recorder or status server runs in this one, so none of it can hold the GIL the
cycle needs. The two processes share only fixed-size records in shared memory (plans
one way, inputs the other: ``remote``, stamped in JACK frames, checked by checksum so
they are correct under aarch64's memory ordering), a counters block (``shared_stats``,
written from main threads, never from the cycle) and an eventfd (``wakeup``) the cycle
writes to wake the engine.

The rules, for every function called from a cycle (each module says which of its
functions those are):

- it never blocks and never takes a lock: the engine hands work over through
  ``DueQueue`` (a deque the engine appends to and the cycle drains; commands such as
  "drop this part's notes" travel in the same deque, in order), or from the other
  process through a ``SharedRing`` the cycle reads, and is woken through a ``Wakeup``
  (an eventfd write), never a ``threading.Condition``;
- every loop has a cap per cycle (input events, planned notes, MIDI out messages,
  commands); what is over the cap waits for the next cycle, and only what cannot wait
  (MIDI in beyond the cap, late non-note-off messages) is dropped, and counted;
- it allocates no per-event containers beyond preallocated records (JACK-Client's
  own per-event buffer objects aside, and the queue entries ``PlanReader`` makes for
  plans from the other process, at most 512 a cycle), logs nothing, and counts errors
  instead of raising into JACK's thread;
- a queue hands an item on only after it was delivered: a full MIDI buffer delays a
  note-off and never loses it;
- everything it needs is given to its constructor: no attribute is set later and
  checked for None each cycle.

The player's input reaches an engine in this process through ``router`` (the
``InputQueue`` the engine thread reads, and ``MidiThreadInput``, what an rtmidi callback
does), and one in the other process through ``remote.InputReader``.

This package imports only the part sounds' interface (``instrument.audio.voices``), the
message checks (``instrument.midi.messages``, ``instrument.midi.held``) and the part names
(``instrument.names``).
"""
