"""The status socket: permissions, one JSON object per connection, robustness, the CLI."""

from __future__ import annotations

import contextlib
import json
import os
import socket
import stat
import threading
import time

import pytest

from instrument.cli import main
from instrument.live.status import (
    StatusServer,
    StatusUnavailable,
    format_status,
    query,
    socket_path,
)

SAMPLE = {
    "pid": 1234,
    "mode": "accompany",
    "tempo_bpm": 96.0,
    "midi_in": "Keystation 49:out",
    "midi_out": None,
    "audio": {"backend": "jack", "rate": 48000, "buffer": 64},
    "models": {
        "accompaniment": {"providers": ["CPUExecutionProvider"], "steps": 812,
                          "p50_ms": 0.21, "p99_ms": 0.6, "missed_deadlines": 0,
                          "foresight": {"steps": 812, "p50_ms": 1.05, "p99_ms": 2.2,
                                        "missed_deadlines": 1, "ahead_p50_ms": 0.97,
                                        "ahead_p99_ms": 1.2},
                          "decision": {"p50_ms": 1.12, "p99_ms": 2.05}},
        "continuation": {"fallback": "model file missing", "steps": 0},
    },
    "steps": 812,
    "missed_deadlines": 0,
    "xruns": 2,
    "recording": "/var/lib/instrument/recordings/session-20250101-200000.mid",
    "uptime_s": 3725.4,
    "input_dropped": {"malformed": 3},
    "engine_loops": 100,
    "audio_cycles": 200,
}


@pytest.fixture
def sock_path(tmp_path):
    # Unix socket paths are limited to 107 bytes; pytest's tmp_path can be long.
    short = tmp_path / "r"
    return short / "instrument" / "status.sock"


@pytest.fixture
def server(sock_path):
    srv = StatusServer(sock_path, lambda: dict(SAMPLE))
    assert srv.start()
    yield srv
    srv.stop()


def test_answers_one_json_object_per_connection_owner_only(server, sock_path):
    for _ in range(3):
        assert query(sock_path) == SAMPLE
    assert server.served == 3
    assert stat.S_IMODE(os.stat(sock_path).st_mode) == 0o600
    assert stat.S_IMODE(os.stat(sock_path.parent).st_mode) == 0o700


def test_existing_directory_open_to_others_is_tightened(sock_path):
    sock_path.parent.mkdir(parents=True, mode=0o755)
    os.chmod(sock_path.parent, 0o777)
    srv = StatusServer(sock_path, dict)
    assert srv.start()
    try:
        assert stat.S_IMODE(os.stat(sock_path.parent).st_mode) == 0o700
    finally:
        srv.stop()


def test_socket_removed_on_stop_and_stop_is_idempotent(server, sock_path):
    assert sock_path.exists()
    server.stop()
    server.stop()
    assert not sock_path.exists()
    with pytest.raises(StatusUnavailable, match="no instrument is running"):
        query(sock_path)


def test_client_that_never_reads_does_not_block_others(sock_path):
    big = {"blob": "x" * 2_000_000}  # more than the socket buffers hold
    srv = StatusServer(sock_path, lambda: big, send_timeout=0.2)
    assert srv.start()
    try:
        stuck = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        stuck.connect(str(sock_path))  # ...and never reads
        time.sleep(0.05)
        t0 = time.monotonic()
        assert query(sock_path, timeout=3.0) == big
        assert time.monotonic() - t0 < 2.0
        stuck.close()
        assert srv.failed >= 1
    finally:
        srv.stop()


def test_silent_clients_and_garbage_do_not_stop_the_server(server, sock_path):
    for payload in (b"", b"GET / HTTP/1.0\r\n\r\n", os.urandom(5000)):
        c = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        c.connect(str(sock_path))
        if payload:
            # The server may already have answered and closed: that is fine too.
            with contextlib.suppress(BrokenPipeError, ConnectionResetError):
                c.sendall(payload)
        c.close()
    assert query(sock_path)["mode"] == "accompany"


