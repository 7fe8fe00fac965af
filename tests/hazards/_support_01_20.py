"""Harness for the hazard tests 1-20: an in-process daemon whose store can "crash" on a
chosen commit, a Dapr-dialect worker the test drives step by step, and direct reads of the
SQLite file (the seed's layout: actors, actor_state, reminders)."""

from __future__ import annotations

import asyncio
import json
import sqlite3
from collections.abc import AsyncIterator, Callable, Iterable, Iterator
from contextlib import AsyncExitStack, asynccontextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import grpc
from google.protobuf.message import Message

from tests.server.test_dapr_rpcs import Client
from tests.stored_state import state_rows
from tests.test_app import running
from wfsidecar._proto.dapr import orchestrator_service_pb2 as pb
from wfsidecar._proto.internal import orchestrator_service_pb2 as ipb
from wfsidecar.actors import TurnContext
from wfsidecar.app import App
from wfsidecar.clock import Clock
from wfsidecar.config import load
from wfsidecar.errors import StoreUnavailable
from wfsidecar.store.base import (
    Changes,
    DeleteActor,
    DeleteState,
    PutState,
    Reminder,
    SetReminder,
    StateStore,
)
from wfsidecar.types import ActorRef
from wfsidecar.workflow.state import ACTIVITY_ACTOR, WORKFLOW_ACTOR

Predicate = Callable[[Changes], bool]


class CrashingStore:
    """The real store, plus a record of every commit and a simulated crash.

    ``crash_on(predicate)``: the first commit matching it, and every commit after it,
    fails without touching the file, as if the process had died just before that
    transaction; restarting the daemon on the same file then shows what survived.
    """

    def __init__(self, inner: StateStore) -> None:
        self._inner = inner
        self.commits: list[Changes] = []
        self._crash: Predicate | None = None
        self._fail: Predicate | None = None
        self.crashed = False

    def crash_on(self, predicate: Predicate) -> None:
        self._crash = predicate

    def fail_once(self, predicate: Predicate) -> None:
        """The next commit matching ``predicate`` fails (a transient error); later ones pass."""
        self._fail = predicate

    async def commit(self, changes: Changes) -> None:
        if not self.crashed and self._crash is not None and self._crash(changes):
            self.crashed = True
        if self.crashed:
            raise StoreUnavailable("simulated crash: this process is gone")
        if self._fail is not None and self._fail(changes):
            self._fail = None
            raise StoreUnavailable("simulated transient commit failure")
        await self._inner.commit(changes)
        self.commits.append(changes)

    async def load_actor(self, ref: ActorRef) -> dict[str, bytes]:
        return await self._inner.load_actor(ref)

    async def reminders_due_before(self, due_ms: int, limit: int) -> list[Reminder]:
        return await self._inner.reminders_due_before(due_ms, limit)

    async def get_reminder(self, ref: ActorRef, name: str) -> Reminder | None:
        return await self._inner.get_reminder(ref, name)

    async def list_actor_ids(self, actor_type: str, *, after: str | None,
                             limit: int) -> list[str]:
        return await self._inner.list_actor_ids(actor_type, after=after, limit=limit)

    async def close(self) -> None:
        await self._inner.close()

    def __getattr__(self, name: str) -> Any:
        return getattr(self._inner, name)  # backend extras (task hub reset, queries)


class HazardApp(App):
    """The composition root with its store wrapped in a CrashingStore."""

    store: CrashingStore

    async def _open_store(self, stack: AsyncExitStack) -> StateStore:
        self.store = CrashingStore(await super()._open_store(stack))
        return self.store


def config(tmp_path: Path, **overrides: object) -> dict[str, object]:
    return {"listeners.dapr_grpc.port": 0, "listeners.durabletask_grpc.port": 0,
            "listeners.http.port": 0, "store.sqlite.path": str(tmp_path / "wf.db"),
            "lifecycle.drain_timeout": 1.0, **overrides}


