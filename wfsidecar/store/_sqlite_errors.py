"""Which SQLite failures are the environment's (disk, permissions, locks) and which are a
caller's, and the words a client sees for each.

A full disk, a read-only file or an I/O error says nothing about the changes being
written: every caller of the batch would fail the same way, and the same changes succeed
once the fault clears. Those become ``StoreUnavailable`` (gRPC UNAVAILABLE: retry later)
with a reason an operator can act on. Anything else SQLite refuses (a constraint, a value
out of range) is the caller's own ``StoreError``.
"""

from __future__ import annotations

import sqlite3

from wfsidecar.errors import StoreError, StoreUnavailable

# Primary result codes (https://sqlite.org/rescode.html); extended codes keep these in
# their low byte (SQLITE_IOERR_WRITE = 778 = 10 | 3 << 8).
_REASONS = {
    5: "database is busy: another connection held its lock past busy_timeout",  # BUSY
    6: "database table is locked",  # LOCKED
    7: "SQLite is out of memory",  # NOMEM
    8: "database is read-only (file, directory or filesystem not writable)",  # READONLY
    10: "disk I/O error",  # IOERR
    11: "database file is corrupt",  # CORRUPT
    13: "database is full (disk or max_page_count)",  # FULL
    14: "cannot open the database file",  # CANTOPEN
    15: "database lock protocol error",  # PROTOCOL
    26: "file is not a database",  # NOTADB
}


def environmental_reason(exc: BaseException) -> str | None:
    """The reason ``exc`` is a fault of the database's environment, or None if it is not."""
    if not isinstance(exc, sqlite3.Error):
        return None
    code = getattr(exc, "sqlite_errorcode", None)
    if code is None:
        # sqlite3 raises code-less ProgrammingErrors for a closed connection.
        return "database connection is closed" if "closed" in str(exc) else None
    return _REASONS.get(code & 0xFF)


def batch_failed(exc: Exception, path: object) -> StoreUnavailable:
    """A whole write transaction failed (BEGIN, COMMIT or an environmental error)."""
    reason = environmental_reason(exc)
    prefix = f"{reason}: " if reason else ""
    error = StoreUnavailable(f"{prefix}commit to {path} failed: {exc}")
    error.__cause__ = exc
    return error


def caller_failed(exc: Exception, path: object) -> StoreError:
    """One caller's ops were refused inside an otherwise committed transaction."""
    reason = environmental_reason(exc)
    error = (StoreUnavailable(f"{reason}: commit to {path} failed: {exc}") if reason
             else StoreError(f"commit rejected by SQLite: {exc}"))
    error.__cause__ = exc
    return error


def read_failed(exc: Exception, path: object) -> StoreUnavailable:
    reason = environmental_reason(exc)
    prefix = f"{reason}: " if reason else ""
    error = StoreUnavailable(f"{prefix}cannot read {path}: {exc}")
    error.__cause__ = exc
    return error
