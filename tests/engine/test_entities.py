"""Durable entities, pure part: batches, results, orchestration messages, locks."""

from __future__ import annotations

import itertools
from collections.abc import Callable

import pytest

from wfsidecar._proto.internal import orchestrator_service_pb2 as pb
from wfsidecar.engine import entities, entity_locks
from wfsidecar.engine import history as h
from wfsidecar.engine.entity_locks import Lock
from wfsidecar.errors import InvalidArgumentError

NOW = 1_700_000_000_000


def ids() -> Callable[[], str]:
    counter = itertools.count(1)
    return lambda: f"id{next(counter)}"


def signal(op: str, input: str | None = None) -> pb.HistoryEvent:
    return entities.signal_event(request_id=f"r-{op}", operation=op, input=input,
                                 target="@counter@k", now_ms=NOW)


def call(op: str, parent: str = "orch", request_id: str = "c1") -> pb.HistoryEvent:
    event = h.new_event(NOW)
    called = event.entityOperationCalled
    called.requestId, called.operation = request_id, op
    called.parentInstanceId.value = parent
    called.targetInstanceId.value = "@counter@k"
    return event


def lock_request(cs: str, lock_set: list[str], owner: str = "orch",
                 position: int = 0) -> pb.HistoryEvent:
    event = h.new_event(NOW)
    req = event.entityLockRequested
    req.criticalSectionId, req.position = cs, position
    req.lockSet.extend(lock_set)
    req.parentInstanceId.value = owner
    return event


def unlock(cs: str) -> pb.HistoryEvent:
    event = h.new_event(NOW)
    event.entityUnlockSent.criticalSectionId = cs
    return event


def success(result: str | None) -> pb.OperationResult:
    res = pb.OperationResult()
    res.success.SetInParent()
    if result is not None:
        res.success.result.value = result
    return res


def test_parse_entity_id() -> None:
    assert entities.parse_entity_id("@counter@k1") == ("counter", "k1")
    assert entities.parse_entity_id("@counter@") == ("counter", "")
    for bad in ("counter@k", "@counter", "@@k"):
        with pytest.raises(InvalidArgumentError):
            entities.parse_entity_id(bad)


def test_build_batch_carries_state_and_operations_in_order() -> None:
    request = entities.build_batch("@counter@k", "5", [signal("add", "1"), call("get")])
    assert request.instanceId == "@counter@k"
    assert request.entityState.value == "5"
    assert [(o.operation, o.input.value) for o in request.operations] == [("add", "1"),
                                                                          ("get", "")]
    assert not entities.build_batch("@counter@k", None, []).HasField("entityState")


def test_apply_batch_answers_callers_only() -> None:
    failed = pb.OperationResult()
    failed.failure.failureDetails.errorMessage = "boom"
    result = pb.EntityBatchResult(results=[success("6"), success("6"), failed])
    result.entityState.value = "6"
    outcome = entities.apply_batch([signal("add"), call("get", request_id="a"),
                                    call("fail", request_id="b")], result, NOW, ids())
    assert outcome.state == "6"
    replies = [o for o in outcome.outbox if isinstance(o, entities.SendToInstance)]
    assert [r.instance_id for r in replies] == ["orch", "orch"]
    assert replies[0].event.entityOperationCompleted.requestId == "a"
    assert replies[0].event.entityOperationCompleted.output.value == "6"
    assert replies[1].event.entityOperationFailed.failureDetails.errorMessage == "boom"


def test_apply_batch_without_state_deletes_it_and_checks_result_count() -> None:
    outcome = entities.apply_batch([signal("delete")],
                                   pb.EntityBatchResult(results=[success(None)]), NOW, ids())
    assert outcome.state is None
    with pytest.raises(InvalidArgumentError):
        entities.apply_batch([signal("a"), signal("b")],
                             pb.EntityBatchResult(results=[success(None)]), NOW, ids())


