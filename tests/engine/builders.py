"""Hand-built worker responses and a tiny turn driver for the golden-history tests.

The actions mirror what the Dapr Python SDK (durabletask-dapr 0.17.4) sends, including the
router it stamps on the action and inside the payload.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field

from wfsidecar import engine
from wfsidecar._proto.internal import orchestrator_service_pb2 as pb

T0 = 1_700_000_000_000  # epoch ms; every scenario starts here
APP = "app-a"


def started(instance_id: str = "wf", *, name: str = "Flow", input: str | None = '"in"',
            execution_id: str = "exec-1", now_ms: int = T0,
            parent: pb.ParentInstanceInfo | None = None) -> pb.HistoryEvent:
    return engine.execution_started(name=name, instance_id=instance_id,
                                    execution_id=execution_id, input=input, version=None,
                                    now_ms=now_ms, parent=parent, app_id=APP)


def router() -> pb.TaskRouter:
    return pb.TaskRouter(sourceAppID=APP)


def schedule(id: int, name: str, input: str | None = None,
             task_execution_id: str = "") -> pb.OrchestratorAction:
    action = pb.OrchestratorAction(id=id, router=router())
    action.scheduleTask.name = name
    action.scheduleTask.router.CopyFrom(router())
    action.scheduleTask.taskExecutionId = task_execution_id
    if input is not None:
        action.scheduleTask.input.value = input
    return action


def timer(id: int, fire_at_ms: int, name: str = "") -> pb.OrchestratorAction:
    action = pb.OrchestratorAction(id=id)
    action.createTimer.fireAt.FromMilliseconds(fire_at_ms)
    action.createTimer.name = name
    return action


def child(id: int, name: str, instance_id: str = "",
          input: str | None = None) -> pb.OrchestratorAction:
    action = pb.OrchestratorAction(id=id, router=router())
    action.createSubOrchestration.name = name
    action.createSubOrchestration.instanceId = instance_id
    action.createSubOrchestration.router.CopyFrom(router())
    if input is not None:
        action.createSubOrchestration.input.value = input
    return action


def send(id: int, target: str, name: str, data: str | None = None) -> pb.OrchestratorAction:
    action = pb.OrchestratorAction(id=id)
    action.sendEvent.instance.instanceId = target
    action.sendEvent.name = name
    if data is not None:
        action.sendEvent.data.value = data
    return action


def terminate(id: int, target: str, reason: str | None = None,
              recurse: bool = False) -> pb.OrchestratorAction:
    action = pb.OrchestratorAction(id=id)
    action.terminateOrchestration.instanceId = target
    action.terminateOrchestration.recurse = recurse
    if reason is not None:
        action.terminateOrchestration.reason.value = reason
    return action


def complete(id: int, status: int = pb.ORCHESTRATION_STATUS_COMPLETED,
             result: str | None = None, failure: pb.TaskFailureDetails | None = None,
             carryover: Sequence[pb.HistoryEvent] = (),
             new_version: str | None = None) -> pb.OrchestratorAction:
    action = pb.OrchestratorAction(id=id)
    co = action.completeOrchestration
    co.orchestrationStatus = status  # type: ignore[assignment]
    if result is not None:
        co.result.value = result
    if failure is not None:
        co.failureDetails.CopyFrom(failure)
    if new_version is not None:
        co.newVersion.value = new_version
    co.carryoverEvents.extend(carryover)
    return action


def version_not_available(id: int) -> pb.OrchestratorAction:
    action = pb.OrchestratorAction(id=id)
    action.orchestratorVersionNotAvailable.SetInParent()
    return action


def response(*actions: pb.OrchestratorAction, instance_id: str = "wf",
             custom_status: str | None = None) -> pb.OrchestratorResponse:
    resp = pb.OrchestratorResponse(instanceId=instance_id, actions=actions)
    if custom_status is not None:
        resp.customStatus.value = custom_status
    return resp


def kinds(events: Sequence[pb.HistoryEvent]) -> list[str | None]:
    return [e.WhichOneof("eventType") for e in events]


def ids() -> Iterator[str]:
    n = 1
    while True:
        n += 1
        yield f"exec-{n}"


@dataclass
class Instance:
    """A workflow instance driven turn by turn, the way the actor drives the engine."""

    instance_id: str = "wf"
    history: list[pb.HistoryEvent] = field(default_factory=list)
    inbox: list[pb.HistoryEvent] = field(default_factory=list)
    custom_status: str | None = None
    execution_ids: Iterator[str] = field(default_factory=ids)

    def turn(self, now_ms: int, *actions: pb.OrchestratorAction,
             custom_status: str | None = None,
             version: pb.OrchestrationVersion | None = None,
             applied_ms: int | None = None) -> engine.TurnResult:
        """Dispatch a turn at ``now_ms`` and apply ``actions`` as its answer, received at
        ``applied_ms`` (default: at once)."""
        turn = engine.begin_turn(self.history, self.inbox, now_ms)
        assert turn is not None, "expected a turn to dispatch"
        resp = response(*actions, instance_id=self.instance_id, custom_status=custom_status)
        if version is not None:
            resp.version.CopyFrom(version)
        result = engine.apply_response(self.instance_id, turn, resp,
                                       now_ms if applied_ms is None else applied_ms,
                                       new_execution_id=lambda: next(self.execution_ids))
        self.inbox = list(result.next_inbox)
        self.history = list(result.history)
        self.custom_status = result.custom_status
        return result


def view_of(history: Sequence[pb.HistoryEvent], instance_id: str = "wf",
            **kw: int) -> engine.InstanceView:
    view = engine.project(instance_id, history, **kw)
    assert view is not None
    return view
