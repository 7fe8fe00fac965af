"""The write transaction of the PostgreSQL store: many callers' ops, fenced, in one commit.

One ``run_batch`` is one transaction holding the changes of one or more callers (group
commit, as ``_sqlite_batch.py``). When the store runs with partition leases, the
transaction first reads the fencing tokens of every partition its callers write, with
``FOR SHARE`` so a take-over (which updates the lease row) waits for this commit to end,
and refuses each caller whose tokens are no longer this daemon's: a daemon that lost a
lease while paused or cut off can never write that partition again. The statements run
as ``executemany`` runs; if one caller's ops fail (bad text, say), the transaction is
rolled back and run again with a savepoint per caller, so only that caller is refused.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from itertools import groupby
from operator import itemgetter
from typing import Any

import asyncpg

from wfsidecar.errors import StoreConflictError
from wfsidecar.store.base import (
    DeleteActor,
    DeleteReminder,
    DeleteState,
    Op,
    PutInstance,
    PutState,
    RescheduleReminder,
    SetReminder,
)
from wfsidecar.store.partitions import partition_of

_PUT_STATE = (
    "INSERT INTO actor_state (type, actor_id, key, value) VALUES ($1, $2, $3, $4)"
    " ON CONFLICT (type, actor_id, key) DO UPDATE SET value = excluded.value"
)
_DELETE_STATE = "DELETE FROM actor_state WHERE type = $1 AND actor_id = $2 AND key = $3"
_DELETE_ALL_STATE = "DELETE FROM actor_state WHERE type = $1 AND actor_id = $2"
_DELETE_INSTANCE = "DELETE FROM instances WHERE type = $1 AND actor_id = $2"
_DELETE_ALL_REMINDERS = "DELETE FROM reminders WHERE type = $1 AND actor_id = $2"
_SET_REMINDER = (
    "INSERT INTO reminders (type, actor_id, name, partition, due_ms, period_ms, data,"
    " attempts, etag) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)"
    " ON CONFLICT (type, actor_id, name) DO UPDATE SET due_ms = excluded.due_ms,"
    " period_ms = excluded.period_ms, data = excluded.data,"
    " attempts = excluded.attempts, etag = excluded.etag"
)
_DELETE_REMINDER = "DELETE FROM reminders WHERE type = $1 AND actor_id = $2 AND name = $3"
_DELETE_REMINDER_IF = (
    "DELETE FROM reminders WHERE type = $1 AND actor_id = $2 AND name = $3 AND etag = $4"
)
_RESCHEDULE = (
    "UPDATE reminders SET due_ms = $4, attempts = $5"
    " WHERE type = $1 AND actor_id = $2 AND name = $3 AND etag = $6"
)
_PUT_INSTANCE = (
    "INSERT INTO instances (type, actor_id, name, version, status, created_ms, updated_ms,"
    " completed_ms, parent_id, dialect, stall_reason, custom_status, history_len,"
    " stored_bytes) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14)"
    " ON CONFLICT (type, actor_id) DO UPDATE SET name = excluded.name,"
    " version = excluded.version, status = excluded.status,"
    " created_ms = excluded.created_ms, updated_ms = excluded.updated_ms,"
    " completed_ms = excluded.completed_ms, parent_id = excluded.parent_id,"
    " dialect = excluded.dialect, stall_reason = excluded.stall_reason,"
    " custom_status = excluded.custom_status, history_len = excluded.history_len,"
    " stored_bytes = excluded.stored_bytes"
)
_FENCE = (
    "SELECT partition, token FROM leases WHERE partition = ANY($1::int[]) AND owner = $2"
    " ORDER BY partition FOR SHARE"
)

_Statement = tuple[str, tuple[Any, ...]]


@dataclass(slots=True)
class Caller:
    """One caller's ops as statements, and the leases (partition: token) they need."""

    state: list[_Statement]
    reminders: list[_Statement]
    needs: dict[int, int] = field(default_factory=dict)
    messages: set[int] = field(default_factory=set)  # partitions given a new reminder
    error: Exception | None = None


