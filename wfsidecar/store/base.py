"""The state-store seam: what the actor runtime needs from durable storage.

The model is Dapr's actor state model (engine.md §2): per actor a set of string keys with
byte values, plus named reminders. Unlike Dapr, a reminder change and the state it belongs
to commit in the same transaction: a ``Changes`` value carries both, and ``commit`` applies
all of it or none of it.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Protocol, TypeAlias

from wfsidecar.store.instances import (
    InstanceFilter,
    InstancePage,
    InstanceQuery,
    InstanceRow,
    InstanceTotals,
)
from wfsidecar.telemetry.observer import Observer
from wfsidecar.types import ActorRef


@dataclass(frozen=True, slots=True)
class Reminder:
    """A durable reminder: fire ``name`` on actor ``ref`` at ``due_ms``.

    Attributes:
        ref: The actor that owns the reminder.
        name: Unique per actor; setting a reminder with an existing name replaces it.
        due_ms: Next firing time, Unix epoch milliseconds.
        period_ms: Re-arm interval after a successful firing, or None for one-shot.
        data: Opaque payload handed back to the actor when it fires.
        attempts: Failed firings since the last success (drives the retry backoff).
        etag: Chosen by the writer; conditional updates compare it so that a reminder
            re-set while an earlier version was firing is not clobbered.
    """

    ref: ActorRef
    name: str
    due_ms: int
    period_ms: int | None = None
    data: bytes = b""
    attempts: int = 0
    etag: int = 0


@dataclass(frozen=True, slots=True)
class PutState:
    ref: ActorRef
    key: str
    value: bytes


@dataclass(frozen=True, slots=True)
class DeleteState:
    ref: ActorRef
    key: str


@dataclass(frozen=True, slots=True)
class DeleteActor:
    """Delete every state key, every reminder and the instance row of ``ref``."""

    ref: ActorRef


@dataclass(frozen=True, slots=True)
class PutInstance:
    """Write the instance index row of workflow actor ``ref`` (instances.py)."""

    ref: ActorRef
    row: InstanceRow


@dataclass(frozen=True, slots=True)
class SetReminder:
    reminder: Reminder


@dataclass(frozen=True, slots=True)
class DeleteReminder:
    """Delete a reminder; when ``if_etag`` is given, only if its etag still matches."""

    ref: ActorRef
    name: str
    if_etag: int | None = None


@dataclass(frozen=True, slots=True)
class RescheduleReminder:
    """Move a reminder to ``due_ms`` with ``attempts``, only if its etag is still ``if_etag``.

    A missing reminder or an etag mismatch makes this a silent no-op: someone re-set or
    deleted the reminder while it was firing, and their change wins.
    """

    ref: ActorRef
    name: str
    if_etag: int
    due_ms: int
    attempts: int


Op: TypeAlias = (
    PutState | DeleteState | DeleteActor | SetReminder | DeleteReminder | RescheduleReminder
    | PutInstance
)


@dataclass(slots=True)
class Changes:
    """An ordered batch of writes that commits atomically.

    A pure value: building it does no I/O. Operations apply in the order they were added,
    so ``delete_actor`` followed by ``put`` leaves just the new key.
    """

    ops: list[Op] = field(default_factory=list)

    def put(self, ref: ActorRef, key: str, value: bytes) -> None:
        self.ops.append(PutState(ref, key, value))

    def delete(self, ref: ActorRef, key: str) -> None:
        self.ops.append(DeleteState(ref, key))

    def delete_actor(self, ref: ActorRef) -> None:
        self.ops.append(DeleteActor(ref))

    def put_instance(self, ref: ActorRef, row: InstanceRow) -> None:
        self.ops.append(PutInstance(ref, row))

    def set_reminder(self, reminder: Reminder) -> None:
        self.ops.append(SetReminder(reminder))

    def delete_reminder(self, ref: ActorRef, name: str, if_etag: int | None = None) -> None:
        self.ops.append(DeleteReminder(ref, name, if_etag))

    def reschedule_reminder(
        self, ref: ActorRef, name: str, *, if_etag: int, due_ms: int, attempts: int
    ) -> None:
        self.ops.append(RescheduleReminder(ref, name, if_etag, due_ms, attempts))

    def extend(self, other: Changes) -> None:
        self.ops.extend(other.ops)

    def __bool__(self) -> bool:
        return bool(self.ops)

    def __len__(self) -> int:
        return len(self.ops)

    def __iter__(self) -> Iterator[Op]:
        return iter(self.ops)


class StateStore(Protocol):
    """Durable actor state and reminders.

    Implementations: ``store.sqlite.SqliteStore`` (default), ``store.memory.MemoryStore``
    (tests); a PostgreSQL store later. One contract suite (tests/store/test_contract.py)
    runs against each of them.
    """

    async def load_actor(self, ref: ActorRef) -> dict[str, bytes]:
        """Return every state key of ``ref`` (empty dict for an unknown actor).

        Raises:
            StoreUnavailable: the store cannot be read right now.
        """
        ...

    async def commit(self, changes: Changes) -> None:
        """Apply ``changes`` atomically and durably; return only once they are durable.

        Concurrent callers may share one underlying transaction (group commit), but each
        caller's changes succeed or fail as a unit, independently of the others. A caller
        cancelled while still queued is skipped; once its batch has started, the outcome
        of a cancelled caller is unknown (it may or may not have committed).

        Raises:
            StoreError: this caller's changes were not applied (nothing of them is visible);
                includes invalid input (non-bytes values, non-str keys, ints beyond 64 bits),
                which is refused before anything is queued.
            StoreUnavailable: the store could not commit at all (disk full, read-only), or
                it is closed.
        """
        ...

    async def reminders_due_before(self, due_ms: int, limit: int) -> list[Reminder]:
        """Return up to ``limit`` reminders with ``due_ms`` below the bound, earliest first.

        Ties are ordered by (actor type, actor id, name); ``limit <= 0`` returns [].

        Raises:
            StoreUnavailable: the store cannot be read right now.
        """
        ...

    async def get_reminder(self, ref: ActorRef, name: str) -> Reminder | None:
        """Return one reminder, or None if it does not exist."""
        ...

    async def list_actor_ids(
        self, actor_type: str, *, after: str | None, limit: int
    ) -> list[str]:
        """Return up to ``limit`` ids of ``actor_type`` actors that hold state, ascending,
        starting after ``after`` (a cursor: the last id of the previous page).

        Raises:
            StoreUnavailable: the store cannot be read right now.
        """
        ...

    async def query_instances(self, query: InstanceQuery) -> InstancePage:
        """One page of instance rows matching ``query`` (instances.py), from the index
        alone: no actor is loaded.

        Raises:
            InvalidArgumentError: the query's cursor is not one it handed out.
            StoreUnavailable: the store cannot be read right now.
        """
        ...

    async def count_instances(self, flt: InstanceFilter) -> InstanceTotals:
        """How many instance rows match ``flt``, and the bytes their instances store."""
        ...

    async def size_bytes(self) -> int:
        """Bytes the store occupies on disk (0 for a store that keeps nothing on disk)."""
        ...

    async def compact(self, limit: int) -> int:
        """Re-encode up to ``limit`` finished instances that an upgraded store left in an
        older, larger layout (one transaction); return how many (0: nothing left).

        Raises:
            StoreUnavailable: the store cannot write right now.
        """
        ...

    async def reclaim_space(self, max_pages: int) -> int:
        """Give up to ``max_pages`` pages freed by deletes back to the file system; return
        how many (0 for a store that keeps nothing on disk).

        Raises:
            StoreUnavailable: the store cannot write right now.
        """
        ...

    async def free_bytes(self) -> int:
        """Bytes of ``size_bytes`` that are free space, reusable or reclaimable."""
        ...

    async def largest_instances(self, limit: int) -> list[InstanceRow]:
        """Index rows of the ``limit`` instances storing the most bytes, largest first."""
        ...

    async def instance_backfill_pending(self) -> bool:
        """True if the store holds workflow state written before it kept the instance
        index (an upgraded file): the rows must be built once (``instance_backfill_done``
        when they are)."""
        ...

    async def instance_backfill_done(self) -> None:
        ...

    def observe(self, observer: Observer) -> None:
        """Tell ``observer`` of every commit (telemetry/observer.py): its duration, how
        many callers' changes it carried and how many ops, and whether it committed."""
        ...

    def add_recovery_listener(self, listener: Callable[[], None]) -> None:
        """Call ``listener`` (on the event loop) each time the store commits again after
        commits failed for a reason of its own (disk full, read-only, connection lost), so
        work that backed off during the fault can go at once instead of minutes later."""
        ...

    async def close(self) -> None:
        """Finish pending commits and release every resource; idempotent."""
        ...
