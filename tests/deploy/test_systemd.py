"""sd_notify over a unix datagram socket, and the health-checked watchdog."""

from __future__ import annotations

import os
import socket
import time
import uuid

import pytest

from instrument.live import systemd


@pytest.fixture
def notify_socket(tmp_path, monkeypatch):
    path = tmp_path / "notify"
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    sock.bind(str(path))
    sock.settimeout(2.0)
    monkeypatch.setenv("NOTIFY_SOCKET", str(path))
    yield sock
    sock.close()


def received(sock: socket.socket) -> list[str]:
    out = []
    sock.setblocking(False)
    try:
        while True:
            out.append(sock.recv(4096).decode())
    except BlockingIOError:
        pass
    finally:
        sock.settimeout(2.0)
    return out


def test_notify_ready_stopping(notify_socket):
    assert systemd.notify_ready()
    assert notify_socket.recv(4096) == b"READY=1\nSTATUS=ready to play"
    assert systemd.notify_stopping()
    assert notify_socket.recv(4096).startswith(b"STOPPING=1\n")


def test_abstract_namespace_socket(monkeypatch):
    name = f"instrument-test-{uuid.uuid4().hex}"
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    sock.bind("\0" + name)
    sock.settimeout(2.0)
    try:
        monkeypatch.setenv("NOTIFY_SOCKET", "@" + name)
        assert systemd.notify("READY=1")
        assert sock.recv(100) == b"READY=1"
    finally:
        sock.close()


def test_without_systemd_everything_is_a_quiet_no_op(monkeypatch, tmp_path):
    monkeypatch.delenv("NOTIFY_SOCKET", raising=False)
    assert not systemd.notify_ready()
    assert systemd.watchdog_interval() is None
    assert not systemd.Watchdog(dict).enabled
    # A socket nobody listens on: no exception either.
    monkeypatch.setenv("NOTIFY_SOCKET", str(tmp_path / "nobody"))
    assert not systemd.notify("READY=1")


def test_watchdog_interval_from_environment():
    env = {"NOTIFY_SOCKET": "/x", "WATCHDOG_USEC": "10000000"}
    assert systemd.watchdog_interval(env) == 10.0
    assert systemd.watchdog_interval({**env, "WATCHDOG_PID": str(os.getpid())}) == 10.0
    assert systemd.watchdog_interval({**env, "WATCHDOG_PID": "1"}) is None  # not ours
    assert systemd.watchdog_interval({**env, "WATCHDOG_USEC": "junk"}) is None
    assert systemd.watchdog_interval({"WATCHDOG_USEC": "1000"}) is None


def test_watchdog_pings_only_while_engine_and_audio_advance(caplog):
    counters = {"engine_loops": 0, "audio_cycles": 0}
    sent = []
    dog = systemd.Watchdog(lambda: dict(counters), interval=1.0, send=lambda s: sent.append(s)
                           or True)

    def tick(engine=True, audio=True):
        counters["engine_loops"] += engine
        counters["audio_cycles"] += audio
        return dog.check()

    assert dog.check()  # first look: nothing to compare yet
    assert tick() and tick()
    assert sent == ["WATCHDOG=1"] * 3
    assert not tick(audio=False)  # the audio callback stopped
    assert not tick(engine=False, audio=False)
    assert len(sent) == 3 and dog.stalls == 1
    assert "audio_cycles stuck" in caplog.text
    assert tick()  # both running again
    assert len(sent) == 4 and dog.healthy
    assert not tick(engine=False)
    assert dog.stalls == 2 and "engine_loops stuck" in caplog.text


def test_watchdog_stops_pinging_when_a_thread_or_output_died(caplog):
    health = {"engine_loops": 0, "audio_cycles": 0, "dead": []}
    sent = []
    dog = systemd.Watchdog(lambda: dict(health), interval=1.0,
                           send=lambda s: sent.append(s) or True)
    for _ in range(2):
        health["engine_loops"] += 1
        health["audio_cycles"] += 1
        assert dog.check()
    health["dead"] = ["MIDI out"]
    health["engine_loops"] += 1
    health["audio_cycles"] += 1
    assert not dog.check()
    assert len(sent) == 2 and "MIDI out died" in caplog.text


def test_watchdog_ignores_counters_that_do_not_apply():
    counters = {"engine_loops": 0, "audio_cycles": None}
    sent = []
    dog = systemd.Watchdog(lambda: dict(counters), interval=1.0,
                           send=lambda s: sent.append(s) or True)
    for _ in range(3):
        counters["engine_loops"] += 1
        assert dog.check()
    assert len(sent) == 3


def test_watchdog_provider_failure_stops_pings():
    dog = systemd.Watchdog(lambda: 1 / 0, interval=1.0, send=lambda s: True)
    assert not dog.check()
    assert dog.stalls == 1


def test_watchdog_thread_pings_systemd(notify_socket, monkeypatch):
    monkeypatch.setenv("WATCHDOG_USEC", "100000")  # 0.1 s: ping every 0.05 s
    counters = {"engine_loops": 0, "audio_cycles": 0}

    def provider():
        counters["engine_loops"] += 1
        counters["audio_cycles"] += 1
        return dict(counters)

    dog = systemd.Watchdog(provider)
    assert dog.interval == pytest.approx(0.05)
    dog.start()
    time.sleep(0.4)
    dog.stop()
    got = received(notify_socket)
    assert got and set(got) == {"WATCHDOG=1"}
    assert dog.pings == len(got) >= 3
