"""The two sidecars bench/compare.py puts side by side, and the run of one driver.

Each sidecar is a child process on a free loopback port, started fresh for every run:
- the reference, ``durabletask.testing``'s in-memory server (bench/_dt_reference.py) in the
  ``durabletask-112`` virtualenv: nothing is durable;
- wfsidecar, ``python -m wfsidecar run`` on a new SQLite file in a temporary directory,
  WAL with ``synchronous`` FULL (set explicitly, whatever the default becomes).
"""

from __future__ import annotations

import json
import os
import signal
import sqlite3
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any, NamedTuple

BENCH = Path(__file__).resolve().parent
STARTUP_S = 60


class Sidecar(NamedTuple):
    address: str
    pid: int


@contextmanager
def reference(python: Path) -> Iterator[Sidecar]:
    """The in-memory reference server; stops when its stdin closes."""
    proc = subprocess.Popen([str(python), str(BENCH / "_dt_reference.py")], cwd=BENCH,
                            stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True,
                            env=_sdk_env())
    try:
        assert proc.stdout is not None
        line = proc.stdout.readline().split()
        if line[:1] != ["ready"]:
            raise SystemExit(f"the reference server did not start ({proc.wait(10)})")
        yield Sidecar(f"127.0.0.1:{line[1]}", proc.pid)
    finally:
        assert proc.stdin is not None
        proc.stdin.close()
        try:
            proc.wait(15)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


@contextmanager
def wfsidecar(dialect: str) -> Iterator[Sidecar]:
    """A daemon on a fresh SQLite file; ``dialect`` picks the listener (``durabletask`` for
    Microsoft's SDK, ``dapr`` for Dapr's). Stopped with SIGTERM (a drain) afterwards."""
    with tempfile.TemporaryDirectory(prefix="wfsidecar-compare-") as tmp:
        db, ready = Path(tmp) / "wf.db", Path(tmp) / "ready.json"
        env = {**os.environ, "WFSIDECAR_STORE__SQLITE__SYNCHRONOUS": "FULL"}
        proc = subprocess.Popen(
            [sys.executable, "-m", "wfsidecar", "run", "--db", str(db), "--dapr-grpc-port", "0",
             "--durabletask-grpc-port", "0", "--http-port", "0", "--ready-file", str(ready),
             "--log-level", "WARNING"], cwd=tmp, env=env)
        try:
            deadline = time.monotonic() + STARTUP_S
            while not ready.exists():
                if time.monotonic() > deadline or proc.poll() is not None:
                    raise SystemExit("the wfsidecar daemon did not become ready")
                time.sleep(0.05)
            ports = json.loads(ready.read_text())
            with sqlite3.connect(db) as conn:  # WAL is a property of the file: check it
                mode = conn.execute("PRAGMA journal_mode").fetchone()[0]
            if mode != "wal":
                raise SystemExit(f"the daemon's database is in journal mode {mode!r}")
            yield Sidecar(f"127.0.0.1:{ports[f'{dialect}_grpc_port']}", proc.pid)
        finally:
            proc.send_signal(signal.SIGTERM)
            try:
                proc.wait(30)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()


def drive(python: Path, driver: str, sidecar: Sidecar, mode: str, count: int,
          concurrency: int, warmup: int) -> dict[str, Any]:
    """Run ``bench/<driver>`` against ``sidecar`` and return its JSON result."""
    argv = [str(python), str(BENCH / driver), sidecar.address, mode, str(count),
            str(concurrency), str(sidecar.pid), str(warmup)]
    done = subprocess.run(argv, cwd=BENCH, env=_sdk_env(), capture_output=True, text=True,
                          timeout=1200, check=False)
    if done.returncode != 0:
        raise SystemExit(f"{driver} {mode} failed ({done.returncode}):\n{done.stderr[-3000:]}")
    result: dict[str, Any] = json.loads(done.stdout.strip().splitlines()[-1])
    return result


def _sdk_env() -> dict[str, str]:
    env = dict(os.environ)
    env.pop("PYTHONPATH", None)  # the SDK venvs must not see this repo's packages
    return env
