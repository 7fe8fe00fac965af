"""The SQLite store's housekeeping calls (issue #13 items 5 and 6), kept out of sqlite.py.

``SqliteStore`` inherits them. Writes run on the writer connection between group-commit
transactions (aiosqlite runs one call at a time per connection, and a batch is one call),
so they never interleave with a turn's transaction; reads use the read connection.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Callable
from functools import partial
from typing import TypeVar

import aiosqlite

from wfsidecar.errors import StoreUnavailable
from wfsidecar.store import _sqlite_packed as packed
from wfsidecar.store import _sqlite_space as space
from wfsidecar.store._sqlite_conn import on_thread
from wfsidecar.store.instances import InstanceRow

_T = TypeVar("_T")

_LARGEST = (
    "SELECT a.actor_id, i.name, i.version, i.status, i.created_ms, i.updated_ms,"
    " i.completed_ms, i.parent_id, i.dialect, i.stall_reason, i.custom_status,"
    " i.history_len, i.stored_bytes FROM instances AS i JOIN actors AS a ON a.id = i.actor"
    " ORDER BY i.stored_bytes DESC, a.actor_id LIMIT ?"
)


def _largest(conn: sqlite3.Connection, *, limit: int) -> list[InstanceRow]:
    return [InstanceRow(*row) for row in conn.execute(_LARGEST, (limit,)).fetchall()]


class SqliteMaintenance:
    """Packing left-over finished instances, incremental vacuum, space figures."""

    _writer: aiosqlite.Connection

    async def _read(self, fn: Callable[[sqlite3.Connection], _T]) -> _T:
        raise NotImplementedError  # SqliteStore's

    async def compact(self, limit: int) -> int:
        """Pack up to ``limit`` finished instances an upgraded file left loose (one
        transaction); return how many (0 once none is left)."""
        return await self._write(partial(packed.pack_pending, limit=limit))

    async def reclaim_space(self, max_pages: int) -> int:
        """Give up to ``max_pages`` free pages back to the file system; return how many."""
        return await self._write(partial(space.reclaim, max_pages=max_pages))

    async def free_bytes(self) -> int:
        """Bytes of the file that are free pages (reused by later writes, or given back
        by ``reclaim_space``)."""
        found = await self._read(space.space)
        return found.free_bytes

    async def largest_instances(self, limit: int) -> list[InstanceRow]:
        """The index rows of the ``limit`` instances that store the most bytes."""
        return await self._read(partial(_largest, limit=max(limit, 0)))

    async def _write(self, fn: Callable[[sqlite3.Connection], _T]) -> _T:
        try:
            return await on_thread(self._writer, fn)
        except (sqlite3.Error, ValueError) as exc:
            raise StoreUnavailable(f"cannot write {getattr(self, 'path', '?')}: {exc}") from exc
