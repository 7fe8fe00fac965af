"""Storage faults (issue #5): the database becomes read-only or the disk fills.

SQLite itself raises the real errors: on the store's writer connection ``PRAGMA
max_page_count = <page_count>`` makes every write that grows the file fail with
SQLITE_FULL ("database or disk is full"), and ``PRAGMA query_only = ON`` makes every write
fail with SQLITE_READONLY. Resetting the PRAGMA clears the fault. A full disk only refuses
writes that need new pages, so the disk-full cases write payloads large enough to need
them. While the fault lasts clients get UNAVAILABLE naming it and health is not ready;
afterwards everything proceeds by itself and nothing acknowledged is lost.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from types import ModuleType

import aiohttp
import grpc
import pytest
from google.protobuf import wrappers_pb2
from grpc_health.v1 import health_pb2, health_pb2_grpc

from tests.server._raw_worker import (
    Worker,
    channel_to,
    daemon,
    finish,
    flow_started,
    refused,
    schedule,
    unary,
)
from tests.test_app import running
from tests.waiting import eventually
from wfsidecar._proto.dapr import orchestrator_service_pb2 as dapr_pb
from wfsidecar._proto.ms import orchestrator_service_pb2 as ms_pb
from wfsidecar.app import App
from wfsidecar.store.sqlite import SqliteStore

BIG = "x" * 48_000  # needs a dozen new pages: refused on a full disk
MESSAGES = {"full": "database is full", "readonly": "database is read-only"}
SERVING = health_pb2.HealthCheckResponse.SERVING
NOT_SERVING = health_pb2.HealthCheckResponse.NOT_SERVING
FAULTS = pytest.mark.parametrize("fault", ["full", "readonly"])


def fast_daemon(tmp_path: Path) -> App:
    # Short backoffs keep the module fast; the behaviour is the same at the defaults.
    return daemon(tmp_path / "wf.db", {
        "work_items.redispatch_initial": 0.05, "work_items.redispatch_max": 0.4,
        "reminders.retry_initial": 0.05, "reminders.retry_max": 0.4})


def store_of(app: App) -> SqliteStore:
    assert isinstance(app.store, SqliteStore)
    return app.store


@asynccontextmanager
async def storage_fault(app: App, kind: str) -> AsyncIterator[None]:
    store = store_of(app)
    if kind == "full":
        pages = (await store.execute_on_writer("PRAGMA page_count"))[0][0]
        await store.execute_on_writer(f"PRAGMA max_page_count = {pages}")
        clear = "PRAGMA max_page_count = 1073741823"
    else:
        await store.execute_on_writer("PRAGMA query_only = ON")
        clear = "PRAGMA query_only = OFF"
    try:
        yield
    finally:
        await store.execute_on_writer(clear)


async def healthz(app: App) -> tuple[int, str]:
    assert app.ports is not None
    async with aiohttp.ClientSession() as session:
        url = f"http://127.0.0.1:{app.ports.http}/v1.0/healthz"
        async with session.get(url) as resp:
            return resp.status, await resp.text()


async def grpc_serving(channel: grpc.aio.Channel) -> bool:
    got = await health_pb2_grpc.HealthStub(channel).Check(health_pb2.HealthCheckRequest())
    return bool(got.status == health_pb2.HealthCheckResponse.SERVING)


async def exists(channel: grpc.aio.Channel, pb: ModuleType, instance_id: str) -> bool:
    got = await unary(channel, "GetInstance", pb.GetInstanceResponse)(
        pb.GetInstanceRequest(instanceId=instance_id), timeout=5)
    return bool(got.exists)


async def integrity(app: App) -> list[tuple[object, ...]]:
    return await store_of(app).execute_on_writer("PRAGMA integrity_check")


@FAULTS
async def test_client_requests_get_unavailable_and_health_recovers(
        tmp_path: Path, fault: str) -> None:
    app = fast_daemon(tmp_path)
    acked: list[str] = []
    async with running(app), channel_to(app, dapr_pb) as dapr, channel_to(app, ms_pb) as ms:
        dapr_start = unary(dapr, "StartInstance", dapr_pb.CreateInstanceResponse)
        ms_start = unary(ms, "StartInstance", ms_pb.CreateInstanceResponse)
        await dapr_start(dapr_pb.CreateInstanceRequest(instanceId="before", name="wf"),
                         timeout=5)
        acked.append("before")
        watch = health_pb2_grpc.HealthStub(ms).Watch(health_pb2.HealthCheckRequest())
        assert (await watch.read()).status == SERVING
        async with storage_fault(app, fault):
            big = dapr_pb.CreateInstanceRequest(instanceId="during", name="wf")
            big.input.value = BIG
            ms_big = ms_pb.CreateInstanceRequest(instanceId="during-ms", name="wf")
            ms_big.input.value = BIG
            event = dapr_pb.RaiseEventRequest(instanceId="before", name="e")
            event.input.value = BIG
            terminate = ms_pb.TerminateRequest(instanceId="before")
            terminate.output.value = BIG
            for error in [
                await refused(dapr_start(big, timeout=5)),
                await refused(ms_start(ms_big, timeout=5)),
                await refused(unary(dapr, "RaiseEvent", dapr_pb.RaiseEventResponse)(
                    event, timeout=5)),
                await refused(unary(ms, "TerminateInstance", ms_pb.TerminateResponse)(
                    terminate, timeout=5)),
            ]:
                assert error.code() == grpc.StatusCode.UNAVAILABLE, error
                assert MESSAGES[fault] in (error.details() or ""), error.details()
            # Reads still work, and readiness says why the daemon cannot serve.
            assert await exists(dapr, dapr_pb, "before")
            status, body = await healthz(app)
            assert status == 503 and MESSAGES[fault] in body
            assert not await grpc_serving(dapr)
            assert not await grpc_serving(ms)
            # A watcher is told too, not just a prober.
            assert (await asyncio.wait_for(watch.read(), 5)).status == NOT_SERVING

        # Nothing else writes now: the store's own probe brings readiness back.
        async def ready() -> bool:
            return (await healthz(app))[0] == 204
        await eventually(ready, bool, what="readiness never came back after the fault cleared")
        # Check reads the same fault state as healthz: no lag behind it.
        assert await grpc_serving(ms) and await grpc_serving(dapr)
        assert (await asyncio.wait_for(watch.read(), 5)).status == SERVING
        watch.cancel()
        await dapr_start(big, timeout=5)  # the client's retry now succeeds
        acked.append("during")
        assert not await exists(ms, ms_pb, "during-ms")  # refused: simply absent
        assert await integrity(app) == [("ok",)]
    # No acknowledged start was lost: a fresh daemon on the same file has all of them.
    again = fast_daemon(tmp_path)
    async with running(again), channel_to(again, dapr_pb) as dapr:
        for instance_id in acked:
            assert await exists(dapr, dapr_pb, instance_id), instance_id


@FAULTS
async def test_concurrent_starts_across_the_fault_are_all_or_nothing(
        tmp_path: Path, fault: str) -> None:
    app = fast_daemon(tmp_path)
    async with running(app), channel_to(app, dapr_pb) as dapr:
        start = unary(dapr, "StartInstance", dapr_pb.CreateInstanceResponse)

        async def one(i: int) -> grpc.StatusCode:
            request = dapr_pb.CreateInstanceRequest(instanceId=f"s{i}", name="wf")
            request.input.value = BIG
            try:
                await start(request, timeout=10)
            except grpc.aio.AioRpcError as exc:
                return exc.code()
            return grpc.StatusCode.OK

        first = [asyncio.create_task(one(i)) for i in range(12)]
        async with storage_fault(app, fault):
            during = [asyncio.create_task(one(i)) for i in range(12, 24)]
            results = await asyncio.gather(*first, *during)
        assert set(results) <= {grpc.StatusCode.OK, grpc.StatusCode.UNAVAILABLE}
        assert grpc.StatusCode.UNAVAILABLE in results[12:]
        for i, code in enumerate(results):
            # Acknowledged means stored; refused means absent, never half-written.
            assert await exists(dapr, dapr_pb, f"s{i}") == (code == grpc.StatusCode.OK)
        assert await integrity(app) == [("ok",)]


@FAULTS
@pytest.mark.parametrize("pb", [dapr_pb, ms_pb], ids=["dapr", "ms"])
async def test_in_flight_workflow_completes_after_the_fault(
        tmp_path: Path, fault: str, pb: ModuleType) -> None:
    app = fast_daemon(tmp_path)
    async with flow_started(app, pb) as (channel, worker):
        first = await worker.next("orchestratorRequest")
        await worker.accepted(first, actions=[schedule(pb, "act")])
        activity = await worker.next("activityRequest")
        result = wrappers_pb2.StringValue(value=BIG)

        async with storage_fault(app, fault):
            # The activity's result cannot be stored: the worker hears UNAVAILABLE
            # and, like the SDKs, drops it. The activity comes back after a backoff
            # (still refused while the fault lasts), then once more after it clears.
            assert await worker.complete(activity, result=result) == \
                grpc.StatusCode.UNAVAILABLE
            assert MESSAGES[fault] in worker.last_error
            again = await worker.next("activityRequest")
            assert again.activityRequest.taskId == activity.activityRequest.taskId
            assert await worker.complete(again, result=result) == \
                grpc.StatusCode.UNAVAILABLE
        await worker.answer_until_accepted("activityRequest", result=result)

        async with storage_fault(app, fault):
            turn = await worker.next("orchestratorRequest")
            done = finish(pb, BIG)
            assert await worker.complete(turn, actions=[done]) == \
                grpc.StatusCode.UNAVAILABLE
        # The orchestrator turn is dispatched again by itself; replaying it now works.
        await worker.answer_until_accepted("orchestratorRequest", actions=[done])
        worker.stream.cancel()

        final = await unary(channel, "WaitForInstanceCompletion", pb.GetInstanceResponse)(
            pb.GetInstanceRequest(instanceId="wf", getInputsAndOutputs=True), timeout=10)
        state = final.orchestrationState
        assert state.orchestrationStatus == pb.ORCHESTRATION_STATUS_COMPLETED
        assert state.output.value == BIG
        if pb is dapr_pb:
            history = await unary(channel, "GetInstanceHistory",
                                  pb.GetInstanceHistoryResponse)(
                pb.GetInstanceHistoryRequest(instanceId="wf"), timeout=5)
            kinds = [e.WhichOneof("eventType") for e in history.events]
            assert kinds.count("taskScheduled") == 1
            assert kinds.count("taskCompleted") == 1  # no duplicate resolution
            assert kinds.count("executionCompleted") == 1
        assert await integrity(app) == [("ok",)]


async def test_worker_retrying_the_same_result_after_the_fault_is_accepted(
        tmp_path: Path) -> None:
    app = fast_daemon(tmp_path)
    async with flow_started(app) as (_, worker):
        first = await worker.next("orchestratorRequest")
        await worker.complete(first, actions=[schedule(dapr_pb, "act")])
        activity = await worker.next("activityRequest")
        async with storage_fault(app, "readonly"):
            assert await worker.complete(activity) == grpc.StatusCode.UNAVAILABLE
        # Retried at once with the same token (as a gRPC retry policy would).
        await worker.accepted(activity)
        turn = await worker.next("orchestratorRequest")
        kinds = [e.WhichOneof("eventType") for e in turn.orchestratorRequest.newEvents]
        assert kinds.count("taskCompleted") == 1
        await worker.accepted(turn, actions=[finish(dapr_pb, "ok")])
        worker.stream.cancel()


async def test_a_failing_store_does_not_make_the_worker_spin(tmp_path: Path) -> None:
    app = fast_daemon(tmp_path)
    async with flow_started(app) as (channel, worker):
        answers = 0
        async with storage_fault(app, "readonly"):
            loop = asyncio.get_running_loop()
            until = loop.time() + 1.0
            while (left := until - loop.time()) > 0:
                try:
                    item = await asyncio.wait_for(worker.stream.read(), left)
                except TimeoutError:
                    break
                code = await worker.complete(item, actions=[finish(dapr_pb, "ok")])
                assert code in (grpc.StatusCode.UNAVAILABLE, grpc.StatusCode.NOT_FOUND)
                answers += 1
        # Re-dispatches back off (0.05 s doubling to 0.4 s here): a handful, not a
        # replay per round trip.
        assert 2 <= answers <= 12, answers
        worker.stream.cancel()  # a timed-out read cancelled it anyway
        worker = Worker(channel, dapr_pb)
        await worker.answer_until_accepted("orchestratorRequest",
                                           actions=[finish(dapr_pb, "ok")])
        worker.stream.cancel()


async def test_a_timer_firing_during_the_fault_is_retried(tmp_path: Path) -> None:
    app = fast_daemon(tmp_path)
    async with flow_started(app) as (_, worker):
        first = await worker.next("orchestratorRequest")
        timer = dapr_pb.OrchestratorAction(id=0)
        fire_at = first.orchestratorRequest.newEvents[0].timestamp.ToMilliseconds() + 200
        timer.createTimer.fireAt.FromMilliseconds(fire_at)
        async with storage_fault(app, "readonly"):
            # Acknowledged before the fault; the timer comes due while it lasts.
            store = store_of(app)
            await store.execute_on_writer("PRAGMA query_only = OFF")
            await worker.accepted(first, actions=[timer])
            await store.execute_on_writer("PRAGMA query_only = ON")
            failed = store.stats.failed_transactions

            async def tried() -> bool:
                return store.stats.failed_transactions > failed
            await eventually(tried, bool, what="the timer never tried to commit during the fault")
        turn = await worker.next("orchestratorRequest")
        kinds = [e.WhichOneof("eventType") for e in turn.orchestratorRequest.newEvents]
        assert kinds.count("timerFired") == 1
        await worker.accepted(turn, actions=[finish(dapr_pb, "ok")])
        worker.stream.cancel()


async def _run(*argv: str) -> bool:
    proc = await asyncio.create_subprocess_exec(
        *argv, stdout=asyncio.subprocess.DEVNULL, stderr=asyncio.subprocess.DEVNULL)
    return await proc.wait() == 0


def _fill(path: Path) -> None:
    """Write zeros into ``path`` until the filesystem is full."""
    with path.open("wb", buffering=0) as filler:  # unbuffered: close() has nothing left
        try:
            while True:
                filler.write(b"\0" * 65536)
        except OSError:
            pass


async def test_a_real_full_filesystem(tmp_path: Path) -> None:
    """The same on a small tmpfs that really fills up (where mounting is allowed)."""
    disk = tmp_path / "disk"
    disk.mkdir()
    if not await _run("mount", "-t", "tmpfs", "-o", "size=8m", "tmpfs", str(disk)):
        pytest.skip("cannot mount a tmpfs here (needs root and CAP_SYS_ADMIN)")
    try:
        app = daemon(disk / "wf.db")
        async with running(app), channel_to(app, dapr_pb) as dapr:
            start = unary(dapr, "StartInstance", dapr_pb.CreateInstanceResponse)
            acked = []
            await asyncio.to_thread(_fill, disk / "filler")
            error = None
            for i in range(100):  # until SQLite needs space the WAL does not have
                request = dapr_pb.CreateInstanceRequest(instanceId=f"s{i}", name="wf")
                request.input.value = BIG
                try:
                    await start(request, timeout=5)
                except grpc.aio.AioRpcError as exc:
                    error = exc
                    break
                acked.append(f"s{i}")
            assert error is not None, "the full filesystem never refused a write"
            assert error.code() == grpc.StatusCode.UNAVAILABLE, error
            assert "database is full" in (error.details() or ""), error.details()
            assert (await healthz(app))[0] == 503
            await asyncio.to_thread((disk / "filler").unlink)
            await eventually(lambda: _healthy(app), bool, what="no recovery after freeing space")
            await start(request, timeout=5)
            acked.append(request.instanceId)
            for instance_id in acked:
                assert await exists(dapr, dapr_pb, instance_id), instance_id
            assert await integrity(app) == [("ok",)]
    finally:
        # Busy only if the store leaked a file handle (it once did after a failed commit).
        unmounted = await _run("umount", str(disk))
        if not unmounted:
            await _run("umount", "-l", str(disk))
        assert unmounted, "files on the full filesystem were still open after the stop"


async def _healthy(app: App) -> bool:
    return (await healthz(app))[0] == 204
