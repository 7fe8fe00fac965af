"""TurnContext: the only way an actor reads and changes durable data during a turn.

Writes go to an overlay and a ``Changes`` batch; the runtime commits the batch once at the
end of the turn and only then merges the overlay into its cache. A turn that raises is
simply never committed and its overlay is dropped, so no half-applied change survives in
memory or on disk.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator

from wfsidecar.store.base import Changes, Reminder
from wfsidecar.store.instances import InstanceRow
from wfsidecar.types import ActorRef

_DELETED = object()


class TurnContext:
    """State view and write buffer for one actor turn."""

    def __init__(
        self,
        ref: ActorRef,
        state: dict[str, bytes],
        *,
        now_ms: int,
        new_etag: Callable[[], int],
    ) -> None:
        self.ref = ref
        self.now_ms = now_ms
        self.changes = Changes()
        self._base = state
        self._overlay: dict[str, object] = {}
        self._cleared = False
        self._new_etag = new_etag
        self._touched_reminders: set[tuple[ActorRef, str]] = set()
        self._foreign: set[ActorRef] = set()
        self.after_commit: list[Callable[[], None]] = []

    # -- reads -------------------------------------------------------------------------

    def get(self, key: str) -> bytes | None:
        value = self._overlay.get(key)
        if value is _DELETED:
            return None
        if value is not None:
            assert isinstance(value, bytes)
            return value
        return None if self._cleared else self._base.get(key)

    def keys(self, prefix: str = "") -> Iterator[str]:
        """Yield the current keys starting with ``prefix`` (unordered)."""
        if not self._cleared:
            for key in self._base:
                if key.startswith(prefix) and key not in self._overlay:
                    yield key
        for key, value in self._overlay.items():
            if value is not _DELETED and key.startswith(prefix):
                yield key

    # -- own state ---------------------------------------------------------------------

    def put(self, key: str, value: bytes) -> None:
        self._overlay[key] = value
        self.changes.put(self.ref, key, value)

    def delete(self, key: str) -> None:
        self._overlay[key] = _DELETED
        self.changes.delete(self.ref, key)

    def delete_actor(self) -> None:
        """Delete every key and every reminder of this actor (in this turn's transaction)."""
        self._cleared = True
        self._overlay.clear()
        self.changes.delete_actor(self.ref)
        self._touched_reminders = {k for k in self._touched_reminders if k[0] != self.ref}
        self._touched_reminders.add((self.ref, "*"))

    # -- reminders (own or another actor's) --------------------------------------------

    def set_reminder(
        self,
        name: str,
        *,
        due_ms: int,
        period_ms: int | None = None,
        data: bytes = b"",
        ref: ActorRef | None = None,
    ) -> None:
        """Create or replace reminder ``name`` on this actor (or on ``ref``).

        Setting a reminder on another actor is how a turn sends that actor a durable
        message: it commits with this turn, so it can neither be lost nor sent twice.
        """
        target = ref or self.ref
        if target != self.ref:
            self._foreign.add(target)
        self._touched_reminders.add((target, name))
        self.changes.set_reminder(
            Reminder(target, name, due_ms, period_ms, data, 0, self._new_etag())
        )

    def delete_reminder(self, name: str, *, ref: ActorRef | None = None) -> None:
        target = ref or self.ref
        self._touched_reminders.add((target, name))
        self.changes.delete_reminder(target, name)

    # -- another actor's state ---------------------------------------------------------

    def put_foreign(self, ref: ActorRef, key: str, value: bytes) -> None:
        """Write a key of another actor in this turn's transaction.

        Meant for state the other actor does not hold yet (a freshly scheduled activity's
        request); the runtime reloads that actor's cache before its next turn.
        """
        self._foreign.add(ref)
        self.changes.put(ref, key, value)

    def delete_foreign(self, ref: ActorRef, key: str) -> None:
        """Delete a key of another actor in this turn's transaction."""
        self._foreign.add(ref)
        self.changes.delete(ref, key)

    def delete_foreign_actor(self, ref: ActorRef) -> None:
        """Delete all state and reminders of another actor in this turn's transaction."""
        self._foreign.add(ref)
        self._touched_reminders.add((ref, "*"))
        self.changes.delete_actor(ref)

    def put_instance(self, row: InstanceRow) -> None:
        """Write this actor's instance index row (store/instances.py) with this turn."""
        self.changes.put_instance(self.ref, row)

    def on_commit(self, callback: Callable[[], None]) -> None:
        """Run ``callback`` once this turn has committed (never if it fails)."""
        self.after_commit.append(callback)

    # -- for the runtime ---------------------------------------------------------------

    def touched_reminder(self, ref: ActorRef, name: str) -> bool:
        """True if this turn set or deleted the reminder (so a firing outcome must not)."""
        return (ref, name) in self._touched_reminders or (ref, "*") in self._touched_reminders

    @property
    def foreign_refs(self) -> set[ActorRef]:
        return self._foreign

    def merged_state(self) -> dict[str, bytes]:
        """The state as it is after this turn commits. Only for a committed turn: the base
        state is updated in place (copying every key each turn made a workflow's cost per
        turn grow with its history)."""
        merged = {} if self._cleared else self._base
        for key, value in self._overlay.items():
            if value is _DELETED:
                merged.pop(key, None)
            else:
                assert isinstance(value, bytes)
                merged[key] = value
        return merged
