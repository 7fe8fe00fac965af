"""Finished workflows keep their state in one deflated row (issue #13 item 6).

A finished instance is read whole (``load_actor``) and seldom written again, so the write
transaction that gives its index row a completion time moves its state rows into one
``packed_state`` row: the same keys and the same values, in key order, deflated. That
saves a b-tree cell per key and compresses what repeats from event to event (the
``history-0000`` prefixes, timestamps, execution ids, ``eventId -1``): a seq3 workflow's
13 rows of 981 bytes become one row of about 520. Nothing above the store sees it:
``load_actor`` returns the same keys and values whichever table holds them, and any state
write to a packed actor unpacks it first, in the same transaction, so the ops of a batch
only ever meet loose rows. Deleting the actor deletes its packed row.

Everything here runs on the writer connection's thread, inside a write transaction.
"""

from __future__ import annotations

import sqlite3
import zlib
from collections.abc import Collection, Iterable

_FORMAT = 1  # first byte of a packed value; the rest is raw deflate of the records
_LEVEL = 6
# Format 1's preset dictionary: what every workflow's rows repeat (an event id of -1 and a
# timestamp's tag, the keys, metadata's JSON), so even their first occurrence is a back
# reference (about 50 bytes less per seq3 workflow). Never change it: stored values
# depend on it; a new dictionary needs a new format byte.
_DICTIONARY = (
    b"\x08\xff\xff\xff\xff\xff\xff\xff\xff\xff\x01\x12\x0c\x08r\x00\x0ehistory-0000"
    b"\x0ehistory-0000\x0ccustomStatus{\"inboxLength\":0,\"historyLength\":"
    b",\"generation\":1}\x08metadata3"
)

DELETE = "DELETE FROM packed_state WHERE actor = ?"
_UPSERT = (
    "INSERT INTO packed_state (actor, state) VALUES (?, ?)"
    " ON CONFLICT (actor) DO UPDATE SET state = excluded.state"
)
_LOOSE = "SELECT key, value FROM actor_state WHERE actor = ? ORDER BY key"
_DROP_LOOSE = "DELETE FROM actor_state WHERE actor = ?"
_RESTORE = "INSERT OR REPLACE INTO actor_state (actor, key, value) VALUES (?, ?, ?)"
# A finished instance of a file written before schema 3 that still has loose rows.
_PENDING = (
    "SELECT i.actor FROM instances AS i WHERE i.completed_ms IS NOT NULL"
    " AND EXISTS (SELECT 1 FROM actor_state AS s WHERE s.actor = i.actor) LIMIT ?"
)
_PENDING_FLAG = "SELECT 1 FROM store_meta WHERE key = 'packed_state'"
_PENDING_DONE = "DELETE FROM store_meta WHERE key = 'packed_state'"


def _varint(n: int) -> bytes:
    out = bytearray()
    while n >= 0x80:
        out.append((n & 0x7F) | 0x80)
        n >>= 7
    out.append(n)
    return bytes(out)


def encode(rows: Iterable[tuple[str, bytes]]) -> bytes:
    """One value holding every (key, value): varint-length-prefixed, then deflated."""
    body = bytearray()
    for key, value in rows:
        raw = key.encode()
        body += _varint(len(raw))
        body += raw
        body += _varint(len(value))
        body += value
    deflate = zlib.compressobj(_LEVEL, zlib.DEFLATED, -15, 9, zlib.Z_DEFAULT_STRATEGY,
                               _DICTIONARY)
    return bytes([_FORMAT]) + deflate.compress(bytes(body)) + deflate.flush()


def decode(blob: bytes) -> list[tuple[str, bytes]]:
    """The (key, value) pairs ``encode`` packed, in order.

    Raises:
        ValueError: not a packed value of a known format.
    """
    if not blob or blob[0] != _FORMAT:
        raise ValueError(f"unknown packed state format {blob[:1]!r}")
    inflate = zlib.decompressobj(-15, _DICTIONARY)
    body = inflate.decompress(blob[1:]) + inflate.flush()
    if not inflate.eof:
        raise ValueError("truncated packed state")
    rows: list[tuple[str, bytes]] = []
    pos = 0
    while pos < len(body):
        parts: list[bytes] = []
        for _ in range(2):
            size = shift = 0
            while True:
                byte = body[pos]
                pos += 1
                size |= (byte & 0x7F) << shift
                shift += 7
                if byte < 0x80:
                    break
            parts.append(body[pos:pos + size])
            pos += size
        rows.append((parts[0].decode(), parts[1]))
    return rows


def unpack(cur: sqlite3.Cursor, actors: Collection[int]) -> None:
    """Move the packed state of any of ``actors`` back into ``actor_state`` rows."""
    if not actors:
        return
    marks = ", ".join("?" * len(actors))
    found = cur.execute(
        f"SELECT actor, state FROM packed_state WHERE actor IN ({marks})", tuple(actors)
    ).fetchall()
    for actor, blob in found:
        cur.executemany(_RESTORE, [(actor, key, value) for key, value in decode(blob)])
        cur.execute(DELETE, (actor,))


def pack(cur: sqlite3.Cursor, actors: Collection[int]) -> int:
    """Pack the loose state of those ``actors`` whose instance row has a completion time
    (as committed by this transaction so far); return how many were packed."""
    if not actors:
        return 0
    marks = ", ".join("?" * len(actors))
    finished = cur.execute(
        f"SELECT actor FROM instances WHERE actor IN ({marks}) AND completed_ms IS NOT NULL",
        tuple(actors),
    ).fetchall()
    packed = 0
    for (actor,) in finished:
        rows = cur.execute(_LOOSE, (actor,)).fetchall()
        if not rows:
            continue
        old = cur.execute("SELECT state FROM packed_state WHERE actor = ?", (actor,)).fetchone()
        if old is not None:  # not expected (writes unpack first), but never lose a key
            merged = dict(decode(old[0]))
            merged.update(rows)
            rows = sorted(merged.items())
        cur.execute(_UPSERT, (actor, encode(rows)))
        cur.execute(_DROP_LOOSE, (actor,))
        packed += 1
    return packed


def pack_pending(conn: sqlite3.Connection, limit: int) -> int:
    """One transaction packing up to ``limit`` finished instances that a file written
    before schema 3 left loose; clears the file's flag once none is left. Returns how
    many were packed (0 when there is nothing to do)."""
    if conn.execute(_PENDING_FLAG).fetchone() is None:
        return 0
    conn.execute("BEGIN IMMEDIATE")
    try:
        actors = [row[0] for row in conn.execute(_PENDING, (limit,)).fetchall()]
        packed = pack(conn.cursor(), actors)
        if len(actors) < limit:
            conn.execute(_PENDING_DONE)
        conn.execute("COMMIT")
    except BaseException:
        if conn.in_transaction:
            conn.execute("ROLLBACK")
        raise
    return packed
