"""``wfsidecar run`` as a subprocess: exit codes, signals, start-up failures, health."""

from __future__ import annotations

import signal
import socket
import sqlite3
import subprocess
import time
from collections.abc import Callable
from pathlib import Path

import pytest

from tests.daemon import BEEPER, WFSIDECAR, Daemon, daemon_args

pytestmark = pytest.mark.process

Spawn = Callable[..., Daemon]


def run_cli(*args: str, cwd: Path, timeout: float = 30) -> subprocess.CompletedProcess[str]:
    return subprocess.run([*WFSIDECAR, *args], capture_output=True, text=True, cwd=cwd,
                          timeout=timeout)


def test_bad_config_exits_2_naming_the_key(tmp_path: Path) -> None:
    bad = tmp_path / "bad.yaml"
    bad.write_text("store:\n  sqlite:\n    synchronus: FULL\n")
    out = run_cli("run", "--config", str(bad), cwd=tmp_path)
    assert out.returncode == 2
    assert "store.sqlite.synchronus" in out.stderr
    assert len(out.stderr.strip().splitlines()) == 1
    assert not (tmp_path / "data").exists()  # nothing half-written


def test_port_in_use_exits_3(tmp_path: Path) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        out = run_cli(*daemon_args(tmp_path, "--http-port", str(port)), cwd=tmp_path)
    assert out.returncode == 3, out.stderr
    assert f"127.0.0.1:{port}" in out.stderr
    assert "startup failed" in out.stderr.strip().splitlines()[-1]


def test_database_locked_by_another_daemon_exits_3(tmp_path: Path, spawn: Spawn) -> None:
    first = spawn([*WFSIDECAR, *daemon_args(tmp_path)])
    first.wait_ready()
    out = run_cli(*daemon_args(tmp_path), cwd=tmp_path)
    assert out.returncode == 3
    assert "in use by another wfsidecar" in out.stderr


def test_database_of_a_newer_schema_exits_3_and_is_not_touched(
    tmp_path: Path, spawn: Spawn
) -> None:
    first = spawn([*WFSIDECAR, *daemon_args(tmp_path)])
    first.wait_ready()
    first.proc.send_signal(signal.SIGTERM)
    assert first.proc.wait(20) == 0
    db = tmp_path / "wf.db"
    conn = sqlite3.connect(db)
    conn.execute("UPDATE schema_version SET version = version + 100")
    conn.commit()
    conn.close()  # the last connection checkpoints the WAL into the main file
    before = db.read_bytes()
    out = run_cli(*daemon_args(tmp_path), cwd=tmp_path)
    assert out.returncode == 3
    assert "newer" in out.stderr
    assert db.read_bytes() == before


def test_health_command_exit_codes(tmp_path: Path, spawn: Spawn) -> None:
    daemon = spawn([*WFSIDECAR, *daemon_args(tmp_path)])
    ports = daemon.wait_ready()
    ok = run_cli("health", "--http-port", str(ports["http_port"]), cwd=tmp_path)
    assert ok.returncode == 0, ok.stdout + ok.stderr
    daemon.proc.send_signal(signal.SIGTERM)
    assert daemon.proc.wait(20) == 0
    down = run_cli("health", "--http-port", str(ports["http_port"]), cwd=tmp_path)
    assert down.returncode == 1


def test_sigterm_under_load_drains_and_exits_0(tmp_path: Path, spawn: Spawn) -> None:
    log = tmp_path / "beeps.log"
    drain = 3.0
    daemon = spawn(
        [*BEEPER, *daemon_args(tmp_path, "--config", str(write_drain(tmp_path, drain)))],
        BEEPER_LOG=str(log), BEEPER_SEED="every,64,20", BEEPER_TURN_MS="150",
    )
    daemon.wait_ready()
    daemon.wait_line(b"SEEDED")
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline and (not log.exists() or log.read_text().count("\n") < 200):
        time.sleep(0.05)
    assert log.read_text().count("\n") >= 200, daemon.stderr()
    sent = time.monotonic()
    daemon.proc.send_signal(signal.SIGTERM)
    code = daemon.proc.wait(drain + 10)
    took = time.monotonic() - sent
    assert code == 0, daemon.stderr()
    assert took < drain + 2, f"drain took {took:.1f}s"
    assert "draining" in daemon.stderr()
    with sqlite3.connect(tmp_path / "wf.db") as conn:
        assert conn.execute("PRAGMA integrity_check").fetchone() == ("ok",)


def test_reminder_survives_sigkill_and_fires_after_restart(
    tmp_path: Path, spawn: Spawn
) -> None:
    log = tmp_path / "beeps.log"
    first = spawn([*BEEPER, *daemon_args(tmp_path)], BEEPER_LOG=str(log),
                  BEEPER_SEED="once,3,4000")
    first.wait_ready()
    first.wait_line(b"SEEDED")
    first.kill()  # acknowledged (committed) reminders, then kill -9 before they are due
    assert not log.exists(), "reminders fired before the kill; the machine is too slow"
    second = spawn([*BEEPER, *daemon_args(tmp_path)], BEEPER_LOG=str(log))
    second.wait_ready()
    deadline = time.monotonic() + 25
    while time.monotonic() < deadline and (not log.exists() or log.read_text().count("\n") < 3):
        time.sleep(0.05)
    assert sorted(log.read_text().splitlines()) == [f"FIRED b{i} 1" for i in range(3)]
    # The beeper logs inside its turn, before the turn's commit deletes the
    # one-shot reminder, so wait for that commit rather than racing it.
    left = -1
    while time.monotonic() < deadline:
        with sqlite3.connect(tmp_path / "wf.db") as conn:
            left = conn.execute("SELECT count(*) FROM reminders").fetchone()[0]
        if left == 0:
            break
        time.sleep(0.05)
    assert left == 0, f"{left} fired one-shot reminders were never deleted"


def write_drain(tmp: Path, seconds: float) -> Path:
    cfg = tmp / "drain.yaml"
    cfg.write_text(f"lifecycle:\n  drain_timeout: {seconds}s\n")
    return cfg
