"""The chaos run: a real SDK worker, a mixed load, SIGKILLs at random moments.

``run_chaos`` starts the daemon and an SDK's worker app (``sdks.py``: Dapr's SDK on the Dapr
listener, or Microsoft's Python or JS SDK, with entities, on the Microsoft one), drives
``workflows`` instances through ``drive.py`` (at most ``window`` at a time), and kills the
daemon with SIGKILL ``kills`` times, each when a random fraction of the load has completed
plus a random delay, restarting it on the same database and port. After each restart it
measures the recovery from the store: process start → ready, → first reminder-driven turn
committed (the count of reminders that were already due at start first drops), → drain
(none of them left). At the end it stops the daemon cleanly and checks everything
``verify.py`` knows how to check. Used by ``test_chaos.py`` (bounded) and ``python -m tests.chaos``
(``make chaos``, 10,000 workflows).
"""

from __future__ import annotations

import asyncio
import os
import random
import signal
import socket
import sqlite3
import subprocess
import time
from dataclasses import dataclass, field
from pathlib import Path

import grpc

from tests.chaos import verify
from tests.chaos.client import ChaosClient
from tests.chaos.drive import Outcome, drive
from tests.chaos.sdks import SDKS, Sdk
from tests.chaos.workload import instance_id
from tests.daemon import REPO, WFSIDECAR, Daemon, daemon_args


@dataclass
class Recovery:
    in_flight: int  # activities scheduled but unresolved when the daemon was killed
    overdue: int = 0  # reminders already due when the new process started
    ready_s: float = 0.0
    first_turn_s: float | None = None
    drain_s: float | None = None


@dataclass
class Report:
    workflows: int
    instances: int = 0  # workflows plus the children they started
    kills: int = 0
    lost: int = 0
    wrong: int = 0
    duplicate_resolutions: int = 0
    re_executed: int = 0
    recoveries: list[Recovery] = field(default_factory=list)
    elapsed_s: float = 0.0
    client_retries: int = 0
    problems: list[str] = field(default_factory=list)

    def table(self) -> str:
        lines = [
            f"workflows={self.workflows} instances={self.instances} kills={self.kills} "
            f"lost={self.lost} wrong={self.wrong} "
            f"duplicate_resolutions={self.duplicate_resolutions} "
            f"re_executed_activities={self.re_executed} "
            f"(bound {sum(r.in_flight for r in self.recoveries)} in flight at the kills) "
            f"client_retries={self.client_retries} elapsed_s={self.elapsed_s:.1f}",
            "restart  in_flight  overdue  ready_s  first_turn_s  drain_s",
        ]
        for n, r in enumerate(self.recoveries, 1):
            lines.append(f"{n:7d}  {r.in_flight:9d}  {r.overdue:7d}  {r.ready_s:7.2f}  "
                         f"{_fmt(r.first_turn_s):>12}  {_fmt(r.drain_s):>7}")
        return "\n".join(lines)


def _fmt(seconds: float | None) -> str:
    return "-" if seconds is None else f"{seconds:.2f}"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class Processes:
    """The daemon (restarted on the same database and port) and the SDK worker."""

    def __init__(self, workdir: Path, port: int, sdk: Sdk) -> None:
        self.workdir, self.db, self.port, self.sdk = workdir, workdir / "wf.db", port, sdk
        self.argv = [*WFSIDECAR, *daemon_args(workdir, sdk.port_flag, str(port))]
        self.env = {**os.environ, "PYTHONPATH": str(REPO)}
        self.daemon: Daemon | None = None
        self._dead: list[Daemon] = []  # killed ones, closed (log files) at the end
        self.activity_log = workdir / "activities.log"
        worker_env = {**os.environ, sdk.endpoint_env: f"127.0.0.1:{port}",
                      "ACTIVITY_LOG": str(self.activity_log)}
        worker_env.pop("PYTHONPATH", None)
        self._worker_env = worker_env
        self.worker: subprocess.Popen[bytes] | None = None

    def start_daemon(self) -> Daemon:
        if self.daemon is not None:
            self._dead.append(self.daemon)
        self.daemon = Daemon(self.workdir, self.argv, self.env)
        return self.daemon

    def start_worker(self) -> None:
        with (self.workdir / "worker.log").open("ab") as out:
            self.worker = subprocess.Popen(self.sdk.command(), env=self._worker_env,
                                           stdout=out, stderr=subprocess.STDOUT)

    def stop(self) -> None:
        if self.daemon is not None and self.daemon.proc.poll() is None:
            self.daemon.proc.send_signal(signal.SIGTERM)
            try:
                self.daemon.proc.wait(30)
            except subprocess.TimeoutExpired:
                self.daemon.kill()
        for daemon in [*self._dead, *([self.daemon] if self.daemon else [])]:
            daemon.close()
        if self.worker is not None and self.worker.poll() is None:
            self.worker.kill()
            self.worker.wait(10)


def overdue_count(db: Path, before_ms: int) -> int:
    conn = sqlite3.connect(f"file:{db}?mode=ro", uri=True, timeout=5)
    try:
        return int(conn.execute("SELECT count(*) FROM reminders WHERE due_ms <= ?",
                                (before_ms,)).fetchone()[0])
    finally:
        conn.close()


