"""Worker faults with the real Dapr SDK: a worker killed mid-activity or mid-turn, a
worker stream that closes with work in hand, a worker that never finishes an item.

The daemon runs as a subprocess (as users run it); workers are separate SDK processes
so they can be SIGKILLed exactly while they hold a work item (``fault_app.py`` writes a
mark at that moment). What must hold: the item goes to another worker, the workflow
completes with the other worker's result, and the history resolves the task once.
"""

from __future__ import annotations

import json
import os
import signal
import sqlite3
import subprocess
import time
from collections import Counter
from collections.abc import Callable, Iterator
from pathlib import Path

import grpc
import pytest

from tests.daemon import REPO, WFSIDECAR, Daemon, daemon_args
from tests.hazards._support_21_40 import (
    Stream,
    answer,
    answer_activity,
    code_of,
    complete,
    daemon,
    history,
    results,
    schedule,
)
from tests.scenarios.test_restart_and_layout import free_port
from tests.sdk_envs import sdk_python
from tests.stored_state import state_rows
from wfsidecar._proto.internal import orchestrator_service_pb2 as pb

APP = REPO / "tests" / "scenarios" / "fault_app.py"
SDK = "dapr-ext-118"

pytestmark = [pytest.mark.process, pytest.mark.timeout(120)]


class Rig:
    """One daemon plus any number of SDK worker processes, all on one port."""

    def __init__(self, tmp: Path, daemon: Daemon, port: int) -> None:
        self.tmp, self.daemon, self.port = tmp, daemon, port
        self.python = sdk_python(SDK)
        self.marks = tmp / "marks.log"
        self.marks.touch()
        self.workers: list[subprocess.Popen[bytes]] = []

    def env(self, **extra: str) -> dict[str, str]:
        env = {**os.environ, "DAPR_GRPC_ENDPOINT": f"127.0.0.1:{self.port}",
               "MARKS": str(self.marks), **extra}
        env.pop("PYTHONPATH", None)
        return env

    def worker(self, role: str, victim: str = "", **env: str) -> subprocess.Popen[bytes]:
        log = (self.tmp / f"{role}.log").open("ab")
        proc = subprocess.Popen([str(self.python), str(APP), "work"], stdout=log,
                                stderr=subprocess.STDOUT,
                                env=self.env(ROLE=role, VICTIM=victim, **env))
        log.close()
        self.workers.append(proc)
        self.wait_mark(f"{role} ready -")
        return proc

    def run(self, *args: str) -> object:
        out = subprocess.run([str(self.python), str(APP), *args], capture_output=True,
                             text=True, env=self.env(), timeout=90)
        assert out.returncode == 0, out.stderr[-3000:]
        return json.loads(out.stdout.strip().splitlines()[-1])

    def wait_mark(self, line: str, timeout: float = 30) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if line in self.marks.read_text().splitlines():
                return
            time.sleep(0.02)
        raise AssertionError(f"no mark {line!r}: {self.marks.read_text()}")

    def marks_of(self, what: str) -> list[str]:
        return [line for line in self.marks.read_text().splitlines() if f" {what} " in line]

    def close(self) -> None:
        for proc in self.workers:
            if proc.poll() is None:
                proc.kill()
            proc.wait(10)


@pytest.fixture
def rig(tmp_path: Path, spawn: Callable[..., Daemon]) -> Iterator[Rig]:
    port = free_port()
    # Short keepalive so a frozen worker is noticed within seconds, not the default 30 s.
    daemon = spawn([*WFSIDECAR, *daemon_args(tmp_path, "--dapr-grpc-port", str(port))],
                   WFSIDECAR_LISTENERS__KEEPALIVE_INTERVAL="1s",
                   WFSIDECAR_LISTENERS__KEEPALIVE_TIMEOUT="1s")
    daemon.wait_ready()
    rig = Rig(tmp_path, daemon, port)
    yield rig
    rig.close()


def stored_history(db: Path, instance_id: str) -> list[pb.HistoryEvent]:
    conn = sqlite3.connect(f"file:{db}?mode=ro", uri=True)
    try:
        rows = [(value,) for type_, actor_id, key, value in state_rows(conn)
                if type_ == "dapr.internal.wfengine.workflow" and actor_id == instance_id
                and key.startswith("history-")]
    finally:
        conn.close()
    return [pb.HistoryEvent.FromString(value) for (value,) in rows]


def resolutions(events: list[pb.HistoryEvent]) -> Counter[int]:
    return Counter(e.taskCompleted.taskScheduledId for e in events
                   if e.HasField("taskCompleted"))


def test_worker_killed_mid_activity_hands_it_to_another(rig: Rig) -> None:
    victim = rig.worker("victim", victim="activity")
    rig.run("start", "once", "mid-activity")
    rig.wait_mark("victim step-start mid-activity")
    rig.worker("rescuer")
    victim.kill()  # holds the activity right now; its stream dies with it
    done = rig.run("await", "mid-activity")
    assert done == {"mid-activity": ["COMPLETED", "rescuer:22"]}
    assert rig.marks_of("step-done") == ["rescuer step-done mid-activity"]
    events = stored_history(rig.tmp / "wf.db", "mid-activity")
    assert list(resolutions(events).values()) == [1]


