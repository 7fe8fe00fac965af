"""A real Dapr workflow app (dapr-ext-workflow 1.18 or the dapr 1.19 wheel), run by tests.

Runs inside an SDK virtualenv, never imported by the project: it registers workflows and
activities with ``WorkflowRuntime``, drives them with ``DaprWorkflowClient`` against the
daemon at ``$DAPR_GRPC_ENDPOINT``, and prints one JSON object of what it observed. The
pytest side asserts on that object, so this script only observes.
"""

from __future__ import annotations

import json
import os
import sys
import time
from datetime import timedelta

import grpc
from dapr.ext import workflow as wf
from dapr.ext.workflow._durabletask.internal import orchestrator_service_pb2 as pb
from dapr.ext.workflow._durabletask.internal import orchestrator_service_pb2_grpc as stubs

ENDPOINT = os.environ["DAPR_GRPC_ENDPOINT"]
HOST, PORT = ENDPOINT.rsplit(":", 1)
runtime = wf.WorkflowRuntime(host=HOST, port=PORT)
CALLS: dict[str, int] = {}


@runtime.activity(name="add_one")
def add_one(ctx: wf.WorkflowActivityContext, value: int) -> int:
    CALLS["add_one"] = CALLS.get("add_one", 0) + 1
    return value + 1


@runtime.activity(name="square")
def square(ctx: wf.WorkflowActivityContext, value: int) -> int:
    return value * value


@runtime.workflow(name="chain")
def chain(ctx: wf.DaprWorkflowContext, value: int):  # type: ignore[no-untyped-def]
    for _ in range(5):
        value = yield ctx.call_activity(add_one, input=value)
    return value


@runtime.workflow(name="fan_out")
def fan_out(ctx: wf.DaprWorkflowContext, count: int):  # type: ignore[no-untyped-def]
    results = yield wf.when_all([ctx.call_activity(square, input=i) for i in range(count)])
    return sum(results)


@runtime.workflow(name="child")
def child(ctx: wf.DaprWorkflowContext, value: int):  # type: ignore[no-untyped-def]
    doubled = yield ctx.call_activity(add_one, input=value)
    return doubled * 2


@runtime.workflow(name="parent")
def parent(ctx: wf.DaprWorkflowContext, count: int):  # type: ignore[no-untyped-def]
    tasks = [ctx.call_child_workflow(child, input=i, instance_id=f"{ctx.instance_id}-c{i}")
             for i in range(count)]
    results = yield wf.when_all(tasks)
    return results


@runtime.workflow(name="timer")
def timer(ctx: wf.DaprWorkflowContext, seconds: float):  # type: ignore[no-untyped-def]
    start = ctx.current_utc_datetime
    yield ctx.create_timer(timedelta(seconds=seconds))
    return (ctx.current_utc_datetime - start).total_seconds()


@runtime.workflow(name="approval")
def approval(ctx: wf.DaprWorkflowContext, timeout: float):  # type: ignore[no-untyped-def]
    event = ctx.wait_for_external_event("approve")
    deadline = ctx.create_timer(timedelta(seconds=timeout))
    winner = yield wf.when_any([event, deadline])
    if winner == deadline:
        return "timed out"
    return f"approved by {event.get_result()}"


@runtime.workflow(name="counter")
def counter(ctx: wf.DaprWorkflowContext, state: dict):  # type: ignore[no-untyped-def]
    value = yield ctx.wait_for_external_event("inc")
    state = {"total": state["total"] + value, "round": state["round"] + 1}
    ctx.set_custom_status(f"round {state['round']}")
    if state["round"] < 3:
        ctx.continue_as_new(state, save_events=True)
        return None
    return state


@runtime.workflow(name="waiter")
def waiter(ctx: wf.DaprWorkflowContext, _: object):  # type: ignore[no-untyped-def]
    ctx.set_custom_status("waiting")
    value = yield ctx.wait_for_external_event("go")
    return value


@runtime.workflow(name="sleepy_parent")
def sleepy_parent(ctx: wf.DaprWorkflowContext, _: object):  # type: ignore[no-untyped-def]
    yield wf.when_all([ctx.call_child_workflow(waiter, instance_id=f"{ctx.instance_id}-k{i}")
                       for i in range(2)])
    return "done"


def observe(client: wf.DaprWorkflowClient, instance_id: str, timeout: int = 60) -> dict:
    state = client.wait_for_workflow_completion(instance_id, timeout_in_seconds=timeout)
    assert state is not None
    return {"status": state.runtime_status.name,
            "output": json.loads(state.serialized_output) if state.serialized_output else None,
            "custom_status": state.serialized_custom_status}


def status_of(client: wf.DaprWorkflowClient, instance_id: str) -> str | None:
    state = client.get_workflow_state(instance_id, fetch_payloads=False)
    return state.runtime_status.name if state else None