def test_apply_batch_actions_become_messages() -> None:
    result = pb.EntityBatchResult(results=[success(None)])
    sig = result.actions.add(id=0).sendSignal
    sig.instanceId, sig.name = "@other@x", "ping"
    sig.scheduledTime.FromMilliseconds(NOW + 5000)
    start = result.actions.add(id=1).startNewOrchestration
    start.instanceId, start.name = "spawned", "echo"
    start.input.value = '"hi"'
    outcome = entities.apply_batch([signal("go")], result, NOW, ids())
    msg, started = outcome.outbox
    assert isinstance(msg, entities.MessageEntity)
    assert (msg.entity_id, msg.due_ms) == ("@other@x", NOW + 5000)
    assert msg.event.entityOperationSignaled.operation == "ping"
    assert isinstance(started, entities.StartOrchestration)
    assert started.instance_id == "spawned"
    assert started.started.executionStarted.name == "echo"
    assert started.started.executionStarted.input.value == '"hi"'


def test_orchestration_call_records_event_and_fills_in_the_caller() -> None:
    started = h.execution_started(name="o", instance_id="orch", execution_id="e1",
                                  input=None, version=None, now_ms=NOW)
    action = pb.OrchestratorAction(id=3)
    called = action.sendEntityMessage.entityOperationCalled
    called.requestId, called.operation = "req", "get"
    called.targetInstanceId.value = "@counter@k"
    msg = entities.orchestration_message(action, "orch", started, NOW)
    assert msg.entity_id == "@counter@k" and msg.due_ms == NOW
    assert msg.event.eventId == 3
    assert msg.event.entityOperationCalled.parentInstanceId.value == "orch"
    assert msg.event.entityOperationCalled.parentExecutionId.value == "e1"


def test_orchestration_lock_request_goes_to_the_first_entity() -> None:
    started = h.execution_started(name="o", instance_id="orch", execution_id="e1",
                                  input=None, version=None, now_ms=NOW)
    action = pb.OrchestratorAction(id=0)
    action.sendEntityMessage.entityLockRequested.CopyFrom(
        lock_request("cs", ["@a@1", "@b@2"]).entityLockRequested)
    assert entities.orchestration_message(action, "orch", started, NOW).entity_id == "@a@1"
    with pytest.raises(InvalidArgumentError):
        entities.orchestration_message(pb.OrchestratorAction(id=1, sendEntityMessage=(
            pb.SendEntityMessageAction())), "orch", started, NOW)


def test_plan_unlocked_runs_operations_up_to_a_lock_request() -> None:
    queue = [signal("a"), call("b"), lock_request("cs", ["@counter@k"]), signal("c")]
    assert entity_locks.plan(queue, None) == entity_locks.Plan(batch=(0, 1))
    assert entity_locks.plan(queue[2:], None) == entity_locks.Plan(control=0)
    assert entity_locks.plan([], None) == entity_locks.Plan()


def test_plan_locked_runs_only_the_owner_and_unlocks() -> None:
    lock = Lock("cs", "orch")
    queue = [signal("other"), call("x", parent="someone"), call("mine"), unlock("cs")]
    assert entity_locks.plan(queue, lock) == entity_locks.Plan(batch=(2,))
    assert entity_locks.plan([queue[0], queue[3]], lock) == entity_locks.Plan(control=1)
    waiting = [lock_request("cs2", ["@counter@k"], owner="o2")]
    assert entity_locks.plan(waiting, lock) == entity_locks.Plan()


def test_lock_request_forwards_then_grants() -> None:
    first = entity_locks.apply_control(lock_request("cs", ["@a@1", "@b@2"]), None, NOW)
    assert first.lock == Lock("cs", "orch")
    (forward,) = first.outbox
    assert isinstance(forward, entities.MessageEntity) and forward.entity_id == "@b@2"
    assert forward.event.entityLockRequested.position == 1
    last = entity_locks.apply_control(forward.event, None, NOW)
    (granted,) = last.outbox
    assert isinstance(granted, entities.SendToInstance) and granted.instance_id == "orch"
    assert granted.event.entityLockGranted.criticalSectionId == "cs"


def test_unlock_releases_only_its_own_critical_section() -> None:
    lock = Lock("cs", "orch")
    assert entity_locks.apply_control(unlock("cs"), lock, NOW).lock is None
    assert entity_locks.apply_control(unlock("old"), lock, NOW).lock == lock
