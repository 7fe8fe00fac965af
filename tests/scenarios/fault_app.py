"""Worker and client for the worker-fault tests (Dapr SDK 1.18 venv).

  fault_app.py work               run a worker until killed; $ROLE names it in $MARKS
  fault_app.py start NAME ID      schedule workflow NAME as instance ID
  fault_app.py await ID...        wait for each, print {id: [status, output]} as JSON
  fault_app.py twice ID1 ID2      schedule two ``hold`` workflows; suspend ID1 twice, raise
                                  its "go", resume it; suspend ID2, raise its "go", resume
                                  it twice (each call is committed when it returns)

A worker with $VICTIM=activity blocks forever inside the ``step`` activity; with
$VICTIM=turn it blocks forever inside the first (non-replay) execution of a ``turn``
workflow's code; ``hang`` blocks every worker forever. Every such moment, and every
activity run, is appended to $MARKS as ``<role> <what> <instance>`` so the test knows
exactly when to kill.
"""

from __future__ import annotations

import json
import os
import resource
import sys
import threading

from _sdk_await import await_all
from dapr.ext import workflow as wf

HOST, PORT = os.environ["DAPR_GRPC_ENDPOINT"].rsplit(":", 1)
ROLE = os.environ.get("ROLE", "worker")
VICTIM = os.environ.get("VICTIM", "")
runtime = wf.WorkflowRuntime(host=HOST, port=PORT)
FOREVER = threading.Event()


def mark(what: str, instance_id: str) -> None:
    with open(os.environ["MARKS"], "a") as marks:
        marks.write(f"{ROLE} {what} {instance_id}\n")


@runtime.activity(name="step")
def step(ctx: wf.WorkflowActivityContext, value: int) -> str:
    mark("step-start", ctx.workflow_id)
    if VICTIM == "activity":
        FOREVER.wait()
    mark("step-done", ctx.workflow_id)
    return f"{ROLE}:{value + 1}"


@runtime.activity(name="hang")
def hang(ctx: wf.WorkflowActivityContext, value: int) -> int:
    mark("hang-start", ctx.workflow_id)
    FOREVER.wait()
    return value


@runtime.workflow(name="once")
def once(ctx: wf.DaprWorkflowContext, value: int):  # type: ignore[no-untyped-def]
    result = yield ctx.call_activity(step, input=value)
    return result


@runtime.workflow(name="hold")
def hold(ctx: wf.DaprWorkflowContext, _: object):  # type: ignore[no-untyped-def]
    value = yield ctx.wait_for_external_event("go")
    result = yield ctx.call_activity(step, input=value)
    return result


@runtime.workflow(name="turn")
def turn(ctx: wf.DaprWorkflowContext, value: int):  # type: ignore[no-untyped-def]
    if not ctx.is_replaying:
        mark("turn", ctx.instance_id)
        if VICTIM == "turn":
            FOREVER.wait()
    return value * 2


@runtime.workflow(name="stuck")
def stuck(ctx: wf.DaprWorkflowContext, value: int):  # type: ignore[no-untyped-def]
    result = yield ctx.call_activity(hang, input=value)
    return result


def main() -> None:
    mode = sys.argv[1]
    if mode == "work":
        if os.environ.get("MEMORY_CAP_MB"):
            # A worker stuck in an endless loop that grows without bound fails with
            # MemoryError at this size instead of eating the machine's memory. DATA, not
            # AS: gRPC's threads reserve over 1 GB of address space they never use.
            cap = int(os.environ["MEMORY_CAP_MB"]) << 20
            resource.setrlimit(resource.RLIMIT_DATA, (cap, cap))
        runtime.start()
        mark("ready", "-")
        FOREVER.wait()
    client = wf.DaprWorkflowClient(host=HOST, port=PORT)
    if mode == "start":
        workflow = {"once": once, "turn": turn, "stuck": stuck}[sys.argv[2]]
        for instance_id in sys.argv[3:]:
            client.schedule_new_workflow(workflow, input=21, instance_id=instance_id)
        print(json.dumps(sys.argv[3:]), flush=True)
    elif mode == "terminate":
        client.terminate_workflow(sys.argv[2])
        print(json.dumps(sys.argv[2]), flush=True)
    elif mode == "twice":
        for n, instance_id in enumerate(sys.argv[2:4]):
            client.schedule_new_workflow(hold, instance_id=instance_id)
            # n == 0: a suspend retried or repeated; n == 1: a resume
            for _ in range(2 - n):
                client.pause_workflow(instance_id)
            client.raise_workflow_event(instance_id, "go", data=21)
            for _ in range(1 + n):
                client.resume_workflow(instance_id)
        print(json.dumps(sys.argv[2:4]), flush=True)
    elif mode == "await":
        print(json.dumps(await_all(client, sys.argv[2:], timeout=60)), flush=True)


if __name__ == "__main__":
    main()
