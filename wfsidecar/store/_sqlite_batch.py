"""The write transaction of the SQLite store, run whole on the writer connection's thread.

One call of ``run_batch`` is one SQLite transaction holding the changes of one or more
callers (group commit, performance.md §4.4). It first tries the whole batch without
savepoints, with each table's rows sent through ``executemany`` in runs. If any op fails
it rolls back and runs the batch again with one SAVEPOINT per caller, so that only the
failing caller is refused while the others commit. Ops are validated before they are
queued (``_validation.py``), so the second pass is rare.
"""

from __future__ import annotations

import logging
import sqlite3
from collections.abc import Iterable, Sequence
from contextlib import closing
from itertools import chain, groupby
from operator import itemgetter
from typing import Any

from wfsidecar.store import _sqlite_instances as instances
from wfsidecar.store import _sqlite_packed as packed
from wfsidecar.store._sqlite_actors import ActorIds, ActorKey, resolve_actors
from wfsidecar.store._sqlite_errors import environmental_reason
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

logger = logging.getLogger(__name__)

_PUT_STATE_INTO = "INSERT INTO actor_state (actor, key, value) VALUES "
_PUT_STATE_ROW = "(?, ?, ?)"
_PUT_STATE_UPSERT = " ON CONFLICT (actor, key) DO UPDATE SET value = excluded.value"
_PUT_STATE = _PUT_STATE_INTO + _PUT_STATE_ROW + _PUT_STATE_UPSERT
_DELETE_STATE = "DELETE FROM actor_state WHERE actor = ? AND key = ?"
_DELETE_ALL_STATE = "DELETE FROM actor_state WHERE actor = ?"
_DELETE_ALL_REMINDERS = "DELETE FROM reminders WHERE actor = ?"
_SET_REMINDER_INTO = (
    "INSERT INTO reminders (actor, name, due_ms, period_ms, data, attempts, etag) VALUES "
)
_SET_REMINDER_ROW = "(?, ?, ?, ?, ?, ?, ?)"
_SET_REMINDER_UPSERT = (
    " ON CONFLICT (actor, name) DO UPDATE SET due_ms = excluded.due_ms,"
    " period_ms = excluded.period_ms, data = excluded.data,"
    " attempts = excluded.attempts, etag = excluded.etag"
)
_SET_REMINDER = _SET_REMINDER_INTO + _SET_REMINDER_ROW + _SET_REMINDER_UPSERT
_DELETE_REMINDER = "DELETE FROM reminders WHERE actor = ? AND name = ?"
_DELETE_REMINDER_IF = "DELETE FROM reminders WHERE actor = ? AND name = ? AND etag = ?"
_RESCHEDULE = (
    "UPDATE reminders SET due_ms = ?, attempts = ? WHERE actor = ? AND name = ? AND etag = ?"
)
_DROP_IF_EMPTY = (
    "DELETE FROM actors WHERE id = ?1"
    " AND NOT EXISTS (SELECT 1 FROM actor_state WHERE actor = ?1)"
    " AND NOT EXISTS (SELECT 1 FROM reminders WHERE actor = ?1)"
    " AND NOT EXISTS (SELECT 1 FROM instances WHERE actor = ?1)"
    " AND NOT EXISTS (SELECT 1 FROM packed_state WHERE actor = ?1)"
)

_Statement = tuple[str, tuple[Any, ...]]

# Rows per multi-row INSERT. On this VM each executed row costs ~2.7 µs of fixed
# binding/stepping overhead even when it does nothing; a 16-row VALUES list pays it once
# per statement and cut the upsert cost from ~4.2 to ~2.6 µs per row. An upsert
# processes its VALUES rows in order, so a key repeated in a run still ends with the
# last value, as with one statement per row.
_CHUNK = 16
_MULTI_ROW = {
    _PUT_STATE: f"{_PUT_STATE_INTO}{', '.join([_PUT_STATE_ROW] * _CHUNK)}{_PUT_STATE_UPSERT}",
    _SET_REMINDER: (
        f"{_SET_REMINDER_INTO}{', '.join([_SET_REMINDER_ROW] * _CHUNK)}{_SET_REMINDER_UPSERT}"
    ),
}


class _OpsFailed(Exception):
    """An op failed in the savepoint-free pass; the batch is retried with savepoints."""


