"""Giving space back and measuring it: incremental vacuum and the storage report's numbers.

Deleting rows only puts their pages on SQLite's freelist; the file keeps its size. With
``auto_vacuum = INCREMENTAL`` the file can be shortened a few pages at a time
(``PRAGMA incremental_vacuum(N)``) without rewriting it, so the retention sweeper gives
space back after each purge in a bounded step instead of one long ``VACUUM``. The mode
must be chosen before the first table exists; a file created without it is converted
once, by a full ``VACUUM`` at start-up (``enable_incremental_vacuum``).

Every function runs on a connection's own thread.
"""

from __future__ import annotations

import logging
import sqlite3
import time
from dataclasses import dataclass

logger = logging.getLogger("wfsidecar.store.sqlite")

INCREMENTAL = 2  # PRAGMA auto_vacuum's value for INCREMENTAL


@dataclass(frozen=True, slots=True)
class FileSpace:
    """The database file's pages: its size and how much of it is free for reuse."""

    page_size: int
    pages: int
    free_pages: int

    @property
    def file_bytes(self) -> int:
        return self.page_size * self.pages

    @property
    def free_bytes(self) -> int:
        return self.page_size * self.free_pages


def choose_incremental(conn: sqlite3.Connection) -> None:
    """On a new, empty file: make it incremental-vacuum capable from the start."""
    conn.execute(f"PRAGMA auto_vacuum = {INCREMENTAL}")


def enable_incremental_vacuum(conn: sqlite3.Connection, db_path: str) -> None:
    """Convert a file made without incremental vacuum, once (a full VACUUM)."""
    mode = int(conn.execute("PRAGMA auto_vacuum").fetchone()[0])
    if mode == INCREMENTAL:
        return
    started = time.monotonic()
    conn.execute(f"PRAGMA auto_vacuum = {INCREMENTAL}")
    conn.execute("VACUUM")
    logger.info("converted %s to incremental vacuum in %.1fs (one-time VACUUM)",
                db_path, time.monotonic() - started)


def space(conn: sqlite3.Connection) -> FileSpace:
    page_size = int(conn.execute("PRAGMA page_size").fetchone()[0])
    pages = int(conn.execute("PRAGMA page_count").fetchone()[0])
    free = int(conn.execute("PRAGMA freelist_count").fetchone()[0])
    return FileSpace(page_size, pages, free)


def reclaim(conn: sqlite3.Connection, max_pages: int) -> int:
    """Give up to ``max_pages`` free pages back to the file system; return how many.

    Runs between write transactions on the writer connection (autocommit: the PRAGMA is
    its own short write transaction). The WAL still holds the moved pages until the next
    checkpoint, so the file shrinks at the checkpoint that follows; a PASSIVE checkpoint
    here lets it shrink now when no reader holds an older snapshot.
    """
    before = int(conn.execute("PRAGMA freelist_count").fetchone()[0])
    if before == 0 or max_pages <= 0:
        return 0
    # executescript steps the PRAGMA to the end; execute() would free a single page.
    conn.executescript(f"PRAGMA incremental_vacuum({int(max_pages)});")
    after = int(conn.execute("PRAGMA freelist_count").fetchone()[0])
    conn.execute("PRAGMA wal_checkpoint(PASSIVE)").fetchall()
    return before - after