def test_worker_killed_mid_turn_hands_the_turn_to_another(rig: Rig) -> None:
    victim = rig.worker("victim", victim="turn")
    rig.run("start", "turn", "mid-turn")
    rig.wait_mark("victim turn mid-turn")
    rig.worker("rescuer")
    victim.kill()
    assert rig.run("await", "mid-turn") == {"mid-turn": ["COMPLETED", 42]}
    assert rig.marks_of("turn") == ["victim turn mid-turn", "rescuer turn mid-turn"]
    events = stored_history(rig.tmp / "wf.db", "mid-turn")
    kinds = [e.WhichOneof("eventType") for e in events]
    assert kinds.count("executionCompleted") == 1 and kinds.count("orchestratorStarted") == 1


def test_frozen_worker_loses_its_items_to_a_live_one(rig: Rig) -> None:
    # SIGSTOP: the process holds the activity and its TCP connection stays open, but it
    # answers no HTTP/2 ping, so listeners.keepalive_* closes it and the item moves on.
    victim = rig.worker("victim", victim="activity")
    rig.run("start", "once", "frozen")
    rig.wait_mark("victim step-start frozen")
    rig.worker("rescuer")
    victim.send_signal(signal.SIGSTOP)
    try:
        done = rig.run("await", "frozen")
    finally:
        victim.kill()  # SIGKILL also ends a stopped process
    assert done == {"frozen": ["COMPLETED", "rescuer:22"]}
    assert list(resolutions(stored_history(rig.tmp / "wf.db", "frozen")).values()) == [1]


def test_a_worker_that_never_finishes_an_item_blocks_no_other_instance(rig: Rig) -> None:
    rig.worker("only")
    rig.run("start", "stuck", "stuck-1")
    rig.wait_mark("only hang-start stuck-1")
    others = [f"free-{i}" for i in range(8)]
    rig.run("start", "once", *others)
    done = rig.run("await", *others)
    assert done == {i: ["COMPLETED", "only:22"] for i in others}
    # The stuck instance is still legitimately running, and can be ended by hand.
    rig.run("terminate", "stuck-1")
    assert rig.run("await", "stuck-1") == {"stuck-1": ["TERMINATED", None]}


def test_a_suspend_or_resume_sent_twice_neither_hangs_nor_fails_the_worker(rig: Rig) -> None:
    # Issue #10: the SDK buffers a second ExecutionSuspended and, on the resume, loops
    # forever over its own growing buffer; a resume while not suspended fails the workflow
    # ("Don't know how to handle event of type 'executionResumed'"). Chaos runs stored both,
    # from calls retried across a kill. With no worker connected every call below is
    # committed to the inbox before any turn runs, so the service's status check (PENDING,
    # not SUSPENDED) cannot catch the second suspend; the turn must drop both repeats.
    rig.run("twice", "suspended-twice", "resumed-twice")
    rig.worker("only", MEMORY_CAP_MB="1024")  # a looping worker fails instead of eating RAM
    done = rig.run("await", "suspended-twice", "resumed-twice")
    assert done == {"suspended-twice": ["COMPLETED", "only:22"],
                    "resumed-twice": ["COMPLETED", "only:22"]}
    for instance_id in done:
        kinds = [e.WhichOneof("eventType")
                 for e in stored_history(rig.tmp / "wf.db", instance_id)]
        controls = [k for k in kinds if k in ("executionSuspended", "eventRaised",
                                              "executionResumed")]
        assert controls == ["executionSuspended", "eventRaised", "executionResumed"]


async def test_late_activity_result_from_a_closed_stream_is_ignored(tmp_path: Path) -> None:
    """The same worker reconnects: its old dispatch's result, arriving after the new
    one's (or before it), is refused and never reaches the history."""
    async with daemon(tmp_path / "wf.db") as (_, client):
        worker = Stream(client)
        await client.start("late")
        await answer(client, await worker.next(), schedule(0, "step"))
        first = await worker.next()
        assert first.HasField("activityRequest")
        worker.close()  # the stream ends with the activity in hand
        reconnected = Stream(client)
        second = await reconnected.next()
        assert second.activityRequest.taskId == first.activityRequest.taskId
        assert second.completionToken != first.completionToken
        before = await code_of(answer_activity(client, first, '"old, before"'))
        await answer_activity(client, second, '"new"')
        after = await code_of(answer_activity(client, first, '"old, after"'))
        assert before == after == grpc.StatusCode.NOT_FOUND
        turn = await reconnected.next()
        assert results(turn.orchestratorRequest.newEvents, "taskCompleted") == ['"new"']
        await answer(client, turn, complete(1, result='"done"'))
        assert results(await history(client, "late"), "taskCompleted") == ['"new"']
        reconnected.close()
