"""Retention (issue #13 item 5) on an in-process daemon with a raw worker and a fake clock.

The sweeper purges finished instances past their status's limit — children with their
parent, the archive written first — while new workflows start and finish alongside it;
nothing live or young is touched, and the file gives its pages back. Also: the storage
report, the HTTP bulk purge's dry run, and that the sweeper drains on shutdown.
"""

from __future__ import annotations

import asyncio
import json
import random
from pathlib import Path
from typing import cast

from tests.fakes import FakeClock
from tests.http._support import API, Http, Worker, complete, daemon, served, worker
from wfsidecar._proto.dapr import orchestrator_service_pb2 as pb
from wfsidecar.app import App
from wfsidecar.store.sqlite import SqliteStore

T0 = 1_751_830_402_000
HOUR_MS = 3_600_000
# An input that makes each instance worth purging, and that deflate halves at best.
BIG = json.dumps(random.Random(13).randbytes(10_000).hex())


async def run_one(http: Http, raw: Worker, instance_id: str, *, failed: bool = False,
                  data: str | None = BIG) -> None:
    await http.start("flow", instance_id, data)
    await raw.accepted(await raw.next("orchestratorRequest"),
                       actions=[complete('"ok"', failed=failed, message="boom")])
    await http.wait_status(instance_id, "FAILED" if failed else "COMPLETED")


async def checkpointed_size(app: App) -> int:
    store = cast(SqliteStore, app.store)
    await store.execute_on_writer("PRAGMA wal_checkpoint(TRUNCATE)")
    return await store.size_bytes()


async def test_sweeper_purges_expired_instances_while_a_load_runs(tmp_path: Path) -> None:
    clock = FakeClock(T0)
    archive = tmp_path / "archive.jsonl"
    app = daemon(tmp_path, clock, **{
        "retention.completed": "1h", "retention.failed": "3h", "retention.batch_size": 4,
        "retention.sweep_interval": "24h", "retention.archive_path": str(archive)})
    async with served(app) as http, worker(app) as raw:
        for n in range(12):
            await run_one(http, raw, f"old-ok-{n:02d}")
        for n in range(3):
            await run_one(http, raw, f"old-failed-{n}", failed=True)
        for n in range(3):  # live since the start: never answered
            await http.start("flow", f"live-{n}")
        for _ in range(3):
            await raw.next("orchestratorRequest")  # dispatched, held by this worker
        clock.advance(2 * HOUR_MS / 1000)
        await run_one(http, raw, "young-ok")
        before = await checkpointed_size(app)

        report = (await http.get("/v1.0/storage?largest=3")).json()
        assert report["retention"]["policySeconds"] == {"COMPLETED": 3600.0, "FAILED": 10800.0}
        assert report["retention"]["backlog"]["COMPLETED"]["count"] == 12
        assert report["retention"]["backlog"]["FAILED"]["count"] == 0  # 2h < 3h
        assert report["instances"]["byStatus"]["COMPLETED"]["count"] == 13
        assert report["instances"]["count"] == 19
        assert len(report["largest"]) == 3 and report["largest"][0]["storedBytes"] > 20_000
        assert report["store"]["backend"] == "sqlite"
        assert report["store"]["fileBytes"] >= before
        cutoff = T0 + HOUR_MS
        dry = (await http.post(f"{API}/purge?status=COMPLETED&completedTo={cutoff}"
                               "&dryRun=true")).json()
        assert dry["matched"] == 12
        assert dry["storedBytes"] == report["retention"]["backlog"]["COMPLETED"]["storedBytes"]

        async def load() -> list[str]:
            done = []
            for n in range(6):  # new workflows start and finish while the sweep runs
                await run_one(http, raw, f"new-{n}", data=None)
                done.append(f"new-{n}")
            return done

        assert app.retention is not None
        result, finished = await asyncio.gather(app.retention.sweep(), load())

        assert (result.purged, result.skipped, result.archived) == (12, 0, 12)
        assert result.purged_bytes == dry["storedBytes"]
        assert result.reclaimed_pages > 0
        remaining = await http.ids()
        assert remaining == sorted([*finished, "live-0", "live-1", "live-2", "old-failed-0",
                                    "old-failed-1", "old-failed-2", "young-ok"])
        for n in range(3):
            assert await http.status(f"live-{n}") in ("PENDING", "RUNNING")
        lines = [json.loads(line) for line in archive.read_text().splitlines()]
        assert sorted(line["instance"]["instanceId"] for line in lines) == [
            f"old-ok-{n:02d}" for n in range(12)]
        for line in lines:
            assert line["instance"]["status"] == "COMPLETED"
            kinds = [next(k for k in event if k not in ("eventId", "timestamp"))
                     for event in line["history"]]
            assert "executionStarted" in kinds and "executionCompleted" in kinds
        assert await checkpointed_size(app) < before - 12 * 8_000  # the file gave it back

        # An hour later the failed ones are past their 3 h too; the storage report says so.
        clock.advance(HOUR_MS / 1000 + 1)
        report = (await http.get("/v1.0/storage")).json()
        assert report["retention"]["backlog"]["FAILED"]["count"] == 3
        assert report["retention"]["lastSweep"]["purged"] == 12
        second = await app.retention.sweep()
        assert second.purged == 10  # the 3 failed ones, young-ok and the 6 new, now 1h old
        assert await http.ids() == ["live-0", "live-1", "live-2"]
        assert len(archive.read_text().splitlines()) == 22


