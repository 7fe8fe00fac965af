"""The instance index in SQLite: the row upsert, and ``InstanceQuery`` as one SELECT.

The SQL mirrors ``InstanceFilter.matches`` and ``instances.sort_key`` (the contract suite
runs the same queries against the memory store): keyset paging on (sort value, instance
id), a not-yet-completed instance sorting as -1 by completion time.
"""

from __future__ import annotations

import sqlite3
from typing import Any

from wfsidecar.store.instances import (
    InstanceFilter,
    InstancePage,
    InstanceQuery,
    InstanceRow,
    InstanceTotals,
    SortField,
)

PUT_INSTANCE = (
    "INSERT INTO instances (actor, name, version, status, created_ms, updated_ms,"
    " completed_ms, parent_id, dialect, stall_reason, custom_status, history_len,"
    " stored_bytes) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"
    " ON CONFLICT (actor) DO UPDATE SET name = excluded.name, version = excluded.version,"
    " status = excluded.status, created_ms = excluded.created_ms,"
    " updated_ms = excluded.updated_ms, completed_ms = excluded.completed_ms,"
    " parent_id = excluded.parent_id, dialect = excluded.dialect,"
    " stall_reason = excluded.stall_reason, custom_status = excluded.custom_status,"
    " history_len = excluded.history_len, stored_bytes = excluded.stored_bytes"
)
DELETE_INSTANCE = "DELETE FROM instances WHERE actor = ?"

_COLUMNS = (
    "SELECT a.actor_id, i.name, i.version, i.status, i.created_ms, i.updated_ms,"
    " i.completed_ms, i.parent_id, i.dialect, i.stall_reason, i.custom_status,"
    " i.history_len, i.stored_bytes FROM instances AS i JOIN actors AS a ON a.id = i.actor"
)
_SORT_SQL: dict[SortField, str] = {
    "created": "i.created_ms",
    "updated": "i.updated_ms",
    "completed": "COALESCE(i.completed_ms, -1)",
    "id": "a.actor_id",
    "name": "i.name",
}


def put_params(actor: int, row: InstanceRow) -> tuple[Any, ...]:
    return (actor, row.name, row.version, row.status, row.created_ms, row.updated_ms,
            row.completed_ms, row.parent_id, row.dialect, row.stall_reason,
            row.custom_status, row.history_len, row.stored_bytes)


def _where(flt: InstanceFilter) -> tuple[list[str], list[Any]]:
    clauses: list[str] = []
    params: list[Any] = []
    if flt.statuses:
        clauses.append(f"i.status IN ({', '.join('?' * len(flt.statuses))})")
        params.extend(sorted(flt.statuses))
    if flt.name is not None:
        clauses.append("i.name = ?")
        params.append(flt.name)
    if flt.id_prefix:
        # A range on the id rather than LIKE: no escaping, and it uses the actors index.
        clauses.append("a.actor_id >= ? AND a.actor_id < ?")
        params.extend([flt.id_prefix, flt.id_prefix + "\U0010ffff"])
    if flt.parent_id is not None:
        clauses.append("i.parent_id = ?")
        params.append(flt.parent_id)
    for column, low, high in (("i.created_ms", flt.created_from_ms, flt.created_to_ms),
                              ("i.updated_ms", flt.updated_from_ms, flt.updated_to_ms),
                              ("i.completed_ms", flt.completed_from_ms, flt.completed_to_ms)):
        if low is not None:
            clauses.append(f"{column} >= ?")
            params.append(low)
        if high is not None:
            clauses.append(f"{column} < ?")
            params.append(high)
    return clauses, params


def query(conn: sqlite3.Connection, *, query: InstanceQuery) -> InstancePage:
    clauses, params = _where(query.filter)
    sort = _SORT_SQL[query.sort]
    flt = query.filter
    if query.sort == "completed" and (flt.completed_from_ms is not None
                                      or flt.completed_to_ms is not None):
        # Only completed rows can match, so the COALESCE is moot; the bare column lets
        # the (status, completed_ms) index give the order, and a LIMIT stop early instead
        # of sorting every match (retention's query over a large backlog).
        sort = "i.completed_ms"
    after = query.after()
    if after is not None:
        clauses.append(f"({sort}, a.actor_id) {'<' if query.descending else '>'} (?, ?)")
        params.extend(after)
    where = f" WHERE {' AND '.join(clauses)}" if clauses else ""
    order = "DESC" if query.descending else "ASC"
    sql = f"{_COLUMNS}{where} ORDER BY {sort} {order}, a.actor_id {order} LIMIT ?"
    rows = [InstanceRow(*r) for r in conn.execute(sql, (*params, query.limit + 1))]
    page = rows[:query.limit]
    more = len(rows) > query.limit
    return InstancePage(page, query.cursor_after(page[-1]) if more else None)


def count(conn: sqlite3.Connection, *, flt: InstanceFilter) -> InstanceTotals:
    clauses, params = _where(flt)
    join = " JOIN actors AS a ON a.id = i.actor" if flt.id_prefix else ""
    where = f" WHERE {' AND '.join(clauses)}" if clauses else ""
    row = conn.execute(f"SELECT count(*), total(i.stored_bytes) FROM instances AS i{join}"
                       f"{where}", params).fetchone()
    return InstanceTotals(int(row[0]), int(row[1]))


def backfill_pending(conn: sqlite3.Connection) -> bool:
    row = conn.execute("SELECT 1 FROM store_meta WHERE key = 'instance_index'").fetchone()
    return row is not None


# Run on the writer connection between write transactions (autocommit).
BACKFILL_DONE = "DELETE FROM store_meta WHERE key = 'instance_index'"
