"""``instrument run`` as a subprocess, with its log collected and searchable."""

from __future__ import annotations

import re
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

from instrument.jack.server import JackServer


class InstrumentProcess:
    def __init__(
        self, jack: JackServer, workdir: Path, *args: str, client: str = "instrument"
    ) -> None:
        self.client = client
        self.recordings = workdir / "recordings"
        if "--config" not in args:  # an empty config: never this machine's /etc one
            empty = workdir / "empty-config.toml"
            empty.write_text("")
            args = (*args, "--config", str(empty))
        self.cmd = [
            sys.executable, "-m", "instrument", "run",
            "--audio", "jack", "--midi-api", "jack",
            "--recordings", str(self.recordings),
            "--jack-client", client, "--log-level", "debug",
            *args,
        ]
        env = jack.env()
        env["PYTHONUNBUFFERED"] = "1"
        # Never read this machine's own config or learned controls: only --config.
        env.pop("INSTRUMENT_CONFIG", None)
        env["XDG_CONFIG_HOME"] = str(workdir / "xdg-config")
        env["XDG_DATA_HOME"] = str(workdir / "xdg-data")
        self.process = subprocess.Popen(
            self.cmd, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
            cwd=workdir,
        )
        self.lines: list[str] = []
        self._lock = threading.Lock()
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()

    def _read(self) -> None:
        assert self.process.stdout is not None
        for line in self.process.stdout:
            with self._lock:
                self.lines.append(line.rstrip("\n"))

    @property
    def log(self) -> str:
        with self._lock:
            return "\n".join(self.lines)

    def wait_for(self, pattern: str, timeout: float = 15.0) -> re.Match[str]:
        regex = re.compile(pattern)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            with self._lock:
                for line in self.lines:
                    m = regex.search(line)
                    if m:
                        return m
            if self.process.poll() is not None:
                time.sleep(0.1)  # let the reader catch the last lines
                raise AssertionError(
                    f"instrument exited ({self.process.returncode}) before {pattern!r}:\n{self.log}"
                )
            time.sleep(0.02)
        raise AssertionError(f"no {pattern!r} within {timeout}s; log:\n{self.log}")

    def count(self, pattern: str) -> int:
        regex = re.compile(pattern)
        with self._lock:
            return sum(1 for line in self.lines if regex.search(line))

    def terminate(self, timeout: float = 10.0) -> int:
        """Stop the instrument with SIGTERM, as systemd does; its exit code. One that has
        not exited within ``timeout`` is killed, and the error carries the end of its log
        (where it hung)."""
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
        try:
            code = self.process.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            self.kill()
            self._reader.join(timeout=2)
            tail = "\n".join(self.log.splitlines()[-40:])
            raise AssertionError(
                f"instrument still running {timeout}s after SIGTERM; killed. Log tail:\n{tail}"
            ) from None
        self._reader.join(timeout=2)
        return code

    def kill(self) -> None:
        if self.process.poll() is None:
            self.process.kill()
            self.process.wait()

    def recording(self) -> Path:
        files = sorted(self.recordings.glob("session-*.mid"))
        assert files, f"no recording in {self.recordings}"
        return files[-1]
