"""Worker and client for the crash-restart and storage-layout tests (Dapr SDK 1.18 venv).

  restart_app.py work            run the worker until killed; each activity execution
                                 appends "<instance> <value>" to $ACTIVITY_LOG
  restart_app.py start N PREFIX  schedule N "journey" workflows, print their ids
  restart_app.py await IDS...    wait for each, print {id: [status, output]} as JSON
  restart_app.py slow ID         schedule one workflow whose activity takes 4 s
"""

from __future__ import annotations

import json
import os
import sys
import time
from datetime import timedelta

from _sdk_await import await_all
from dapr.ext import workflow as wf

ENDPOINT = os.environ["DAPR_GRPC_ENDPOINT"]
HOST, PORT = ENDPOINT.rsplit(":", 1)
runtime = wf.WorkflowRuntime(host=HOST, port=PORT)


@runtime.activity(name="step")
def step(ctx: wf.WorkflowActivityContext, value: int) -> int:
    time.sleep(0.2)
    with open(os.environ["ACTIVITY_LOG"], "a") as log:
        log.write(f"{ctx.workflow_id} {value}\n")
    return value + 1


@runtime.activity(name="slow_step")
def slow_step(ctx: wf.WorkflowActivityContext, value: int) -> int:
    time.sleep(4)
    return value * 10


@runtime.workflow(name="journey")
def journey(ctx: wf.DaprWorkflowContext, value: int):  # type: ignore[no-untyped-def]
    value = yield ctx.call_activity(step, input=value)
    value = yield ctx.call_activity(step, input=value)
    yield ctx.create_timer(timedelta(seconds=2))
    values = yield wf.when_all([ctx.call_activity(step, input=value + i) for i in range(3)])
    value = yield ctx.call_activity(step, input=sum(values))
    return value


@runtime.workflow(name="slow")
def slow(ctx: wf.DaprWorkflowContext, value: int):  # type: ignore[no-untyped-def]
    ctx.set_custom_status("working")
    result = yield ctx.call_activity(slow_step, input=value)
    return result


def main() -> None:
    mode = sys.argv[1]
    if mode == "work":
        runtime.start()
        print("WORKING", flush=True)
        while True:
            time.sleep(3600)
    client = wf.DaprWorkflowClient(host=HOST, port=PORT)
    if mode == "start":
        count, prefix = int(sys.argv[2]), sys.argv[3]
        ids = [client.schedule_new_workflow(journey, input=i * 100, instance_id=f"{prefix}-{i}")
               for i in range(count)]
        print(json.dumps(ids), flush=True)
    elif mode == "slow":
        print(client.schedule_new_workflow(slow, input=7, instance_id=sys.argv[2]), flush=True)
    elif mode == "await":
        print(json.dumps(await_all(client, sys.argv[2:], timeout=120)), flush=True)


if __name__ == "__main__":
    main()
