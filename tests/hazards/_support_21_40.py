"""Helpers for the hazard 21-40 tests: an in-process daemon on a SQLite file, a scripted
Dapr-dialect worker, and direct reads of the store's rows."""

from __future__ import annotations

import asyncio
import sqlite3
from collections.abc import AsyncIterator, Awaitable
from contextlib import asynccontextmanager, closing
from pathlib import Path
from typing import Any, TypeVar

import grpc

# The client-side reads and events are the same for hazards 1-20; re-exported from there.
from tests.hazards._support_01_20 import history as history
from tests.hazards._support_01_20 import kinds as kinds
from tests.hazards._support_01_20 import raise_event as raise_event
from tests.hazards._support_01_20 import results as results
from tests.server.test_dapr_rpcs import Client
from tests.stored_state import StateRow, state_rows
from tests.test_app import running
from tests.waiting import eventually as eventually
from wfsidecar._proto.dapr import orchestrator_service_pb2 as pb
from wfsidecar.app import App
from wfsidecar.clock import Clock
from wfsidecar.config import load

T = TypeVar("T")


def make_app(db: Path, clock: Clock | None = None, /, **overrides: object) -> App:
    values: dict[str, object] = {
        "listeners.dapr_grpc.port": 0, "listeners.durabletask_grpc.port": 0,
        "listeners.http.port": 0, "store.sqlite.path": str(db),
        "lifecycle.drain_timeout": 1.0}
    values.update(overrides)
    return App(load(None, env={}, overrides=values), clock=clock, configure_logging=False)


@asynccontextmanager
async def daemon(db: Path, clock: Clock | None = None, /,
                 **overrides: object) -> AsyncIterator[tuple[App, Client]]:
    app = make_app(db, clock, **overrides)
    async with running(app):
        assert app.ports is not None
        async with grpc.aio.insecure_channel(f"127.0.0.1:{app.ports.dapr_grpc}") as channel:
            yield app, Client(channel)


class Stream:
    """One GetWorkItems stream, driven by the test as a worker would drive it."""

    def __init__(self, client: Client) -> None:
        self.client = client
        self.call = client.work_items(pb.GetWorkItemsRequest())

    async def next(self, wait: float = 10) -> Any:
        return await asyncio.wait_for(self.call.read(), wait)

    async def nothing_for(self, seconds: float) -> bool:
        """True if no work item arrives within ``seconds`` (the read stays pending)."""
        read = asyncio.ensure_future(self.call.read())
        done, _ = await asyncio.wait({read}, timeout=seconds)
        if done:
            return False
        # A pending read cannot be taken back; close the stream instead (the item, if
        # any arrives meanwhile, goes back to the queue with the stream).
        self.close()
        read.cancel()
        return True

    def close(self) -> None:
        self.call.cancel()


async def answer(client: Client, item: Any, *actions: pb.OrchestratorAction,
                 token: str | None = None) -> Any:
    """CompleteOrchestratorTask for ``item`` (with ``token`` instead of the item's)."""
    request = item.orchestratorRequest
    return await client.call("CompleteOrchestratorTask", pb.OrchestratorResponse(
        instanceId=request.instanceId, actions=list(actions),
        completionToken=item.completionToken if token is None else token),
        pb.CompleteTaskResponse)


async def answer_activity(client: Client, item: Any, result: str,
                          token: str | None = None) -> Any:
    request = item.activityRequest
    response = pb.ActivityResponse(
        instanceId=request.orchestrationInstance.instanceId, taskId=request.taskId,
        completionToken=item.completionToken if token is None else token)
    response.result.value = result
    return await client.call("CompleteActivityTask", response, pb.CompleteTaskResponse)


async def code_of(call: Awaitable[Any]) -> grpc.StatusCode:
    """The gRPC status ``call`` fails with (it must fail)."""
    try:
        await call
    except grpc.aio.AioRpcError as exc:
        return exc.code()
    raise AssertionError("the call succeeded")


def schedule(id: int, name: str) -> pb.OrchestratorAction:
    action = pb.OrchestratorAction(id=id)
    action.scheduleTask.name = name
    return action


def timer(id: int, fire_at_ms: int) -> pb.OrchestratorAction:
    action = pb.OrchestratorAction(id=id)
    action.createTimer.fireAt.FromMilliseconds(fire_at_ms)
    return action


def complete(id: int, status: int = pb.ORCHESTRATION_STATUS_COMPLETED,
             result: str | None = None,
             carryover: tuple[pb.HistoryEvent, ...] = ()) -> pb.OrchestratorAction:
    action = pb.OrchestratorAction(id=id)
    action.completeOrchestration.orchestrationStatus = status  # type: ignore[assignment]
    if result is not None:
        action.completeOrchestration.result.value = result
    action.completeOrchestration.carryoverEvents.extend(carryover)
    return action


async def state(client: Client, instance_id: str) -> Any:
    return (await client.get(instance_id)).orchestrationState


def _sql(db: Path, sql: str, params: tuple[Any, ...]) -> list[tuple[Any, ...]]:
    with closing(sqlite3.connect(db)) as conn:
        rows = conn.execute(sql, params).fetchall()
        conn.commit()
        return rows


async def sql(db: Path, statement: str, *params: Any) -> list[tuple[Any, ...]]:
    """One statement on a fresh connection, off the event loop (the daemon's WAL readers
    see only committed transactions, so this reads exactly what the daemon committed)."""
    return await asyncio.to_thread(_sql, db, statement, params)


async def state_keys(db: Path, actor_type: str, actor_id: str) -> dict[str, bytes]:
    rows = await asyncio.to_thread(_state_rows, db)
    return {key: value for type_, id_, key, value in rows
            if type_ == actor_type and id_ == actor_id}


def _state_rows(db: Path) -> list[StateRow]:
    conn = sqlite3.connect(db)
    try:
        return state_rows(conn)  # packed keys of finished instances included
    finally:
        conn.close()


async def reminder_names(db: Path, actor_type: str, actor_id: str) -> list[str]:
    rows = await sql(db, "SELECT r.name FROM reminders r JOIN actors a ON a.id = r.actor "
                         "WHERE a.type = ? AND a.actor_id = ? ORDER BY r.name",
                     actor_type, actor_id)
    return [name for (name,) in rows]