def test_provider_error_is_reported_not_fatal(sock_path):
    calls = []

    def provider():
        calls.append(1)
        if len(calls) == 1:
            raise RuntimeError("boom")
        return {"mode": "thru", "ratio": float("nan")}

    srv = StatusServer(sock_path, provider)
    assert srv.start()
    try:
        assert "boom" in query(sock_path)["error"]
        assert query(sock_path) == {"mode": "thru", "ratio": None}
    finally:
        srv.stop()


def test_stale_socket_is_replaced_live_one_is_not(sock_path):
    sock_path.parent.mkdir(parents=True, mode=0o700)
    dead = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    dead.bind(str(sock_path))
    dead.close()  # the file stays: a killed instance
    first = StatusServer(sock_path, lambda: {"n": 1})
    assert first.start()
    try:
        second = StatusServer(sock_path, lambda: {"n": 2})
        assert not second.start()  # another instance answers: leave it alone
        second.stop()
        assert query(sock_path) == {"n": 1}
    finally:
        first.stop()


def test_refuses_a_path_that_is_not_a_socket(sock_path):
    sock_path.parent.mkdir(parents=True, mode=0o700)
    sock_path.write_text("important")
    assert not StatusServer(sock_path, dict).start()
    assert sock_path.read_text() == "important"


def test_many_concurrent_clients(server, sock_path):
    results = []

    def ask():
        results.append(query(sock_path)["xruns"])

    threads = [threading.Thread(target=ask) for _ in range(100)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert results == [2] * 100


def test_socket_path_resolution(tmp_path):
    assert socket_path("/x/s.sock", {}) == tmp_path.__class__("/x/s.sock")
    assert str(socket_path("", {"RUNTIME_DIRECTORY": "/run/instrument"})) == (
        "/run/instrument/status.sock"
    )
    assert str(socket_path("", {"XDG_RUNTIME_DIR": "/run/user/1000"})) == (
        "/run/user/1000/instrument/status.sock"
    )


def test_format_status_is_readable():
    text = format_status(SAMPLE)
    assert "instrument (pid 1234)" in text
    assert "accompany" in text and "96.0" in text
    assert "Keystation 49:out" in text and "not connected" in text
    assert "jack, 48000 Hz, 64 frames" in text
    assert "1:02:05" in text
    assert "accompaniment    CPU " in text and "0.21 ms" in text and "0.60 ms" in text
    foresight = next(line for line in text.splitlines() if "foresight" in line)
    assert "1.05 ms" in foresight and "2.20 ms" in foresight and foresight.rstrip()[-1] == "1"
    ahead = text.splitlines()[text.splitlines().index(foresight) + 1]  # before the deadlines
    assert "ahead" in ahead and "0.97 ms" in ahead and "1.20 ms" in ahead
    decision = next(line for line in text.splitlines() if "decision" in line)
    assert "1.12 ms" in decision and "2.05 ms" in decision
    assert "continuation     fallback" in text and "continuation: model file missing" in text
    assert "session-20250101-200000.mid" in text


def test_status_command(server, sock_path, capsys):
    assert main(["status", "--socket", str(sock_path), "--json"]) == 0
    assert json.loads(capsys.readouterr().out) == SAMPLE
    assert main(["status", "--socket", str(sock_path)]) == 0
    assert "Keystation" in capsys.readouterr().out


def test_status_command_with_config(server, sock_path, tmp_path, capsys):
    config = tmp_path / "c.toml"
    config.write_text(f'[service]\nstatus_socket = "{sock_path}"\n')
    assert main(["status", "--config", str(config)]) == 0
    assert "accompany" in capsys.readouterr().out


def test_status_command_when_nothing_runs(tmp_path, capsys):
    assert main(["status", "--socket", str(tmp_path / "none.sock")]) == 1
    assert "no instrument is running" in capsys.readouterr().err


def test_status_command_config_error_names_the_key(tmp_path, capsys):
    config = tmp_path / "c.toml"
    config.write_text("[service]\nstatus_sockt = 1\n")
    assert main(["status", "--config", str(config)]) == 2
    assert "service.status_sockt" in capsys.readouterr().err