@dataclass
class Daemon:
    """A running HazardApp with a gRPC client; ``restart`` runs a new one on the same file."""

    tmp_path: Path
    overrides: dict[str, object]
    clock: Clock | None = None
    app: HazardApp = field(init=False)
    client: Client = field(init=False)
    _stack: AsyncExitStack = field(init=False, default_factory=AsyncExitStack)

    @property
    def db(self) -> Path:
        return self.tmp_path / "wf.db"

    async def start(self) -> None:
        self._stack = AsyncExitStack()
        self.app = HazardApp(load(None, env={}, overrides=config(self.tmp_path,
                                                                 **self.overrides)),
                             clock=self.clock, configure_logging=False)
        await self._stack.enter_async_context(running(self.app))
        assert self.app.ports is not None
        channel = grpc.aio.insecure_channel(f"127.0.0.1:{self.app.ports.dapr_grpc}")
        await self._stack.enter_async_context(channel)
        self.client = Client(channel)

    async def stop(self) -> None:
        await self._stack.aclose()

    async def restart(self) -> None:
        await self.stop()
        await self.start()

    def worker(self) -> Worker:
        return Worker(self.client)


@asynccontextmanager
async def daemon(tmp_path: Path, clock: Clock | None = None,
                 overrides: dict[str, object] | None = None) -> AsyncIterator[Daemon]:
    d = Daemon(tmp_path, dict(overrides or {}), clock)
    await d.start()
    try:
        yield d
    finally:
        await d.stop()


# -- the worker ---------------------------------------------------------------------------


def dapr(message: Message, cls: type[Any]) -> Any:
    """Re-read an internal-model message as its Dapr twin (Dapr bytes are internal bytes)."""
    return cls.FromString(message.SerializeToString())


class Worker:
    """One GetWorkItems stream; the test asks for the items it expects, others are buffered."""

    def __init__(self, client: Client) -> None:
        self.client = client
        self._stream = client.work_items(pb.GetWorkItemsRequest())
        self._buffer: list[pb.WorkItem] = []
        self._read: asyncio.Task[Any] | None = None

    async def next(self, match: Callable[[pb.WorkItem], bool] = lambda _: True,
                   within: float = 10) -> pb.WorkItem:
        for item in self._buffer:
            if match(item):
                self._buffer.remove(item)
                return item
        loop = asyncio.get_running_loop()
        deadline = loop.time() + within
        while True:
            if self._read is None:
                self._read = asyncio.ensure_future(self._stream.read())
            # Wait without cancelling the read: cancelling it would end the stream.
            done, _ = await asyncio.wait({self._read}, timeout=max(deadline - loop.time(), 0))
            if not done:
                raise TimeoutError("no matching work item in time")
            item, self._read = self._read.result(), None
            assert item is not grpc.aio.EOF, "the work-item stream ended"
            if match(item):
                return item  # type: ignore[no-any-return]
            self._buffer.append(item)

    async def turn(self, instance_id: str, within: float = 10) -> pb.WorkItem:
        return await self.next(lambda i: i.HasField("orchestratorRequest")
                               and i.orchestratorRequest.instanceId == instance_id, within)

    async def activity(self, name: str, within: float = 10) -> pb.WorkItem:
        return await self.next(lambda i: i.HasField("activityRequest")
                               and i.activityRequest.name == name, within)

    async def answer(self, item: pb.WorkItem, *actions: ipb.OrchestratorAction) -> Any:
        request = item.orchestratorRequest
        return await self.client.call("CompleteOrchestratorTask", pb.OrchestratorResponse(
            instanceId=request.instanceId, completionToken=item.completionToken,
            actions=[dapr(a, pb.OrchestratorAction) for a in actions]),
            pb.CompleteTaskResponse)

    async def answer_until_accepted(self, instance_id: str,
                                    *actions: ipb.OrchestratorAction) -> None:
        """After a failed answer the turn goes out again (possibly more than once, each
        earlier dispatch then being stale): answer each with the same actions, as a
        replaying SDK would, until one is taken."""
        while True:
            try:
                await self.answer(await self.turn(instance_id), *actions)
                return
            except grpc.aio.AioRpcError as exc:
                if exc.code() is not grpc.StatusCode.NOT_FOUND:
                    raise

    async def finish(self, item: pb.WorkItem, result: str | None = None,
                     failure: str | None = None) -> Any:
        request = item.activityRequest
        response = pb.ActivityResponse(
            instanceId=request.orchestrationInstance.instanceId, taskId=request.taskId,
            completionToken=item.completionToken)
        if failure is not None:
            response.failureDetails.errorType = "Boom"
            response.failureDetails.errorMessage = failure
        elif result is not None:
            response.result.value = result
        return await self.client.call("CompleteActivityTask", response,
                                      pb.CompleteTaskResponse)

    def close(self) -> None:
        if self._read is not None:
            self._read.cancel()
        self._stream.cancel()


