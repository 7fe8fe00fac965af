"""Reading (and damaging) actor state straight from a daemon's store in tests.

A finished workflow's keys live packed in one ``packed_state`` row (store/_sqlite_packed.py)
rather than in ``actor_state`` rows; these helpers see both, so tests that check the seed's
key layout on disk read exactly what ``load_actor`` would. ``stored_rows`` reads either
store (a SQLite file or a PostgreSQL DSN), so a check written on it runs on both.
"""

from __future__ import annotations

import asyncio
import sqlite3
from pathlib import Path

import asyncpg

from wfsidecar.store import _sqlite_packed as packed

StateRow = tuple[str, str, str, bytes]  # (actor type, actor id, key, value)


def state_rows(conn: sqlite3.Connection) -> list[StateRow]:
    """Every actor state key of the file, loose or packed, ordered by actor and key."""
    rows: list[StateRow] = conn.execute(
        "SELECT a.type, a.actor_id, s.key, s.value FROM actors a"
        " JOIN actor_state s ON s.actor = a.id").fetchall()
    for type_, actor_id, blob in conn.execute(
            "SELECT a.type, a.actor_id, p.state FROM actors a"
            " JOIN packed_state p ON p.actor = a.id"):
        rows.extend((type_, actor_id, key, value) for key, value in packed.decode(blob))
    return sorted(rows)


def stored_rows(where: Path | str) -> list[StateRow]:
    """Every actor state key of the store at ``where`` (a SQLite file, or a PostgreSQL
    DSN), ordered by actor and key. Blocking: call it through ``asyncio.to_thread``."""
    if isinstance(where, str) and where.startswith(("postgres://", "postgresql://")):
        return asyncio.run(postgres_state_rows(where))
    conn = sqlite3.connect(f"file:{where}?mode=ro", uri=True)
    try:
        return state_rows(conn)
    finally:
        conn.close()


async def postgres_state_rows(dsn: str) -> list[StateRow]:
    """``state_rows`` of a PostgreSQL store (store/migrations/postgres: no packing)."""
    conn = await asyncpg.connect(dsn)
    try:
        rows = await conn.fetch("SELECT type, actor_id, key, value FROM actor_state"
                                " ORDER BY type, actor_id, key")
    finally:
        await conn.close()
    return [(r[0], r[1], r[2], bytes(r[3])) for r in rows]


def delete_state_key(db: Path, actor_id: str, key: str) -> None:
    """Remove one key of an actor behind the daemon's back, wherever it is stored."""
    conn = sqlite3.connect(db, isolation_level=None)
    try:
        actor = conn.execute("SELECT id FROM actors WHERE actor_id = ?", (actor_id,)).fetchone()[0]
        conn.execute("DELETE FROM actor_state WHERE actor = ? AND key = ?", (actor, key))
        row = conn.execute("SELECT state FROM packed_state WHERE actor = ?", (actor,)).fetchone()
        if row is not None:
            kept = [(k, v) for k, v in packed.decode(row[0]) if k != key]
            conn.execute("UPDATE packed_state SET state = ? WHERE actor = ?",
                         (packed.encode(kept), actor))
    finally:
        conn.close()
