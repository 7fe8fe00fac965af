"""Read queries of the SQLite store; each runs whole on the read connection's thread.

Each function is a single SELECT, so under WAL it sees one committed snapshot even while
the writer connection is in the middle of a group commit.
"""

from __future__ import annotations

import sqlite3
from pathlib import Path

from wfsidecar.store import _sqlite_packed as packed
from wfsidecar.store.base import Reminder
from wfsidecar.types import ActorRef

# Loose rows, plus the packed row of a finished instance (key NULL; _sqlite_packed.py).
_LOAD_ACTOR = (
    "SELECT s.key, s.value FROM actors AS a JOIN actor_state AS s ON s.actor = a.id"
    " WHERE a.type = ?1 AND a.actor_id = ?2"
    " UNION ALL SELECT NULL, p.state FROM actors AS a JOIN packed_state AS p ON p.actor = a.id"
    " WHERE a.type = ?1 AND a.actor_id = ?2"
)
_REMINDER_COLUMNS = (
    "SELECT a.type, a.actor_id, r.name, r.due_ms, r.period_ms, r.data, r.attempts, r.etag"
    " FROM reminders AS r JOIN actors AS a ON a.id = r.actor"
)
# The tiebreak after due_ms is (type, actor id, name), the same order MemoryStore uses;
# SQLite walks the reminders_due index and sorts only runs of equal due_ms.
_DUE_BEFORE = (
    f"{_REMINDER_COLUMNS} WHERE r.due_ms < ? ORDER BY r.due_ms, a.type, a.actor_id, r.name LIMIT ?"
)
_GET_REMINDER = f"{_REMINDER_COLUMNS} WHERE a.type = ? AND a.actor_id = ? AND r.name = ?"

# Only actors that hold state: an actor row kept alive by reminders alone is not listed.
_LIST_IDS = (
    "SELECT a.actor_id FROM actors AS a WHERE a.type = ? AND a.actor_id > ?"
    " AND (EXISTS (SELECT 1 FROM actor_state AS s WHERE s.actor = a.id)"
    " OR EXISTS (SELECT 1 FROM packed_state AS p WHERE p.actor = a.id))"
    " ORDER BY a.actor_id LIMIT ?"
)

_ReminderRow = tuple[str, str, str, int, int | None, bytes, int, int]


def load_actor(conn: sqlite3.Connection, *, ref: ActorRef) -> dict[str, bytes]:
    state: dict[str, bytes] = {}
    for key, value in conn.execute(_LOAD_ACTOR, (ref.type, ref.id)).fetchall():
        if key is None:
            state.update(packed.decode(value))
        else:
            state[key] = value
    return state


def reminders_due_before(conn: sqlite3.Connection, *, due_ms: int, limit: int) -> list[Reminder]:
    return [_reminder(row) for row in conn.execute(_DUE_BEFORE, (due_ms, limit)).fetchall()]


def get_reminder(conn: sqlite3.Connection, *, ref: ActorRef, name: str) -> Reminder | None:
    row = conn.execute(_GET_REMINDER, (ref.type, ref.id, name)).fetchone()
    return None if row is None else _reminder(row)


def list_actor_ids(conn: sqlite3.Connection, *, actor_type: str, after: str | None,
                   limit: int) -> list[str]:
    rows = conn.execute(_LIST_IDS, (actor_type, after or "", max(limit, 0))).fetchall()
    return [row[0] for row in rows]


def _reminder(row: _ReminderRow) -> Reminder:
    type_, actor_id, name, due_ms, period_ms, data, attempts, etag = row
    return Reminder(ActorRef(type_, actor_id), name, due_ms, period_ms, data, attempts, etag)


def file_sizes(path: Path) -> int:
    """Bytes of the database at ``path`` on disk: the file, its WAL and its -shm index
    (a side file that does not exist counts 0). Runs off the event loop."""
    total = 0
    for suffix in ("", "-wal", "-shm"):
        try:
            total += path.with_name(path.name + suffix).stat().st_size
        except FileNotFoundError:
            pass
    return total