def new_kinds(item: pb.WorkItem) -> list[str | None]:
    return [e.WhichOneof("eventType") for e in item.orchestratorRequest.newEvents]


# -- client calls -------------------------------------------------------------------------


async def status(client: Client, instance_id: str) -> int:
    got = await client.get(instance_id)
    return int(got.orchestrationState.orchestrationStatus) if got.exists else -1


async def wait_status(client: Client, instance_id: str, wanted: int,
                      within: float = 10) -> None:
    loop = asyncio.get_running_loop()
    deadline = loop.time() + within
    while (current := await status(client, instance_id)) != wanted:
        assert loop.time() < deadline, f"{instance_id}: status {current}, wanted {wanted}"
        await asyncio.sleep(0.02)


async def history(client: Client, instance_id: str) -> list[Any]:
    got = await client.call("GetInstanceHistory", pb.GetInstanceHistoryRequest(
        instanceId=instance_id), pb.GetInstanceHistoryResponse)
    return list(got.events)


def kinds(events: list[Any]) -> list[str | None]:
    return [e.WhichOneof("eventType") for e in events]


def results(events: Iterable[Any], kind: str) -> list[str]:
    """The result payloads of the ``kind`` events among ``events``, in order (``kind``:
    ``taskCompleted``, ``subOrchestrationInstanceCompleted``)."""
    return [getattr(e, kind).result.value for e in events if e.HasField(kind)]


async def raise_event(client: Client, instance_id: str, name: str,
                      data: str | None = None) -> None:
    request = pb.RaiseEventRequest(instanceId=instance_id, name=name)
    if data is not None:
        request.input.value = data
    await client.call("RaiseEvent", request, pb.RaiseEventResponse)


async def terminate(client: Client, instance_id: str, recursive: bool = False) -> None:
    await client.call("TerminateInstance", pb.TerminateRequest(
        instanceId=instance_id, recursive=recursive), pb.TerminateResponse)


# -- the SQLite file ------------------------------------------------------------------------


@dataclass(frozen=True)
class Stored:
    """Every actor key and reminder in the database file, keyed "type/id"."""

    state: dict[str, dict[str, bytes]]
    reminders: dict[str, dict[str, bytes]]

    def workflow(self, instance_id: str) -> dict[str, bytes]:
        return self.state.get(f"{WORKFLOW_ACTOR}/{instance_id}", {})

    def meta(self, instance_id: str) -> dict[str, Any]:
        raw = self.workflow(instance_id).get("metadata")
        return json.loads(raw) if raw else {}

    def activity(self, actor_id: str) -> dict[str, bytes]:
        return self.state.get(f"{ACTIVITY_ACTOR}/{actor_id}", {})

    def workflow_reminders(self, instance_id: str) -> dict[str, bytes]:
        return self.reminders.get(f"{WORKFLOW_ACTOR}/{instance_id}", {})

    def activity_reminders(self, actor_id: str) -> dict[str, bytes]:
        return self.reminders.get(f"{ACTIVITY_ACTOR}/{actor_id}", {})

    def everything_of(self, instance_id: str) -> list[str]:
        """Actors holding state or reminders that belong to ``instance_id``."""
        mine = (f"{WORKFLOW_ACTOR}/{instance_id}", f"{ACTIVITY_ACTOR}/{instance_id}#")
        return sorted(k for k in (*self.state, *self.reminders)
                      if k == mine[0] or k.startswith(mine[1]))


