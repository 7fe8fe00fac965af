"""The chaos run on several daemons sharing one PostgreSQL database (issue #15).

``run_cluster_chaos`` starts a throwaway PostgreSQL cluster, ``daemons`` daemons on it
(each on its own port with its own SDK worker), and drives the mixed load of
``drive.py``, instance ``n`` through daemon ``n % daemons``, so most client calls reach a
daemon that does not own the instance. Meanwhile it SIGKILLs one daemon at a time and
restarts it on the same port, timing how long the other daemons take to own the victim's
partitions (take-over vs the lease TTL); once it SIGSTOPs a daemon for twice its lease
TTL and resumes it, whose commits from before the pause must then be refused (the
daemons report refused commits in their heartbeat rows). At the end it stops the
daemons and runs every check of ``harness.check`` against the database.
"""

from __future__ import annotations

import asyncio
import os
import random
import signal
import subprocess
import time
from dataclasses import dataclass, field
from pathlib import Path

import asyncpg
import grpc

from tests.chaos import verify, verify_pg
from tests.chaos.client import ChaosClient
from tests.chaos.drive import Outcome, drive
from tests.chaos.harness import Report, free_port, judge
from tests.chaos.sdks import SDKS, Sdk
from tests.chaos.workload import instance_id
from tests.daemon import REPO, WFSIDECAR, Daemon, daemon_args
from tests.postgres_cluster import start_cluster
from wfsidecar.store.leases import DB_NOW_MS


@dataclass
class ClusterReport(Report):
    daemons: int = 0
    lease_ttl_s: float = 0.0
    takeover_s: list[float] = field(default_factory=list)  # kill -> victim's partitions owned
    stops: int = 0
    refused_stale: int = 0  # commits refused by fencing, summed over the daemons
    refused_after_stop: int = 0  # of those, the SIGSTOPped daemon's (after it resumed)
    stopped: set[str] = field(default_factory=set)  # the stopped daemon's node id
    takeovers: int = 0  # partitions taken from an expired owner

    def table(self) -> str:
        head = super().table().splitlines()[0]
        times = " ".join(f"{t:.2f}" for t in self.takeover_s) or "-"
        return (f"{head}\ndaemons={self.daemons} lease_ttl_s={self.lease_ttl_s:.1f} "
                f"stops={self.stops} refused_stale_commits={self.refused_stale} "
                f"(the stopped daemon's: {self.refused_after_stop}) "
                f"takeovers={self.takeovers}\ntakeover_s (kill -> partitions owned "
                f"elsewhere): {times}")


class Node:
    """One daemon (restarted on the same port) and its SDK worker."""

    def __init__(self, workdir: Path, sdk: Sdk, dsn: str, ttl: float, log: Path) -> None:
        self.workdir, self.port = workdir, free_port()
        workdir.mkdir(parents=True, exist_ok=True)
        self.argv = [*WFSIDECAR, *daemon_args(workdir, sdk.port_flag, str(self.port))]
        self.env = {**os.environ, "PYTHONPATH": str(REPO),
                    "WFSIDECAR_STORE__BACKEND": "postgres",
                    "WFSIDECAR_STORE__POSTGRES__DSN": dsn,
                    "WFSIDECAR_STORE__POSTGRES__LEASE_TTL": f"{ttl}s"}
        worker_env = {**os.environ, sdk.endpoint_env: f"127.0.0.1:{self.port}",
                      "ACTIVITY_LOG": str(log)}
        worker_env.pop("PYTHONPATH", None)
        self._worker_env, self._sdk = worker_env, sdk
        self.daemon: Daemon | None = None
        self.dead: list[Daemon] = []
        self.worker: subprocess.Popen[bytes] | None = None

    def start(self) -> Daemon:
        if self.daemon is not None:
            self.dead.append(self.daemon)
        self.daemon = Daemon(self.workdir, self.argv, self.env)
        return self.daemon

    def start_worker(self) -> None:
        with (self.workdir / "worker.log").open("ab") as out:
            self.worker = subprocess.Popen(self._sdk.command(), env=self._worker_env,
                                           stdout=out, stderr=subprocess.STDOUT)

    def stop(self) -> None:
        if self.daemon is not None and self.daemon.proc.poll() is None:
            self.daemon.proc.send_signal(signal.SIGCONT)  # in case it is stopped
            self.daemon.proc.send_signal(signal.SIGTERM)
            try:
                self.daemon.proc.wait(30)
            except subprocess.TimeoutExpired:
                self.daemon.kill()
        for daemon in [*self.dead, *([self.daemon] if self.daemon else [])]:
            daemon.close()
        if self.worker is not None and self.worker.poll() is None:
            self.worker.kill()
            self.worker.wait(10)


