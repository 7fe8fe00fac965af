"""Which partition an actor belongs to, when several daemons share one database.

Actors are hashed into a fixed number of partitions (docs/multi-node.md); a daemon owns
whole partitions. The hash is of the workflow *instance* an actor serves, not of the actor
id: an activity actor (``<instance>#<task id>``) lands in its workflow's partition, so a
workflow turn, which writes its activities' requests and reminders in its own
transaction, only ever writes state of one partition. Messages to other instances
(child starts, events, parent notifications, entity signals) are reminders on the target,
which any daemon may write (``is_message``).
"""

from __future__ import annotations

import zlib

from wfsidecar.store.base import Op, SetReminder
from wfsidecar.types import ActorRef

DEFAULT_PARTITIONS = 64
# Actor types whose id is ``<instance id>#<n>`` (workflow/state.py activity_actor_id).
_CHILD_TYPES = frozenset({"dapr.internal.wfengine.activity"})


def instance_key(ref: ActorRef) -> str:
    if ref.type in _CHILD_TYPES:
        head, sep, _ = ref.id.rpartition("#")
        if sep:
            return head
    return ref.id


def partition_of(ref: ActorRef, partitions: int) -> int:
    """A stable partition number in ``[0, partitions)``: the same on every daemon and
    every Python (crc32, not the salted ``hash``)."""
    return zlib.crc32(instance_key(ref).encode("utf-8", "surrogatepass")) % partitions


def op_ref(op: Op) -> ActorRef:
    return op.reminder.ref if type(op) is SetReminder else op.ref  # type: ignore[union-attr]


def is_message(op: Op) -> bool:
    """A write any daemon may make to an actor it does not own: a new reminder (a durable
    message the owner picks up). Everything else needs the partition's lease."""
    return type(op) is SetReminder
