"""The chaos harness's worker: a plain Dapr SDK app (runs in the ``dapr-ext-118`` venv).

  chaos_app.py        run the worker until killed

Every activity execution appends ``<workflow id> <input as JSON>`` to $ACTIVITY_LOG before
it returns, with one ``write`` on an O_APPEND descriptor so concurrent lines never mix. The
harness compares that log with what each workflow kind must run (``workload.py``): every
expected line at least once, re-runs bounded by what was in flight at the kills.

The workflow bodies here and the expectations in ``workload.py`` describe the same
behaviour from two sides; change them together.
"""

from __future__ import annotations

import json
import os
import time
from datetime import timedelta

from dapr.ext import workflow as wf

HOST, PORT = os.environ["DAPR_GRPC_ENDPOINT"].rsplit(":", 1)
LOG_FD = os.open(os.environ["ACTIVITY_LOG"], os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
runtime = wf.WorkflowRuntime(host=HOST, port=PORT)


@runtime.activity(name="inc")
def inc(ctx: wf.WorkflowActivityContext, value: int) -> int:
    time.sleep(0.01)  # long enough for a kill to land while activities are in flight
    os.write(LOG_FD, f"{ctx.workflow_id} {json.dumps(value)}\n".encode())
    return value + 1


@runtime.workflow(name="chain")
def chain(ctx: wf.DaprWorkflowContext, value: int):  # type: ignore[no-untyped-def]
    for _ in range(3):
        value = yield ctx.call_activity(inc, input=value)
    return value


@runtime.workflow(name="fanout")
def fanout(ctx: wf.DaprWorkflowContext, value: int):  # type: ignore[no-untyped-def]
    results = yield wf.when_all([ctx.call_activity(inc, input=value + i) for i in range(5)])
    return sum(results)


@runtime.workflow(name="timer")
def timer(ctx: wf.DaprWorkflowContext, value: int):  # type: ignore[no-untyped-def]
    yield ctx.create_timer(timedelta(seconds=1 + value % 3))
    result = yield ctx.call_activity(inc, input=value)
    return result


@runtime.workflow(name="parent")
def parent(ctx: wf.DaprWorkflowContext, value: int):  # type: ignore[no-untyped-def]
    result = yield ctx.call_child_workflow(chain, input=value,
                                           instance_id=f"{ctx.instance_id}-child")
    return result + 1


@runtime.workflow(name="event")
def event(ctx: wf.DaprWorkflowContext, value: int):  # type: ignore[no-untyped-def]
    payload = yield ctx.wait_for_external_event("go")
    return payload + value


@runtime.workflow(name="relay")
def relay(ctx: wf.DaprWorkflowContext, state: list[int]):  # type: ignore[no-untyped-def]
    value, generation = state
    if generation == 3:
        return value
    value = yield ctx.call_activity(inc, input=value)
    ctx.continue_as_new([value, generation + 1])
    return None


@runtime.workflow(name="hold")
def hold(ctx: wf.DaprWorkflowContext, value: int):  # type: ignore[no-untyped-def]
    # Waits for an event the harness raises only while the instance is suspended.
    payload = yield ctx.wait_for_external_event("go")
    result = yield ctx.call_activity(inc, input=payload + value)
    return result


@runtime.workflow(name="forever")
def forever(ctx: wf.DaprWorkflowContext, value: int):  # type: ignore[no-untyped-def]
    yield ctx.wait_for_external_event("never")
    return value


def main() -> None:
    runtime.start()
    print("WORKING", flush=True)
    while True:
        time.sleep(3600)


if __name__ == "__main__":
    main()