async def _owners(dsn: str) -> dict[int, tuple[str | None, int]]:
    conn = await asyncpg.connect(dsn)
    try:
        rows = await conn.fetch("SELECT partition, owner, token FROM leases")
    finally:
        await conn.close()
    return {int(r[0]): (r[1], int(r[2])) for r in rows}


async def _daemon_counts(dsn: str, stopped: set[str]) -> tuple[int, int, int]:
    """(refused commits, take-overs) summed over the daemons' heartbeat rows, and the
    refused commits of the ``stopped`` daemon."""
    conn = await asyncpg.connect(dsn)
    try:
        row = await conn.fetchrow(
            "SELECT coalesce(sum(refused), 0), coalesce(sum(takeovers), 0),"
            " coalesce(sum(refused) FILTER (WHERE id = ANY($1::text[])), 0) FROM daemons",
            sorted(stopped))
    finally:
        await conn.close()
    return int(row[0]), int(row[1]), int(row[2])


async def _heartbeats_since_now(dsn: str, stopped: set[str], lease_ttl: float,
                                limit: float) -> None:
    """Wait until every live daemon, and the one that was stopped, has sent a heartbeat
    after this moment (the database's clock), so the counts they report are current."""
    conn = await asyncpg.connect(dsn)
    try:
        mark = await conn.fetchval(f"SELECT {DB_NOW_MS}")
        deadline = time.monotonic() + limit
        while time.monotonic() < deadline:
            behind = await conn.fetchval(
                "SELECT count(*) FROM daemons WHERE heartbeat_ms <= $1::bigint AND"
                " (heartbeat_ms > $1::bigint - $2::bigint OR id = ANY($3::text[]))",
                mark, int(lease_ttl * 1000), sorted(stopped))
            if not behind:
                return
            await asyncio.sleep(0.05)
    finally:
        await conn.close()


async def _takeover(dsn: str, before: dict[int, tuple[str | None, int]], victim: set[str],
                    limit: float) -> float | None:
    """Seconds until every partition ``victim`` owned has a new token and another owner."""
    began = time.monotonic()
    theirs = {p for p, (owner, _) in before.items() if owner in victim}
    if not theirs:
        return None  # it held nothing (no worker connected yet)
    while time.monotonic() - began < limit:
        now = await _owners(dsn)
        if all(now[p][1] > before[p][1] and now[p][0] is not None for p in theirs):
            return time.monotonic() - began
        await asyncio.sleep(0.05)
    return None


async def _faults(nodes: list[Node], dsn: str, report: ClusterReport, progress: list[int],
                  kills: int, stop_once: bool, workflows: int, rng: random.Random) -> None:
    marks = sorted(rng.uniform(0.05, 0.8) * workflows for _ in range(kills + stop_once))
    stop_at = rng.randrange(len(marks)) if stop_once else -1
    for n, mark in enumerate(marks):
        while progress[0] < mark:  # noqa: ASYNC110 (a count, not an event, moves it)
            await asyncio.sleep(0.01)
        await asyncio.sleep(rng.uniform(0, 0.5))
        node = nodes[n % len(nodes)]
        assert node.daemon is not None
        before = await _owners(dsn)
        others = {o for o, _ in before.values() if o is not None}
        pid = node.daemon.proc.pid
        victim = {o for o in others if o is not None and o.rsplit("-", 2)[1] == str(pid)}
        if n == stop_at:
            node.daemon.proc.send_signal(signal.SIGSTOP)
            report.stops += 1
            report.stopped |= victim
            await _takeover(dsn, before, victim, 30)
            await asyncio.sleep(report.lease_ttl_s)  # well past its lease: work moved on
            node.daemon.proc.send_signal(signal.SIGCONT)
            continue
        node.daemon.kill()
        report.kills += 1
        took = await _takeover(dsn, before, victim, 60)
        if took is not None:
            report.takeover_s.append(took)
        daemon = node.start()
        await asyncio.to_thread(daemon.wait_ready, 60)


