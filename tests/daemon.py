"""Run ``wfsidecar`` as a real subprocess (process, scenario and e2e tests)."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
WFSIDECAR = [sys.executable, "-m", "wfsidecar"]
BEEPER = [sys.executable, str(REPO / "tests" / "process" / "beeper_daemon.py")]


class Daemon:
    """A running daemon process and where it writes."""

    def __init__(self, tmp: Path, argv: list[str], env: dict[str, str]) -> None:
        self.ready_file = tmp / "ready.json"
        self.ready_file.unlink(missing_ok=True)
        self.stderr_path = tmp / f"stderr-{time.monotonic_ns()}.log"
        self._stderr = self.stderr_path.open("wb")
        self.proc = subprocess.Popen(
            [*argv, "--ready-file", str(self.ready_file)],
            stdout=subprocess.PIPE, stderr=self._stderr, env=env, cwd=tmp,
        )

    def wait_ready(self, timeout: float = 20) -> dict[str, int]:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise AssertionError(f"daemon exited {self.proc.returncode}: {self.stderr()}")
            if self.ready_file.exists():
                ports: dict[str, int] = json.loads(self.ready_file.read_text())
                return ports
            time.sleep(0.02)
        raise AssertionError(f"daemon not ready after {timeout}s: {self.stderr()}")

    def wait_line(self, expected: bytes, timeout: float = 20) -> None:
        assert self.proc.stdout is not None
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            line = self.proc.stdout.readline()
            if line.strip() == expected:
                return
            if not line and self.proc.poll() is not None:
                break
        raise AssertionError(f"no {expected!r} from daemon: {self.stderr()}")

    def stderr(self) -> str:
        self._stderr.flush()
        return self.stderr_path.read_text(errors="replace")

    def kill(self) -> None:
        self.proc.send_signal(signal.SIGKILL)
        self.proc.wait(10)

    def close(self) -> None:
        if self.proc.poll() is None:
            self.kill()
        if self.proc.stdout is not None:
            self.proc.stdout.close()
        self._stderr.close()


def daemon_args(tmp: Path, *extra: str) -> list[str]:
    return [
        "run", "--db", str(tmp / "wf.db"), "--dapr-grpc-port", "0",
        "--durabletask-grpc-port", "0", "--http-port", "0", *extra,
    ]