def create_child(instance_id: str) -> pb.OrchestratorAction:
    action = pb.OrchestratorAction(id=0)
    action.createSubOrchestration.name = "kid"
    action.createSubOrchestration.instanceId = instance_id
    return action


async def test_children_go_with_their_parent_on_the_background_sweep(tmp_path: Path) -> None:
    clock = FakeClock(T0)
    archive = tmp_path / "archive.jsonl"
    # The failed child's own limit is far off; it goes with its expired parent all the same.
    app = daemon(tmp_path, clock, **{"retention.anyTerminal": "1m", "retention.failed": "1000h",
                                     "retention.sweep_interval": "10s",
                                     "retention.archive_path": str(archive)})
    async with served(app) as http, worker(app) as raw:
        await http.start("parent", "p")
        await raw.accepted(await raw.next("orchestratorRequest"), actions=[create_child("p:kid")])
        await raw.accepted(await raw.next("orchestratorRequest"),
                           actions=[complete(failed=True, message="kid failed")])
        await raw.accepted(await raw.next("orchestratorRequest"), actions=[complete('"done"')])
        await http.wait_status("p", "COMPLETED")
        assert await http.status("p:kid") == "FAILED"
        clock.advance(120)  # the background sweep wakes on the fake clock
        for _ in range(500):
            if await http.ids() == []:
                break
            await asyncio.sleep(0.01)
        assert await http.ids() == []
        assert app.retention is not None and app.retention.last is not None
        assert app.retention.last.purged == 2
        lines = [json.loads(line) for line in archive.read_text().splitlines()]
        assert [(x["instance"]["instanceId"], x["instance"]["status"]) for x in lines] == [
            ("p", "COMPLETED"), ("p:kid", "FAILED")]
        assert lines[0]["instance"]["childInstanceIds"] == ["p:kid"]
    # served() left: the daemon stopped, the sweeper's task among the rest.


async def test_nothing_is_purged_when_the_archive_cannot_be_written(tmp_path: Path) -> None:
    clock = FakeClock(T0)
    app = daemon(tmp_path, clock, **{"retention.anyTerminal": "1m",
                                     "retention.sweep_interval": "10s",
                                     "retention.archive_path": str(tmp_path / "no" / "a.jsonl")})
    async with served(app) as http, worker(app) as raw:
        await run_one(http, raw, "kept", data=None)
        assert app.retention is not None
        for _ in range(500):  # the sweep at start-up (nothing expired yet) has finished
            if app.retention.last is not None:
                break
            await asyncio.sleep(0.01)
        first = app.retention.last
        assert first is not None
        clock.advance(120)  # the background sweep runs, fails to archive, and logs it
        for _ in range(100):
            await asyncio.sleep(0.01)
        assert app.retention.last is first  # no sweep finished
        assert await http.ids() == ["kept"]
        await run_one(http, raw, "still-serving", data=None)