async def run_cluster_chaos(workdir: Path, *, workflows: int, kills: int, daemons: int = 3,
                            window: int = 100, seed: int | None = None, sdk: str = "dapr",
                            stop_once: bool = True, lease_ttl: float = 2.0) -> ClusterReport:
    rng = random.Random(seed)
    run = f"c{rng.randrange(16**6):06x}"
    spec = SDKS[sdk]
    report = ClusterReport(workflows=workflows, daemons=daemons, lease_ttl_s=lease_ttl)
    pg = await asyncio.to_thread(start_cluster)
    log = workdir / "activities.log"
    nodes: list[Node] = []
    began = time.monotonic()
    try:
        dsn = await asyncio.to_thread(pg.create_database, "chaos")
        nodes = [Node(workdir / f"d{n}", spec, dsn, lease_ttl, log) for n in range(daemons)]
        for node in nodes:
            await asyncio.to_thread(node.start().wait_ready, 60)
            node.start_worker()
        channels = [grpc.aio.insecure_channel(f"127.0.0.1:{node.port}") for node in nodes]
        try:
            clients = [ChaosClient(ch, dialect=spec.dialect) for ch in channels]
            progress, gate = [0], asyncio.Semaphore(window)

            async def one(n: int) -> Outcome:
                async with gate:
                    outcome = await drive(clients[n % daemons],
                                          instance_id(run, n, spec.kinds), n, rng.random(),
                                          spec.kinds)
                progress[0] += 1
                return outcome

            faults = asyncio.create_task(_faults(nodes, dsn, report, progress, kills,
                                                 stop_once, workflows, rng))
            outcomes = await asyncio.gather(*(one(n) for n in range(workflows)))
            await faults
            report.client_retries = sum(c.retries for c in clients)
            final = {o.instance_id: o for o in outcomes}
            for o in outcomes:
                for child in o.children:
                    final[child.instance_id] = await child.fetch(clients[0])
        finally:
            for ch in channels:
                await ch.close()
        # Daemons report their counts at their heartbeats (a third of the TTL).
        await _heartbeats_since_now(dsn, report.stopped, lease_ttl, 30)
        report.refused_stale, report.takeovers, report.refused_after_stop = \
            await _daemon_counts(dsn, report.stopped)
        report.elapsed_s = time.monotonic() - began
        for node in nodes:
            await asyncio.to_thread(node.stop)
        await check_cluster(report, list(final.values()), dsn, log)
    finally:
        for node in nodes:
            await asyncio.to_thread(node.stop)
        await asyncio.to_thread(pg.stop)
    return report


async def check_cluster(report: ClusterReport, outcomes: list[Outcome], dsn: str,
                        log: Path) -> None:
    """``harness.check`` on the PostgreSQL store. Activity re-runs have no bound here:
    besides kills, every hand-over (a restarted daemon taking its share back) re-runs
    what the previous owner's worker had in flight; each is still resolved once."""
    snap = await verify_pg.read(dsn)
    expected_runs = judge(report, outcomes, snap)
    report.problems += await verify_pg.index_agrees(dsn, snap)
    runs_problems, report.re_executed = verify.compare_runs(verify.activity_runs(log),
                                                            expected_runs)
    report.problems += runs_problems
