"""Read queries of the PostgreSQL store, and ``InstanceQuery`` as one SELECT.

Each function is one statement, so it sees one committed snapshot (READ COMMITTED takes
the snapshot per statement) even while a group commit is in flight. The instance query
mirrors ``_sqlite_instances.py`` and ``InstanceFilter.matches`` (the contract suite runs
the same queries against every store).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import asyncpg

from wfsidecar.store.base import Reminder
from wfsidecar.store.instances import (
    InstanceFilter,
    InstancePage,
    InstanceQuery,
    InstanceRow,
    InstanceTotals,
    SortField,
)
from wfsidecar.types import ActorRef

LOAD_ACTOR = "SELECT key, value FROM actor_state WHERE type = $1 AND actor_id = $2"
_REMINDER_COLUMNS = (
    "SELECT type, actor_id, name, due_ms, period_ms, data, attempts, etag FROM reminders"
)
DUE_BEFORE = f"{_REMINDER_COLUMNS} WHERE due_ms < $1 ORDER BY due_ms, type, actor_id, name LIMIT $2"
DUE_BEFORE_OWNED = (
    f"{_REMINDER_COLUMNS} WHERE due_ms < $1 AND partition = ANY($3::int[])"
    " ORDER BY due_ms, type, actor_id, name LIMIT $2"
)
GET_REMINDER = f"{_REMINDER_COLUMNS} WHERE type = $1 AND actor_id = $2 AND name = $3"
LIST_IDS = (
    "SELECT DISTINCT actor_id FROM actor_state WHERE type = $1 AND actor_id > $2"
    " ORDER BY actor_id LIMIT $3"
)
_COLUMNS = (
    "SELECT actor_id, name, version, status, created_ms, updated_ms, completed_ms,"
    " parent_id, dialect, stall_reason, custom_status, history_len, stored_bytes"
    " FROM instances"
)
LARGEST = f"{_COLUMNS} ORDER BY stored_bytes DESC, actor_id LIMIT $1"
_SORT_SQL: dict[SortField, str] = {
    "created": "created_ms",
    "updated": "updated_ms",
    "completed": "COALESCE(completed_ms, -1)",
    "id": "actor_id",
    "name": "name",
}


def reminder(row: asyncpg.Record) -> Reminder:
    return Reminder(ActorRef(row[0], row[1]), row[2], row[3], row[4], bytes(row[5]),
                    row[6], row[7])


def instance_row(row: asyncpg.Record) -> InstanceRow:
    return InstanceRow(*row)


class _Params:
    """Collects positional parameters and hands out their ``$n`` placeholders."""

    def __init__(self) -> None:
        self.values: list[Any] = []

    def __call__(self, value: Any) -> str:
        self.values.append(value)
        return f"${len(self.values)}"


def _where(flt: InstanceFilter, p: _Params) -> str:
    clauses: list[str] = []
    if flt.statuses:
        clauses.append(f"status = ANY({p(sorted(flt.statuses))}::int[])")
    if flt.name is not None:
        clauses.append(f"name = {p(flt.name)}")
    if flt.id_prefix:
        clauses.append(f"actor_id >= {p(flt.id_prefix)} AND actor_id < "
                       f"{p(flt.id_prefix + chr(0x10FFFF))}")
    if flt.parent_id is not None:
        clauses.append(f"parent_id = {p(flt.parent_id)}")
    for column, low, high in (("created_ms", flt.created_from_ms, flt.created_to_ms),
                              ("updated_ms", flt.updated_from_ms, flt.updated_to_ms),
                              ("completed_ms", flt.completed_from_ms, flt.completed_to_ms)):
        if low is not None:
            clauses.append(f"{column} >= {p(low)}")
        if high is not None:
            clauses.append(f"{column} < {p(high)}")
    return f" WHERE {' AND '.join(clauses)}" if clauses else ""


def query_sql(query: InstanceQuery) -> tuple[str, Sequence[Any]]:
    p = _Params()
    flt = query.filter
    sort = _SORT_SQL[query.sort]
    if query.sort == "completed" and (flt.completed_from_ms is not None
                                      or flt.completed_to_ms is not None):
        sort = "completed_ms"  # only completed rows can match (see _sqlite_instances.py)
    where = _where(flt, p)
    after = query.after()
    if after is not None:
        cast = "::text" if query.sort in ("id", "name") else "::bigint"
        keyset = (f"({sort}, actor_id) {'<' if query.descending else '>'} "
                  f"({p(after[0])}{cast}, {p(after[1])})")
        where = f"{where} AND {keyset}" if where else f" WHERE {keyset}"
    order = "DESC" if query.descending else "ASC"
    sql = (f"{_COLUMNS}{where} ORDER BY {sort} {order}, actor_id {order}"
           f" LIMIT {p(query.limit + 1)}")
    return sql, p.values


def page(query: InstanceQuery, records: Sequence[asyncpg.Record]) -> InstancePage:
    rows = [instance_row(r) for r in records]
    found = rows[:query.limit]
    more = len(rows) > query.limit
    return InstancePage(found, query.cursor_after(found[-1]) if more else None)


def count_sql(flt: InstanceFilter) -> tuple[str, Sequence[Any]]:
    p = _Params()
    where = _where(flt, p)
    return (f"SELECT count(*), coalesce(sum(stored_bytes), 0) FROM instances{where}",
            p.values)


def totals(record: asyncpg.Record) -> InstanceTotals:
    return InstanceTotals(int(record[0]), int(record[1]))
