"""Entity critical sections: which queued messages may run, and lock bookkeeping.

An unlocked entity takes its queue in order. A lock request (``entityLockRequested``)
makes it the property of one critical section: it records the lock, forwards the request
to the next entity of ``lockSet`` (or, from the last one, grants the lock to the
orchestration with ``entityLockGranted``). While locked, only the owner's calls and
unlocks run; everything else stays queued in its order until ``entityUnlockSent``.
Lock and unlock messages are applied by the actor itself; only operations go to workers.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

from wfsidecar._proto.internal import orchestrator_service_pb2 as pb
from wfsidecar.engine import history as h
from wfsidecar.engine.entities import MAX_BATCH, EntityOutbox, MessageEntity, SendToInstance

OPERATIONS = ("entityOperationSignaled", "entityOperationCalled")


@dataclass(frozen=True, slots=True)
class Lock:
    critical_section: str
    owner: str  # the orchestration instance holding it


@dataclass(frozen=True, slots=True)
class Plan:
    """Next step for an entity: run ``batch`` (queue indexes), or apply ``control``."""

    batch: tuple[int, ...] = ()
    control: int | None = None


def _eligible(event: pb.HistoryEvent, lock: Lock | None) -> bool:
    kind = event.WhichOneof("eventType")
    if kind == "entityUnlockSent":
        return True  # a stale unlock is simply dropped
    if lock is None:
        return True
    if kind == "entityOperationCalled":
        return event.entityOperationCalled.parentInstanceId.value == lock.owner
    if kind == "entityLockRequested":
        return event.entityLockRequested.criticalSectionId == lock.critical_section
    return False  # signals wait for the critical section to end


def plan(queue: Sequence[pb.HistoryEvent], lock: Lock | None) -> Plan:
    """Operations run in queue order up to the first runnable lock/unlock message, which
    is applied once the operations before it are done."""
    batch: list[int] = []
    for index, event in enumerate(queue):
        if not _eligible(event, lock):
            continue
        if event.WhichOneof("eventType") in OPERATIONS:
            batch.append(index)
            if len(batch) == MAX_BATCH:
                break
        elif batch:
            break
        else:
            return Plan(control=index)
    return Plan(batch=tuple(batch))


@dataclass(slots=True)
class ControlOutcome:
    lock: Lock | None
    outbox: list[EntityOutbox] = field(default_factory=list)


def apply_control(event: pb.HistoryEvent, lock: Lock | None, now_ms: int) -> ControlOutcome:
    """Apply a lock request or unlock that ``plan`` chose."""
    if event.HasField("entityUnlockSent"):
        unlock = event.entityUnlockSent
        if lock is not None and unlock.criticalSectionId == lock.critical_section:
            return ControlOutcome(None)
        return ControlOutcome(lock)
    request = event.entityLockRequested
    owner = request.parentInstanceId.value
    held = Lock(request.criticalSectionId, owner)
    outcome = ControlOutcome(held)
    following = request.position + 1
    if following < len(request.lockSet):
        forward = h.new_event(now_ms)
        forward.entityLockRequested.CopyFrom(request)
        forward.entityLockRequested.position = following
        outcome.outbox.append(MessageEntity(request.lockSet[following], forward, now_ms))
    else:
        granted = h.new_event(now_ms)
        granted.entityLockGranted.criticalSectionId = request.criticalSectionId
        outcome.outbox.append(SendToInstance(owner, granted))
    return outcome