async def restart(procs: Processes, recovery: Recovery) -> None:
    """Start the daemon again and time its recovery from the store (see module doc)."""
    started, started_ms = time.monotonic(), time.time_ns() // 1_000_000
    daemon = procs.start_daemon()
    await asyncio.to_thread(daemon.wait_ready, 60)
    recovery.ready_s = time.monotonic() - started
    recovery.overdue = left = await asyncio.to_thread(overdue_count, procs.db, started_ms)
    deadline = started + 120
    while left and time.monotonic() < deadline:
        await asyncio.sleep(0.01)
        left = await asyncio.to_thread(overdue_count, procs.db, started_ms)
        if recovery.first_turn_s is None and left < recovery.overdue:
            recovery.first_turn_s = time.monotonic() - started
    if not left:
        recovery.drain_s = time.monotonic() - started
        if recovery.first_turn_s is None and recovery.overdue:
            recovery.first_turn_s = recovery.drain_s


async def kill_at_random(procs: Processes, report: Report, progress: list[int],
                         kills: int, workflows: int, rng: random.Random) -> None:
    marks = sorted(rng.uniform(0.05, 0.85) * workflows for _ in range(kills))
    for mark in marks:
        while progress[0] < mark:  # noqa: ASYNC110 (a count, not an event, moves it)
            await asyncio.sleep(0.01)
        await asyncio.sleep(rng.uniform(0, 0.5))
        assert procs.daemon is not None
        procs.daemon.kill()
        recovery = Recovery(in_flight=await asyncio.to_thread(
            verify.in_flight_activities, procs.db))
        report.kills += 1
        report.recoveries.append(recovery)
        await restart(procs, recovery)


async def run_chaos(workdir: Path, *, workflows: int, kills: int, window: int = 100,
                    seed: int | None = None, sdk: str = "dapr") -> Report:
    rng = random.Random(seed)
    run = f"c{rng.randrange(16**6):06x}"
    spec = SDKS[sdk]
    procs = Processes(workdir, free_port(), spec)
    report = Report(workflows=workflows)
    began = time.monotonic()
    try:
        procs.start_daemon().wait_ready(60)
        procs.start_worker()
        async with grpc.aio.insecure_channel(f"127.0.0.1:{procs.port}") as ch:
            client = ChaosClient(ch, dialect=spec.dialect)
            progress, gate = [0], asyncio.Semaphore(window)

            async def one(n: int) -> Outcome:
                async with gate:
                    outcome = await drive(client, instance_id(run, n, spec.kinds), n,
                                          rng.random(), spec.kinds)
                progress[0] += 1
                return outcome

            killer = asyncio.create_task(kill_at_random(procs, report, progress, kills,
                                                        workflows, rng))
            outcomes = await asyncio.gather(*(one(n) for n in range(workflows)))
            await killer
            report.client_retries = client.retries
            final = {o.instance_id: o for o in outcomes}
            for o in outcomes:  # children are read at the end, through the same API
                for child in o.children:
                    final[child.instance_id] = await child.fetch(client)
        report.elapsed_s = time.monotonic() - began
    finally:
        procs.stop()
    check(report, list(final.values()), procs)
    return report


def check(report: Report, outcomes: list[Outcome], procs: Processes) -> None:
    """Compare the outcomes and the store with what the workload says must hold."""
    snap = verify.read(procs.db)
    if snap.integrity != "ok":
        report.problems.append(f"integrity_check: {snap.integrity}")
    expected_runs = judge(report, outcomes, snap)
    report.problems += verify.index_agrees(procs.db, snap)
    runs_problems, report.re_executed = verify.compare_runs(
        verify.activity_runs(procs.activity_log), expected_runs)
    report.problems += runs_problems
    bound = sum(r.in_flight for r in report.recoveries)
    if report.re_executed > bound:
        report.problems.append(f"{report.re_executed} activity re-executions, but only "
                               f"{bound} were in flight at the kills")


def judge(report: Report, outcomes: list[Outcome],
          snap: verify.Snapshot) -> list[tuple[str, str]]:
    """What must hold on any store: every outcome as the workload expects it and as its
    history says, every task resolved once, purged instances gone, finished ones clean,
    entities settled. Returns the activity runs the workload expects."""
    report.instances = len(outcomes)
    expected_runs: list[tuple[str, str]] = []
    expected_entities: list[tuple[str, object]] = []
    purged, finished = [], []
    for o in outcomes:
        expected_runs += o.expected.activities
        expected_entities += o.expected.entities
        report.problems += o.problems
        if o.purged:
            purged.append(o.instance_id)
            continue
        finished.append(o.instance_id)
        if o.status is None:
            report.lost += 1
            report.problems.append(f"{o.instance_id}: lost (no instance)")
        elif (o.status, o.output) != (o.expected.status, o.expected.output):
            report.wrong += 1
            report.problems.append(f"{o.instance_id}: {o.status} {o.output!r}, expected "
                                   f"{o.expected.status} {o.expected.output!r}")
        history = snap.histories.get(o.instance_id)
        if history is None:
            report.problems.append(f"{o.instance_id}: no history in the store")
        elif verify.status_from_history(history) != (o.status, o.raw_output):
            report.problems.append(f"{o.instance_id}: API says {o.status} {o.raw_output!r}, "
                                   f"history says {verify.status_from_history(history)}")
    duplicates = verify.duplicate_resolutions(snap.histories)
    report.duplicate_resolutions = len(duplicates)
    report.problems += duplicates
    report.problems += verify.leftovers(snap, purged)
    report.problems += verify.finished_clean(snap, finished)
    report.problems += verify.entities_settled(snap, expected_entities)
    return expected_runs
