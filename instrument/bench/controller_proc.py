"""The test controller's own process: an rtmidi JACK virtual output driven over stdin.

python-rtmidi holds the GIL while it opens and closes JACK clients, which waits on the
JACK server; in the test process that would stall the capture client's process callback
(it needs the same GIL) and so the whole JACK graph. In a process of its own it cannot.

Commands are JSON lines; each is answered with one JSON line.
"""

from __future__ import annotations

import json
import sys
import time

import rtmidi


def main(name: str) -> None:
    midi = None
    # A JACK client with no process callback, only to read the frame clock at each send
    # (the time a key press entered the system, for latency measurements).
    import jack

    clock = jack.Client(f"{name}-clock", no_start_server=True)

    def plug() -> None:
        nonlocal midi
        midi = rtmidi.MidiOut(rtmidi.API_UNIX_JACK, name=name)
        midi.open_virtual_port("out")

    def unplug() -> None:
        nonlocal midi
        midi.close_port()
        midi.delete()
        midi = None

    plug()
    print(json.dumps({"ready": True}), flush=True)
    for line in sys.stdin:
        cmd = json.loads(line)
        reply: dict = {"ok": True}
        if "send" in cmd:
            frames = []
            for message in cmd["send"]:
                frames.append(clock.frame_time)
                midi.send_message(message)
            reply["frames"] = frames
        elif "flood" in cmd:
            # Note on/off pairs at ``rate`` events per second for ``seconds``.
            rate, seconds = cmd["flood"]["rate"], cmd["flood"]["seconds"]
            started = time.monotonic()
            sent = 0
            while time.monotonic() - started < seconds:
                for i in range(25):
                    pitch = 36 + (sent // 2 + i) % 48
                    midi.send_message([0x90, pitch, 64])
                    midi.send_message([0x80, pitch, 0])
                    sent += 2
                time.sleep(max(0.0, started + sent / rate - time.monotonic()))
            reply["sent"] = sent
        elif "paced" in cmd:
            # The same message ``count`` times, ``per_batch`` at a time every ``every`` s.
            p = cmd["paced"]
            for done in range(0, p["count"], p["per_batch"]):
                for _ in range(min(p["per_batch"], p["count"] - done)):
                    midi.send_message(p["message"])
                time.sleep(p["every"])
        elif cmd.get("unplug"):
            unplug()
        elif cmd.get("plug"):
            plug()
        elif cmd.get("quit"):
            break
        print(json.dumps(reply), flush=True)
    if midi is not None:
        unplug()
    clock.close()


if __name__ == "__main__":
    main(sys.argv[1])
