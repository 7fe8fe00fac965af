"""Running work on an aiosqlite connection's own thread, and closing one quietly."""

from __future__ import annotations

import logging
import sqlite3
from collections.abc import Callable
from typing import TypeVar, cast

import aiosqlite

logger = logging.getLogger(__name__)

_T = TypeVar("_T")


async def on_thread(conn: aiosqlite.Connection, fn: Callable[[sqlite3.Connection], _T]) -> _T:
    """Run ``fn(sqlite3_connection)`` on ``conn``'s worker thread: one await, one hop.

    aiosqlite has no public way to run a whole transaction on its thread, so this uses
    its private ``Connection._execute(fn, *args)`` (the primitive every public method is
    built on) and ``Connection._conn`` (the sqlite3 connection, only ever touched on that
    thread). Both were checked against aiosqlite 0.22.1; the pin ``aiosqlite>=0.20,<0.23``
    in pyproject.toml keeps an untested release from changing them under us.
    """
    raw = conn._conn
    result = await conn._execute(fn, raw)  # type: ignore[no-untyped-call]
    return cast(_T, result)


async def close_quietly(conn: aiosqlite.Connection) -> None:
    try:
        await conn.close()
    except Exception:
        logger.exception("closing a SQLite connection failed")
