"""Crash safety with a real SDK worker, and the seed's exact state layout in SQLite."""

from __future__ import annotations

import json
import os
import socket
import sqlite3
import subprocess
import time
from collections import Counter
from collections.abc import Callable
from pathlib import Path

import pytest

from tests.daemon import REPO, WFSIDECAR, Daemon, daemon_args
from tests.sdk_envs import sdk_python
from tests.stored_state import state_rows

APP = REPO / "tests" / "scenarios" / "restart_app.py"
SDK = "dapr-ext-118"

pytestmark = [pytest.mark.process, pytest.mark.timeout(300)]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def app_env(port: int, log: Path) -> dict[str, str]:
    env = {**os.environ, "DAPR_GRPC_ENDPOINT": f"localhost:{port}", "ACTIVITY_LOG": str(log)}
    env.pop("PYTHONPATH", None)
    return env


def client(python: Path, env: dict[str, str], *args: str) -> object:
    out = subprocess.run([str(python), str(APP), *args], capture_output=True, text=True,
                         env=env, timeout=200)
    assert out.returncode == 0, out.stderr[-4000:]
    return json.loads(out.stdout.strip().splitlines()[-1])


def workflow_state(db: Path) -> dict[str, dict[str, bytes]]:
    """All workflow/activity actor keys straight from the SQLite file."""
    conn = sqlite3.connect(f"file:{db}?mode=ro", uri=True)
    try:
        rows = state_rows(conn)  # finished instances' keys are packed in one row
    finally:
        conn.close()
    state: dict[str, dict[str, bytes]] = {}
    for type_, actor_id, key, value in rows:
        state.setdefault(f"{type_}/{actor_id}", {})[key] = value
    return state


def test_sigkill_mid_flight_loses_and_duplicates_nothing(
    tmp_path: Path, spawn: Callable[..., Daemon]
) -> None:
    python = sdk_python(SDK)
    port, log = free_port(), tmp_path / "activities.log"
    args = daemon_args(tmp_path, "--dapr-grpc-port", str(port))
    first = spawn([*WFSIDECAR, *args])
    first.wait_ready()
    env = app_env(port, log)
    worker = subprocess.Popen([str(python), str(APP), "work"], env=env,
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        ids = client(python, env, "start", "50", "journey")
        assert isinstance(ids, list) and len(ids) == 50
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline and (
                not log.exists() or log.read_text().count("\n") < 60):
            time.sleep(0.05)
        first.kill()  # activities and timers are pending right now
        second = spawn([*WFSIDECAR, *args])
        second.wait_ready()
        done = client(python, env, "await", *ids)
    finally:
        worker.kill()
        worker.wait()
    assert isinstance(done, dict)
    for i, instance_id in enumerate(ids):
        assert done[instance_id] == ["COMPLETED", 300 * i + 13], instance_id
    from wfsidecar._proto.dapr import orchestrator_service_pb2 as pb

    state = workflow_state(tmp_path / "wf.db")
    for instance_id in ids:
        keys = state[f"dapr.internal.wfengine.workflow/{instance_id}"]
        history = [pb.HistoryEvent.FromString(v) for k, v in sorted(keys.items())
                   if k.startswith("history-")]
        completions = Counter(e.taskCompleted.taskScheduledId for e in history
                              if e.HasField("taskCompleted"))
        assert completions and max(completions.values()) == 1, instance_id
        timers = Counter(e.timerFired.timerId for e in history if e.HasField("timerFired"))
        assert list(timers.values()) == [1], instance_id
    # Every activity of every workflow ran at least once.
    runs = Counter(line.split()[0] for line in log.read_text().splitlines())
    assert all(runs[i] >= 6 for i in ids)


def test_store_keeps_the_seed_layout(tmp_path: Path, spawn: Callable[..., Daemon]) -> None:
    python = sdk_python(SDK)
    daemon = spawn([*WFSIDECAR, *daemon_args(tmp_path)])
    port = daemon.wait_ready()["dapr_grpc_port"]
    env = app_env(port, tmp_path / "log")
    worker = subprocess.Popen([str(python), str(APP), "work"], env=env,
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        subprocess.run([str(python), str(APP), "slow", "layout-1"], env=env, check=True,
                       timeout=60, capture_output=True)
        db = tmp_path / "wf.db"
        deadline = time.monotonic() + 30
        pending: dict[str, dict[str, bytes]] = {}
        while time.monotonic() < deadline and not pending:
            pending = {k: v for k, v in workflow_state(db).items()
                       if k.startswith("dapr.internal.wfengine.activity/layout-1#")}
            time.sleep(0.05)
        # One activity actor, id <instanceId>#<taskId>, one key, present while it runs.
        assert len(pending) == 1
        assert [list(keys) for keys in pending.values()] == [["activityreq-1"]]
        done = client(python, env, "await", "layout-1")
    finally:
        worker.kill()
        worker.wait()
    assert done == {"layout-1": ["COMPLETED", 70]}
    state = workflow_state(tmp_path / "wf.db")
    assert not [k for k in state if "activity/layout-1#" in k]  # removed once applied
    keys = state["dapr.internal.wfengine.workflow/layout-1"]
    metadata = json.loads(keys["metadata"])
    history_keys = sorted(k for k in keys if k.startswith("history-"))
    assert metadata == {"inboxLength": 0, "historyLength": len(history_keys), "generation": 1}
    assert history_keys == [f"history-{i:06d}" for i in range(len(history_keys))]
    assert json.loads(keys["customStatus"]) == "working"
    assert set(keys) == {"metadata", "customStatus", *history_keys}
    size = sum(len(k) + len(v) for k, v in keys.items())
    print(f"stored bytes for a completed 1-activity workflow: {size}")