def statements(ops: Sequence[Op], partitions: int) -> Caller:
    """Translate one caller's ops into (actor_state + instances, reminders) statements;
    the two lists touch disjoint tables, so each keeps its own order."""
    caller = Caller([], [])
    for op in ops:
        if type(op) is PutState:
            caller.state.append((_PUT_STATE, (op.ref.type, op.ref.id, op.key, op.value)))
        elif type(op) is SetReminder:
            r = op.reminder
            part = partition_of(r.ref, partitions)
            caller.messages.add(part)
            caller.reminders.append((_SET_REMINDER, (r.ref.type, r.ref.id, r.name, part,
                                                     r.due_ms, r.period_ms, r.data,
                                                     r.attempts, r.etag)))
        elif type(op) is PutInstance:
            row = op.row
            caller.state.append((_PUT_INSTANCE, (
                op.ref.type, op.ref.id, row.name, row.version, row.status, row.created_ms,
                row.updated_ms, row.completed_ms, row.parent_id, row.dialect,
                row.stall_reason, row.custom_status, row.history_len, row.stored_bytes)))
        elif isinstance(op, DeleteState):
            caller.state.append((_DELETE_STATE, (op.ref.type, op.ref.id, op.key)))
        elif isinstance(op, RescheduleReminder):
            caller.reminders.append((_RESCHEDULE, (op.ref.type, op.ref.id, op.name, op.due_ms,
                                                   op.attempts, op.if_etag)))
        elif isinstance(op, DeleteReminder):
            if op.if_etag is None:
                caller.reminders.append((_DELETE_REMINDER, (op.ref.type, op.ref.id, op.name)))
            else:
                caller.reminders.append(
                    (_DELETE_REMINDER_IF, (op.ref.type, op.ref.id, op.name, op.if_etag)))
        else:
            assert isinstance(op, DeleteActor)
            key = (op.ref.type, op.ref.id)
            caller.state.append((_DELETE_ALL_STATE, key))
            caller.state.append((_DELETE_INSTANCE, key))
            caller.reminders.append((_DELETE_ALL_REMINDERS, key))
    return caller


class _OpsFailed(Exception):
    """A caller's statement failed in the savepoint-free pass; retried with savepoints."""


@dataclass(slots=True)
class Fencing:
    """What the transaction checks: this daemon's id; filled in with the partitions whose
    tokens no longer match (the leases this daemon lost)."""

    owner: str
    lost: set[int] = field(default_factory=set)


Notify = Callable[[Sequence[Caller]], list[tuple[str, str]]]


async def run_batch(conn: asyncpg.Connection, callers: Sequence[Caller],
                    fencing: Fencing | None, *, notify: Notify | None = None) -> None:
    """Commit every caller's statements in one transaction; a refused caller gets its
    ``error`` set and nothing of it applied.

    Raises:
        asyncpg.PostgresError, OSError: the transaction as a whole failed (connection
            lost, server shutting down); nothing of the batch is applied.
    """
    try:
        await _transaction(conn, callers, fencing, notify, isolate=False)
    except _OpsFailed:
        await _transaction(conn, callers, fencing, notify, isolate=True)


async def _transaction(conn: asyncpg.Connection, callers: Sequence[Caller],
                       fencing: Fencing | None, notify: Notify | None, *,
                       isolate: bool) -> None:
    for caller in callers:
        caller.error = None  # a retried batch fences and runs every caller again
    async with conn.transaction():
        if fencing is not None:
            await _fence(conn, callers, fencing)
        live = [c for c in callers if c.error is None]
        if isolate:
            for caller in live:
                try:
                    async with conn.transaction():  # a savepoint
                        await _execute_runs(conn, caller.state)
                        await _execute_runs(conn, caller.reminders)
                except asyncpg.DataError as exc:
                    caller.error = exc
                except asyncpg.IntegrityConstraintViolationError as exc:
                    caller.error = exc
        else:
            try:
                await _execute_runs(conn, (s for c in live for s in c.state))
                await _execute_runs(conn, (s for c in live for s in c.reminders))
            except (asyncpg.DataError, asyncpg.IntegrityConstraintViolationError) as exc:
                raise _OpsFailed from exc
        if notify is not None:
            # Delivered by PostgreSQL at COMMIT, and only if it commits.
            for channel, payload in notify([c for c in callers if c.error is None]):
                await conn.execute("SELECT pg_notify($1, $2)", channel, payload)


async def _fence(conn: asyncpg.Connection, callers: Sequence[Caller], fencing: Fencing) -> None:
    needed = sorted({p for c in callers if c.error is None for p in c.needs})
    if not needed:
        return
    rows = await conn.fetch(_FENCE, needed, fencing.owner)
    held = {int(r["partition"]): int(r["token"]) for r in rows}
    for caller in callers:
        if caller.error is not None:
            continue
        lost = {p for p, token in caller.needs.items() if held.get(p) != token}
        if lost:
            fencing.lost |= lost
            caller.error = StoreConflictError(
                f"lease of partition(s) {sorted(lost)} lost: another daemon owns them now;"
                " the commit was refused")


async def _execute_runs(conn: asyncpg.Connection, statements: Iterable[_Statement]) -> None:
    """Execute in order, folding each run of the same SQL into one ``executemany``."""
    for sql, run in groupby(statements, key=itemgetter(0)):
        rows = [params for _, params in run]
        if len(rows) == 1:
            await conn.execute(sql, *rows[0])
        else:
            await conn.executemany(sql, rows)
