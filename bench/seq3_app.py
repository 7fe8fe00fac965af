"""Runs inside the Dapr SDK venv: a worker plus a client driving N seq3 workflows.

argv: COUNT CONCURRENCY [PREFIX [--together]]. Instance ids are ``PREFIX-<i>`` (default
``seq3``). With ``--together`` it prints ``WARM`` after its warm-up workflow and starts the
load only when a line arrives on stdin, so that several apps (one per daemon,
bench/multinode.py) start at once. The JSON line has the seconds the load took and its wall
start and end times."""

from __future__ import annotations

import json
import os
import sys
import time
from concurrent.futures import ThreadPoolExecutor

from dapr.ext import workflow as wf

HOST, PORT = os.environ["DAPR_GRPC_ENDPOINT"].rsplit(":", 1)
runtime = wf.WorkflowRuntime(host=HOST, port=PORT)


@runtime.activity(name="hello")
def hello(ctx: wf.WorkflowActivityContext, name: str) -> str:
    return f"Hello {name}!"


@runtime.workflow(name="seq3")
def seq3(ctx: wf.DaprWorkflowContext, _: object):  # type: ignore[no-untyped-def]
    results = []
    for city in ("Tokyo", "Seattle", "London"):
        results.append((yield ctx.call_activity(hello, input=city)))
    return results


def main() -> None:
    count, concurrency = int(sys.argv[1]), int(sys.argv[2])
    prefix = sys.argv[3] if len(sys.argv) > 3 else "seq3"
    runtime.start()
    client = wf.DaprWorkflowClient(host=HOST, port=PORT)
    warm = client.schedule_new_workflow(seq3, instance_id=f"{prefix}-warmup")
    client.wait_for_workflow_completion(warm, timeout_in_seconds=60)
    if "--together" in sys.argv[4:]:
        print("WARM", flush=True)
        sys.stdin.readline()

    def one(i: int) -> str:
        instance_id = client.schedule_new_workflow(seq3, instance_id=f"{prefix}-{i}")
        state = client.wait_for_workflow_completion(instance_id, timeout_in_seconds=300)
        assert state is not None
        return state.runtime_status.name

    started, began = time.perf_counter(), time.time()
    with ThreadPoolExecutor(concurrency) as pool:
        statuses = list(pool.map(one, range(count)))
    elapsed = time.perf_counter() - started
    print(json.dumps({"workflows": count, "seconds": elapsed, "started": began,
                      "ended": time.time(), "completed": statuses.count("COMPLETED")}),
          flush=True)
    runtime.shutdown()


if __name__ == "__main__":
    main()
