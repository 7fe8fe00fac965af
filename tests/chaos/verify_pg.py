"""The chaos checks' readings of a PostgreSQL store (verify.py reads a SQLite file).

Each function returns what its SQLite counterpart in ``verify.py`` returns, read from the
raw tables (store/migrations/postgres), so every check of verify.py runs unchanged on
either store.
"""

from __future__ import annotations

import json

import asyncpg

from tests.chaos.verify import ACTIVITY, ENTITY, WORKFLOW, Snapshot, rows_agree
from tests.stored_state import postgres_state_rows
from wfsidecar._proto.internal import orchestrator_service_pb2 as pb


async def read(dsn: str) -> Snapshot:
    snap = Snapshot(integrity="ok")
    rows = await postgres_state_rows(dsn)  # the same rows stored_state reads on SQLite
    conn = await asyncpg.connect(dsn)
    try:
        reminders = await conn.fetch("SELECT type, actor_id, name FROM reminders")
    finally:
        await conn.close()
    snap.actors = {(r[0], r[1]) for r in rows} | {(r[0], r[1]) for r in reminders}
    snap.reminders = [(r[0], r[1], r[2]) for r in reminders]
    for type_, actor_id, key, value in rows:
        if type_ == WORKFLOW and key.startswith("history-"):
            snap.histories.setdefault(actor_id, []).append(pb.HistoryEvent.FromString(value))
        elif type_ == WORKFLOW and key.startswith("inbox-"):
            snap.inbox_rows[actor_id] += 1
        elif type_ == ENTITY and key == "entityState":
            snap.entity_states[actor_id] = json.loads(value)
        elif type_ == ENTITY and key.startswith("queue-"):
            snap.entity_queued[actor_id] += 1
    return snap


async def in_flight_activities(dsn: str) -> int:
    conn = await asyncpg.connect(dsn)
    try:
        return int(await conn.fetchval(
            "SELECT count(*) FROM actor_state WHERE type = $1 AND key LIKE 'activityreq-%'",
            ACTIVITY))
    finally:
        await conn.close()


async def index_agrees(dsn: str, snap: Snapshot) -> list[str]:
    """verify.index_agrees on the PostgreSQL instance index."""
    conn = await asyncpg.connect(dsn)
    try:
        rows = {r[0]: tuple(r[1:]) for r in await conn.fetch(
            "SELECT actor_id, status, name, created_ms, completed_ms, parent_id, history_len"
            " FROM instances WHERE type = $1", WORKFLOW)}
    finally:
        await conn.close()
    return rows_agree(rows, snap)
