"""Mapping ``ActorRef`` to the integer row id that the state and reminder tables key on.

Ids are resolved at the start of each write transaction, before any caller's savepoint,
so a caller rolled back to its savepoint cannot take an ``actors`` row with it that
another caller in the batch relies on.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

from wfsidecar.store.base import (
    DeleteActor,
    DeleteReminder,
    DeleteState,
    Op,
    PutInstance,
    PutState,
    SetReminder,
)

ActorKey = tuple[str, str]  # (type, id): tuple hashing is C code, ActorRef's is Python

_SELECT_ACTOR = "SELECT id FROM actors WHERE type = ? AND actor_id = ?"
_INSERT_ACTOR = "INSERT INTO actors (type, actor_id) VALUES (?, ?)"
# Ops that only remove rows: they never create an actor, and may leave one empty.
_REMOVING = (DeleteState, DeleteActor, DeleteReminder)


class ActorIds:
    """Row ids known to be committed, kept across transactions of the writer connection.

    Rollback-safe by construction: an id enters the cache only after the transaction that
    found or created it has committed (``learn``), and an actor whose row a transaction
    might delete leaves the cache before that transaction runs (``forget``). Rows are
    deleted nowhere else, and the file lock keeps other processes out, so a cached id
    always names a live row. The ``REFERENCES actors`` constraints would turn a stale id
    into an error rather than into orphaned rows.

    Only the writer connection's thread touches it, so it needs no lock.
    """

    def __init__(self, limit: int = 100_000) -> None:
        self._known: dict[ActorKey, int] = {}
        self._limit = limit

    def get(self, key: ActorKey) -> int | None:
        return self._known.get(key)

    def learn(self, ids: dict[ActorKey, int]) -> None:
        if len(self._known) + len(ids) > self._limit:
            self._known.clear()  # crude but bounded; a miss costs one indexed SELECT
        self._known.update(ids)

    def forget(self, keys: Iterable[ActorKey]) -> None:
        for key in keys:
            self._known.pop(key, None)


@dataclass(slots=True)
class Resolved:
    ids: dict[ActorKey, int] = field(default_factory=dict)
    # Ids found or created in this transaction, for ActorIds.learn after COMMIT.
    learnt: dict[ActorKey, int] = field(default_factory=dict)
    # Rows that may be empty at the end of the batch: rows created here (their caller
    # may be rolled back) and actors that lose rows. Checked and dropped before COMMIT.
    maybe_empty: set[int] = field(default_factory=set)


def resolve_actors(
    cur: sqlite3.Cursor, batch: Sequence[Sequence[Op]], actor_ids: ActorIds
) -> Resolved:
    """Find the ids of every actor the batch touches; create the ones it writes to.

    An actor that only appears in removing ops and does not exist gets no id (and no
    row): every op on it is a no-op.
    """
    writes: set[ActorKey] = set()
    others: set[ActorKey] = set()
    removing: set[ActorKey] = set()
    for ops in batch:
        for op in ops:
            if type(op) is PutState:
                writes.add((op.ref.type, op.ref.id))
            elif type(op) is SetReminder:
                writes.add((op.reminder.ref.type, op.reminder.ref.id))
            elif type(op) is PutInstance:
                writes.add((op.ref.type, op.ref.id))
            else:
                assert not isinstance(op, (PutState, SetReminder, PutInstance))
                key = (op.ref.type, op.ref.id)
                others.add(key)
                if isinstance(op, _REMOVING):
                    removing.add(key)

    resolved = Resolved()
    actor_ids.forget(removing)
    for key in writes | others:
        actor = actor_ids.get(key)
        if actor is None:
            row = cur.execute(_SELECT_ACTOR, key).fetchone()
            if row is not None:
                actor = int(row[0])
            elif key in writes:
                cur.execute(_INSERT_ACTOR, key)
                assert cur.lastrowid is not None
                actor = cur.lastrowid
                resolved.maybe_empty.add(actor)
            else:
                continue
        resolved.ids[key] = actor
    for key in removing:
        if key in resolved.ids:
            resolved.maybe_empty.add(resolved.ids[key])
    # A row that may be dropped before COMMIT must not be remembered: that is how a
    # stale id could enter the cache.
    resolved.learnt = {k: v for k, v in resolved.ids.items() if v not in resolved.maybe_empty}
    return resolved
