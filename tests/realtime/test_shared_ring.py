"""Records between processes through shared memory: in order, across processes, full
rings refuse rather than overwrite, and a record seen half-written is not taken."""

from __future__ import annotations

import subprocess
import sys

from instrument.realtime.shared_ring import (
    _HEADER,
    CHECK,
    FIELDS,
    KIND,
    SEQ,
    SLACK,
    TIME,
    SharedRing,
    checksum,
)


def drain(ring: SharedRing, limit: int = 10_000) -> list[tuple]:
    got: list[tuple] = []
    ring.read(lambda *r: got.append(r), limit)
    return got


def test_records_arrive_in_order_and_wrap_around():
    writer = SharedRing.create(capacity=128)
    reader = SharedRing.attach(writer.path)
    try:
        seen = []
        for i in range(1000):
            assert writer.write(1, i, i * 2, -i, 7, 1 << 40)
            if i % 10 == 9:
                seen += drain(reader)
        assert seen == [(1, i, i * 2, -i, 7, 1 << 40) for i in range(1000)]
        assert len(writer) == 0
    finally:
        reader.close()
        writer.close()
    assert not writer.path.exists()


def test_a_full_ring_refuses_and_counts_and_never_overwrites():
    writer = SharedRing.create(capacity=128)
    reader = SharedRing.attach(writer.path)
    try:
        accepted = sum(writer.write(2, i) for i in range(200))
        assert accepted == 128 - SLACK and writer.refused == 200 - accepted
        assert [r[1] for r in drain(reader)] == list(range(accepted))
        assert writer.write(2, 999)  # room again once read
    finally:
        reader.close()
        writer.close()


def test_a_record_seen_half_written_is_not_taken_until_complete():
    """As another core may see the stores: the sequence number before the fields."""
    writer = SharedRing.create(capacity=128)
    reader = SharedRing.attach(writer.path)
    try:
        view = memoryview(writer._map).cast("q")
        base = _HEADER
        view[base + SEQ] = 1  # published first...
        assert drain(reader) == []
        view[base + KIND], view[base + TIME] = 3, 42  # ...the fields later
        assert drain(reader) == []  # no checksum yet
        view[base + CHECK] = checksum(1, 3, 42, 0, 0, 0, 0)
        assert drain(reader) == [(3, 42, 0, 0, 0, 0)]
        assert FIELDS == 8
        view.release()
    finally:
        reader.close()
        writer.close()


def test_records_cross_processes():
    reader = SharedRing.create(capacity=1024)
    try:
        code = (
            "import sys; from instrument.realtime.shared_ring import SharedRing\n"
            "ring = SharedRing.attach(sys.argv[1])\n"
            "for i in range(500):\n"
            "    while not ring.write(5, i, i * i):\n"
            "        pass\n"
        )
        child = subprocess.Popen([sys.executable, "-c", code, str(reader.path)])
        got: list[tuple] = []
        while len(got) < 500:
            reader.read(lambda *r: got.append(r))
            if child.poll() not in (None, 0):
                raise AssertionError("writer failed")
        child.wait(10)
        assert got == [(5, i, i * i, 0, 0, 0) for i in range(500)]
    finally:
        reader.close()
