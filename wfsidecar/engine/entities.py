"""Durable entities: batch requests, applying an EntityBatchResult, entity messages.

An entity's queue holds the messages sent to it as HistoryEvents (``entityOperationSignaled``
or ``entityOperationCalled``), oldest first. A batch takes the runnable prefix of the queue;
the worker answers one OperationResult per operation, in order, plus the new state and the
actions the operations took. Applying it yields the messages to commit with the turn:
results for calling orchestrations, signals to other entities, orchestrations to start.
Pure: the actor supplies time and fresh ids.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

from wfsidecar._proto.internal import orchestrator_service_pb2 as pb
from wfsidecar.engine import history as h
from wfsidecar.errors import InvalidArgumentError

MAX_BATCH = 100  # operations per work item; bounds one turn's commit


def parse_entity_id(instance_id: str) -> tuple[str, str]:
    """``@<name>@<key>`` → (name, key).

    Raises:
        InvalidArgumentError: not an entity instance id.
    """
    if not instance_id.startswith("@"):
        raise InvalidArgumentError(f"'{instance_id}' is not an entity id ('@<name>@<key>')")
    name, sep, key = instance_id[1:].partition("@")
    if not sep or not name:
        raise InvalidArgumentError(f"'{instance_id}' is not an entity id ('@<name>@<key>')")
    return name, key


def signal_event(*, request_id: str, operation: str, input: str | None, target: str,
                 now_ms: int, scheduled_ms: int | None = None) -> pb.HistoryEvent:
    """A one-way operation request (client SignalEntity, an entity's sendSignal)."""
    event = h.new_event(now_ms)
    sig = event.entityOperationSignaled
    sig.requestId = request_id
    sig.operation = operation
    if input is not None:
        sig.input.value = input
    sig.targetInstanceId.value = target
    if scheduled_ms is not None:
        sig.scheduledTime.FromMilliseconds(scheduled_ms)
    return event


def scheduled_ms(event: pb.HistoryEvent) -> int | None:
    """When a queued message may run (delayed signals); None = at once."""
    kind = event.WhichOneof("eventType")
    if kind in ("entityOperationSignaled", "entityOperationCalled"):
        msg = getattr(event, kind)
        if msg.HasField("scheduledTime"):
            return int(msg.scheduledTime.ToMilliseconds())
    return None


def build_batch(instance_id: str, state: str | None,
                operations: Sequence[pb.HistoryEvent]) -> pb.EntityBatchRequest:
    """The work item running ``operations`` (signaled/called events) in order."""
    request = pb.EntityBatchRequest(instanceId=instance_id)
    if state is not None:
        request.entityState.value = state
    for event in operations:
        kind = event.WhichOneof("eventType")
        assert kind in ("entityOperationSignaled", "entityOperationCalled")
        msg = getattr(event, kind)
        op = request.operations.add(operation=msg.operation, requestId=msg.requestId)
        if msg.HasField("input"):
            op.input.CopyFrom(msg.input)
    return request


@dataclass(frozen=True, slots=True)
class MessageEntity:
    """An operation request for entity ``entity_id``'s queue, delivered at ``due_ms``."""

    entity_id: str
    event: pb.HistoryEvent
    due_ms: int


def orchestration_message(action: pb.OrchestratorAction, instance_id: str,
                          started: pb.HistoryEvent, now_ms: int) -> MessageEntity:
    """A ``sendEntityMessage`` action: its history event (eventId = action id), which is
    also the message the entity queues.

    Raises:
        InvalidArgumentError: malformed (no target).
    """
    which = action.sendEntityMessage.WhichOneof("EntityMessageType")
    if which is None:
        raise InvalidArgumentError(f"sendEntityMessage action {action.id} is empty")
    msg = getattr(action.sendEntityMessage, which)
    if which == "entityLockRequested":
        # Locks are acquired in lockSet order (the SDK sorts it, so no deadlock): the
        # request goes to the first entity, which forwards it once it holds its lock.
        target = msg.lockSet[0] if msg.lockSet else ""
        if not msg.parentInstanceId.value:
            msg = pb.EntityLockRequestedEvent()
            msg.CopyFrom(getattr(action.sendEntityMessage, which))
            msg.parentInstanceId.value = instance_id
    else:
        target = msg.targetInstanceId.value
    if not target:
        raise InvalidArgumentError(f"sendEntityMessage action {action.id} has no target entity")
    event = h.new_event(now_ms, action.id)
    payload = getattr(event, which)
    payload.CopyFrom(msg)
    if which == "entityOperationCalled":
        # The entity answers the caller named here; fill it in if the SDK left it out.
        if not payload.parentInstanceId.value:
            payload.parentInstanceId.value = instance_id
        if not payload.HasField("parentExecutionId"):
            es = started.executionStarted
            payload.parentExecutionId.value = es.orchestrationInstance.executionId.value
    due = now_ms
    if which in ("entityOperationSignaled", "entityOperationCalled") and \
            msg.HasField("scheduledTime"):
        due = msg.scheduledTime.ToMilliseconds()
    return MessageEntity(target, event, max(due, now_ms))


@dataclass(frozen=True, slots=True)
class SendToInstance:
    """A result for the orchestration that called an operation."""

    instance_id: str
    event: pb.HistoryEvent


@dataclass(frozen=True, slots=True)
class StartOrchestration:
    instance_id: str
    started: pb.HistoryEvent


EntityOutbox = SendToInstance | MessageEntity | StartOrchestration


@dataclass(slots=True)
class BatchOutcome:
    state: str | None
    outbox: list[EntityOutbox] = field(default_factory=list)


def apply_batch(operations: Sequence[pb.HistoryEvent], result: pb.EntityBatchResult,
                now_ms: int, new_id: Callable[[], str]) -> BatchOutcome:
    """Turn the worker's answer to a batch of ``operations`` into state and messages.

    Raises:
        InvalidArgumentError: the result does not answer every operation.
    """
    if len(result.results) != len(operations):
        raise InvalidArgumentError(
            f"entity batch result has {len(result.results)} results for "
            f"{len(operations)} operations")
    outcome = BatchOutcome(result.entityState.value if result.HasField("entityState") else None)
    for op, res in zip(operations, result.results, strict=True):
        if not op.HasField("entityOperationCalled"):
            continue  # signals are fire-and-forget
        called = op.entityOperationCalled
        reply = h.new_event(now_ms)
        if res.HasField("failure"):
            reply.entityOperationFailed.requestId = called.requestId
            reply.entityOperationFailed.failureDetails.CopyFrom(res.failure.failureDetails)
        else:
            reply.entityOperationCompleted.requestId = called.requestId
            if res.success.HasField("result"):
                reply.entityOperationCompleted.output.CopyFrom(res.success.result)
        outcome.outbox.append(SendToInstance(called.parentInstanceId.value, reply))
    for action in result.actions:
        outcome.outbox.append(_action(action, now_ms, new_id))
    return outcome


def _action(action: pb.OperationAction, now_ms: int, new_id: Callable[[], str]) -> EntityOutbox:
    kind = action.WhichOneof("operationActionType")
    if kind == "sendSignal":
        s = action.sendSignal
        due = s.scheduledTime.ToMilliseconds() if s.HasField("scheduledTime") else None
        event = signal_event(request_id=new_id(), operation=s.name,
                             input=s.input.value if s.HasField("input") else None,
                             target=s.instanceId, now_ms=now_ms, scheduled_ms=due)
        return MessageEntity(s.instanceId, event, max(due or now_ms, now_ms))
    if kind == "startNewOrchestration":
        s2 = action.startNewOrchestration
        instance_id = s2.instanceId or new_id()
        started = h.execution_started(
            name=s2.name, instance_id=instance_id, execution_id=new_id(),
            input=s2.input.value if s2.HasField("input") else None,
            version=s2.version.value or None, now_ms=now_ms,
            scheduled_start_ms=(s2.scheduledTime.ToMilliseconds()
                                if s2.HasField("scheduledTime") else None),
            parent_trace_context=(s2.parentTraceContext
                                  if s2.HasField("parentTraceContext") else None))
        return StartOrchestration(instance_id, started)
    raise InvalidArgumentError(f"entity action {action.id} of kind {kind!r} is not supported")