def run_batch(
    conn: sqlite3.Connection, batch: Sequence[Sequence[Op]], actor_ids: ActorIds
) -> list[Exception | None]:
    """Commit every caller's ops in one transaction; return each caller's error or None.

    Raises:
        sqlite3.Error: BEGIN, COMMIT, something outside a caller's ops, or any statement
            with an environmental error (full, read-only, I/O) failed; the transaction
            has been rolled back and nothing of the batch is applied.
    """
    try:
        return _transaction(conn, batch, actor_ids, isolate=False)
    except _OpsFailed as failed:
        logger.debug("group commit retried with savepoints: %r", failed.__cause__)
        return _transaction(conn, batch, actor_ids, isolate=True)


def _transaction(
    conn: sqlite3.Connection, batch: Sequence[Sequence[Op]], actor_ids: ActorIds, isolate: bool
) -> list[Exception | None]:
    # The cursor is closed however this ends: a failure's traceback keeps this frame (and
    # so the cursor and its statement) alive in the callers' exceptions, and a connection
    # with an unfinalized statement is not really closed by close() (its files stay open
    # and the WAL is not checkpointed).
    with closing(conn.cursor()) as cur:
        return _transaction_on(cur, batch, actor_ids, isolate)


def _transaction_on(
    cur: sqlite3.Cursor, batch: Sequence[Sequence[Op]], actor_ids: ActorIds, isolate: bool
) -> list[Exception | None]:
    conn = cur.connection
    cur.execute("BEGIN IMMEDIATE")
    try:
        resolved = resolve_actors(cur, batch, actor_ids)
        # Before any caller's savepoint, like the actor rows: a finished actor that is
        # written to again gets its loose rows back (_sqlite_packed.py).
        writing, finishing = _state_actors(batch, resolved.ids)
        packed.unpack(cur, writing)
        per_caller = [_statements(ops, resolved.ids) for ops in batch]
        if isolate:
            results = [_apply_isolated(cur, statements) for statements in per_caller]
        else:
            try:
                # The two tables never read each other, so running all actor_state rows
                # and then all reminder rows, each in the original order, is equivalent
                # to running the ops one by one, and gives executemany long runs.
                _execute_runs(cur, (s for state, _ in per_caller for s in state))
                _execute_runs(cur, (s for _, reminders in per_caller for s in reminders))
            except Exception as exc:
                if environmental_reason(exc):
                    raise  # full disk, read-only file: every caller would fail alike
                raise _OpsFailed from exc
            results = [None] * len(batch)
        packed.pack(cur, finishing)
        if resolved.maybe_empty:
            cur.executemany(_DROP_IF_EMPTY, [(actor,) for actor in resolved.maybe_empty])
        cur.execute("COMMIT")
    except BaseException:
        _rollback(conn)
        raise
    # Only now, with the rows durable, may ids learnt in this transaction be remembered.
    actor_ids.learn(resolved.learnt)
    return results


def _apply_isolated(
    cur: sqlite3.Cursor, statements: tuple[list[_Statement], list[_Statement]]
) -> Exception | None:
    cur.execute("SAVEPOINT caller")
    try:
        _execute_runs(cur, statements[0])
        _execute_runs(cur, statements[1])
    except Exception as exc:
        if not cur.connection.in_transaction or environmental_reason(exc):
            # SQLite rolled back the whole transaction itself, or the fault is the
            # database's (I/O error, full disk): the batch as a whole has failed.
            raise
        cur.execute("ROLLBACK TO caller")
        cur.execute("RELEASE caller")
        return exc
    cur.execute("RELEASE caller")
    return None