def _read(db: Path) -> Stored:
    conn = sqlite3.connect(f"file:{db}?mode=ro", uri=True)
    try:
        rows = state_rows(conn)  # packed keys of finished instances included
        rems = conn.execute("SELECT a.type, a.actor_id, r.name, r.data FROM actors a"
                            " JOIN reminders r ON r.actor = a.id").fetchall()
    finally:
        conn.close()
    state: dict[str, dict[str, bytes]] = {}
    for type_, actor_id, key, value in rows:
        state.setdefault(f"{type_}/{actor_id}", {})[key] = value
    reminders: dict[str, dict[str, bytes]] = {}
    for type_, actor_id, name, data in rems:
        reminders.setdefault(f"{type_}/{actor_id}", {})[name] = data
    return Stored(state, reminders)


async def stored(db: Path) -> Stored:
    return await asyncio.to_thread(_read, db)


async def wait_stored(db: Path, check: Callable[[Stored], bool],
                      within: float = 10) -> Stored:
    loop = asyncio.get_running_loop()
    deadline = loop.time() + within
    while not check(current := await stored(db)):
        assert loop.time() < deadline, f"store never reached the expected state: {current}"
        await asyncio.sleep(0.02)
    return current


# -- recorded commits ---------------------------------------------------------------------


def ops_on(changes: Changes, actor_type: str, actor_id: str) -> Iterator[object]:
    for op in changes:
        ref = op.reminder.ref if isinstance(op, SetReminder) else getattr(op, "ref", None)
        if ref == ActorRef(actor_type, actor_id):
            yield op


def puts(changes: Changes, actor_type: str, actor_id: str, prefix: str) -> list[str]:
    return [op.key for op in ops_on(changes, actor_type, actor_id)
            if isinstance(op, PutState) and op.key.startswith(prefix)]


def deletes(changes: Changes, actor_type: str, actor_id: str, prefix: str) -> list[str]:
    return [op.key for op in ops_on(changes, actor_type, actor_id)
            if isinstance(op, DeleteState) and op.key.startswith(prefix)]


def sets_reminder(changes: Changes, actor_type: str, actor_id: str, prefix: str) -> bool:
    return any(isinstance(op, SetReminder) and op.reminder.name.startswith(prefix)
               for op in ops_on(changes, actor_type, actor_id))


async def set_reminder(d: Daemon, actor_type: str, actor_id: str, name: str,
                       data: Message | bytes, due_ms: int | None = None) -> None:
    """Commit a reminder on an actor, in a turn of that actor (as a replayed turn or a
    reminder left over from a crash would leave it)."""
    raw = data if isinstance(data, bytes) else data.SerializeToString()

    async def body(actor: object, ctx: TurnContext) -> None:
        ctx.set_reminder(name, due_ms=ctx.now_ms if due_ms is None else due_ms, data=raw)

    assert d.app.runtime is not None
    await d.app.runtime.turn(ActorRef(actor_type, actor_id), body)


def deletes_actor(changes: Changes, actor_type: str, actor_id: str) -> bool:
    return any(isinstance(op, DeleteActor) for op in ops_on(changes, actor_type, actor_id))


def inbox_writes_without_wake_up(commits: list[Changes]) -> list[str]:
    """Workflow actors whose inbox a commit wrote without setting their ``run`` reminder."""
    bad = []
    for changes in commits:
        for op in changes:
            if isinstance(op, PutState) and op.ref.type == WORKFLOW_ACTOR \
                    and op.key.startswith("inbox-") \
                    and not sets_reminder(changes, WORKFLOW_ACTOR, op.ref.id, "run"):
                bad.append(op.ref.id)
    return bad