def wait_status(client: wf.DaprWorkflowClient, instance_id: str, wanted: str) -> str | None:
    deadline = time.monotonic() + 30
    status = status_of(client, instance_id)
    while status != wanted and time.monotonic() < deadline:
        time.sleep(0.05)
        status = status_of(client, instance_id)
    return status


def wait_history(stub: stubs.TaskHubSidecarServiceStub, instance_id: str, kind: str) -> None:
    deadline = time.monotonic() + 30
    request = pb.GetInstanceHistoryRequest(instanceId=instance_id)
    while kind not in [e.WhichOneof("eventType") for e in stub.GetInstanceHistory(request).events]:
        assert time.monotonic() < deadline, f"no {kind} in the history of {instance_id}"
        time.sleep(0.05)


def main() -> None:  # noqa: PLR0915 - one scenario after another, on purpose
    runtime.start()
    client = wf.DaprWorkflowClient(host=HOST, port=PORT)
    stub = stubs.TaskHubSidecarServiceStub(grpc.insecure_channel(ENDPOINT))
    seen: dict[str, object] = {}
    run = f"r{int(time.time() * 1000)}"

    seen["chain"] = observe(client, client.schedule_new_workflow(
        chain, input=10, instance_id=f"{run}-chain"))
    seen["fan_out"] = observe(client, client.schedule_new_workflow(
        fan_out, input=100, instance_id=f"{run}-fan"))
    seen["children"] = observe(client, client.schedule_new_workflow(
        parent, input=3, instance_id=f"{run}-parent"))
    seen["timer"] = observe(client, client.schedule_new_workflow(
        timer, input=1.5, instance_id=f"{run}-timer"))

    approved = client.schedule_new_workflow(approval, input=30, instance_id=f"{run}-ok")
    client.wait_for_workflow_start(approved, timeout_in_seconds=30)
    client.raise_workflow_event(approved, "approve", data="alice")
    seen["event"] = observe(client, approved)
    seen["event_timeout"] = observe(client, client.schedule_new_workflow(
        approval, input=1, instance_id=f"{run}-late"))

    counted = client.schedule_new_workflow(counter, input={"total": 0, "round": 0},
                                           instance_id=f"{run}-can")
    for value in (1, 2, 3):  # raised before the generations that consume them
        client.raise_workflow_event(counted, "inc", data=value)
    seen["continue_as_new"] = observe(client, counted)

    paused = client.schedule_new_workflow(waiter, instance_id=f"{run}-pause")
    client.wait_for_workflow_start(paused, timeout_in_seconds=30)
    client.pause_workflow(paused)
    seen["suspended_status"] = wait_status(client, paused, "SUSPENDED")
    client.raise_workflow_event(paused, "go", data="resumed")
    # The event is history once the worker's turn for it committed: only then does the
    # status say whether that turn kept the instance suspended.
    wait_history(stub, paused, "eventRaised")
    seen["still_suspended"] = status_of(client, paused)
    client.resume_workflow(paused)
    seen["resumed"] = observe(client, paused)

    tree = client.schedule_new_workflow(sleepy_parent, instance_id=f"{run}-tree")
    for i in range(2):
        wait_status(client, f"{tree}-k{i}", "RUNNING")
    client.terminate_workflow(tree, output="stop", recursive=True)
    seen["terminated"] = observe(client, tree)
    seen["terminated_children"] = [
        observe(client, f"{tree}-k{i}")["status"] for i in range(2)]
    client.purge_workflow(tree, recursive=True)
    seen["purged"] = [status_of(client, i) for i in (tree, f"{tree}-k0", f"{tree}-k1")]

    listed: list[str] = []
    token = None
    while True:
        request = pb.ListInstanceIDsRequest(pageSize=3)
        if token:
            request.continuationToken = token
        page = stub.ListInstanceIDs(request)
        listed.extend(page.instanceIds)
        token = page.continuationToken or None
        if not token:
            break
    seen["listed"] = sorted(i.removeprefix(f"{run}-") for i in listed if i.startswith(run))
    history = stub.GetInstanceHistory(pb.GetInstanceHistoryRequest(instanceId=f"{run}-chain"))
    seen["history_kinds"] = [e.WhichOneof("eventType") for e in history.events]

    scheduled = [e for e in history.events if e.WhichOneof("eventType") == "taskScheduled"]
    rerun = stub.RerunWorkflowFromEvent(pb.RerunWorkflowFromEventRequest(
        sourceInstanceID=f"{run}-chain", eventID=scheduled[2].eventId,
        newInstanceID=f"{run}-rerun", overwriteInput=True, input=_string(100)))
    seen["rerun"] = observe(client, rerun.newInstanceID)
    seen["activity_calls"] = CALLS.get("add_one", 0)
    print(json.dumps(seen), flush=True)
    runtime.shutdown()


def _string(value: object):  # type: ignore[no-untyped-def]
    from google.protobuf import wrappers_pb2

    return wrappers_pb2.StringValue(value=json.dumps(value))


if __name__ == "__main__":
    main()
    sys.exit(0)