def _statements(
    ops: Sequence[Op], ids: dict[ActorKey, int]
) -> tuple[list[_Statement], list[_Statement]]:
    """Translate one caller's ops into (actor_state statements, reminders statements)."""
    state: list[_Statement] = []
    reminders: list[_Statement] = []
    for op in ops:
        if type(op) is PutState:
            state.append((_PUT_STATE, (ids[op.ref.type, op.ref.id], op.key, op.value)))
            continue
        if type(op) is SetReminder:
            r = op.reminder
            row = (ids[r.ref.type, r.ref.id], r.name, r.due_ms, r.period_ms, r.data)
            reminders.append((_SET_REMINDER, (*row, r.attempts, r.etag)))
            continue
        if type(op) is PutInstance:
            # With the state rows: both belong to the actor's turn, in the turn's order.
            actor_id = ids[op.ref.type, op.ref.id]
            state.append((instances.PUT_INSTANCE, instances.put_params(actor_id, op.row)))
            continue
        assert isinstance(op, (DeleteState, DeleteActor, DeleteReminder, RescheduleReminder))
        actor = ids.get((op.ref.type, op.ref.id))
        if actor is None:
            # The actor does not exist and nothing in this batch creates it: there is
            # nothing to delete or reschedule.
            continue
        if isinstance(op, DeleteState):
            state.append((_DELETE_STATE, (actor, op.key)))
        elif isinstance(op, RescheduleReminder):
            reminders.append((_RESCHEDULE, (op.due_ms, op.attempts, actor, op.name, op.if_etag)))
        elif isinstance(op, DeleteReminder):
            if op.if_etag is None:
                reminders.append((_DELETE_REMINDER, (actor, op.name)))
            else:
                reminders.append((_DELETE_REMINDER_IF, (actor, op.name, op.if_etag)))
        else:
            state.append((_DELETE_ALL_STATE, (actor,)))
            state.append((packed.DELETE, (actor,)))
            state.append((instances.DELETE_INSTANCE, (actor,)))
            reminders.append((_DELETE_ALL_REMINDERS, (actor,)))
    return state, reminders


def _state_actors(
    batch: Sequence[Sequence[Op]], ids: dict[ActorKey, int]
) -> tuple[set[int], set[int]]:
    """(actors whose state rows the batch writes, actors given a finished index row)."""
    writing: set[int] = set()
    finishing: set[int] = set()
    for ops in batch:
        for op in ops:
            if type(op) is PutState or type(op) is DeleteState:
                actor = ids.get((op.ref.type, op.ref.id))
                if actor is not None:
                    writing.add(actor)
            elif type(op) is PutInstance and op.row.completed_ms is not None:
                finishing.add(ids[op.ref.type, op.ref.id])
    return writing, finishing


def _execute_runs(cur: sqlite3.Cursor, statements: Iterable[_Statement]) -> None:
    """Execute in order, folding each run of the same SQL into one ``executemany``."""
    for sql, run in groupby(statements, key=itemgetter(0)):
        rows = [params for _, params in run]
        multi_row = _MULTI_ROW.get(sql)
        if multi_row is not None and len(rows) >= _CHUNK:
            whole = len(rows) - len(rows) % _CHUNK
            chunks = [
                tuple(chain.from_iterable(rows[i : i + _CHUNK])) for i in range(0, whole, _CHUNK)
            ]
            cur.executemany(multi_row, chunks)
            rows = rows[whole:]
        if rows:
            cur.executemany(sql, rows)


def _rollback(conn: sqlite3.Connection) -> None:
    if not conn.in_transaction:
        return
    try:
        conn.execute("ROLLBACK")
    except sqlite3.Error:
        # The caller reports the original error; a failed ROLLBACK leaves the connection
        # to SQLite's automatic rollback, which the next BEGIN will surface if it failed.
        logger.exception("ROLLBACK after a failed write transaction also failed")


def probe_write(conn: sqlite3.Connection) -> None:
    """Commit a transaction that allocates (and frees again) a few pages.

    Used while a write fault lasts: a file that cannot grow (full disk, max_page_count)
    or be written at all (read-only) fails this the way real commits fail. It leaves no
    table behind, only a few free pages that later writes reuse.

    Raises:
        sqlite3.Error: the database still cannot take a write; rolled back.
    """
    with closing(conn.cursor()) as cur:
        _probe_on(cur)


def _probe_on(cur: sqlite3.Cursor) -> None:
    conn = cur.connection
    cur.execute("BEGIN IMMEDIATE")
    try:
        cur.execute("CREATE TABLE wfsidecar_write_probe (b BLOB)")
        cur.execute("INSERT INTO wfsidecar_write_probe VALUES (zeroblob(16384))")
        cur.execute("DROP TABLE wfsidecar_write_probe")
        cur.execute("COMMIT")
    except BaseException:
        _rollback(conn)
        raise
