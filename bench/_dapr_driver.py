"""Drives wfsidecar's Dapr listener with the Dapr SDK (``dapr-ext-workflow`` 1.18): its
worker, and its async workflow client.

Runs in the ``dapr-ext-118`` virtualenv (bench/compare.py starts it):
``_dapr_driver.py HOST:PORT seq3 COUNT CONCURRENCY SIDECAR_PID WARMUP``; measures and prints
what bench/_dt_driver.py does, for seq3 only (three sequential activities).
"""

from __future__ import annotations

import asyncio
import json
import logging
import sys

from _probe import closed_loop
from dapr.ext import workflow as wf
from dapr.ext.workflow.aio import DaprWorkflowClient

HOST, PORT = sys.argv[1].rsplit(":", 1)
runtime = wf.WorkflowRuntime(host=HOST, port=PORT)


@runtime.activity(name="step")
def step(ctx: wf.WorkflowActivityContext, x: int) -> int:
    return x + 1


@runtime.workflow(name="seq3")
def seq3(ctx: wf.DaprWorkflowContext, x: int):  # type: ignore[no-untyped-def]
    a = yield ctx.call_activity(step, input=x)
    b = yield ctx.call_activity(step, input=a)
    return (yield ctx.call_activity(step, input=b))


async def drive(count: int, concurrency: int, pid: int, warmup: int) -> dict[str, float]:
    tasks = DaprWorkflowClient(host=HOST, port=PORT)

    async def run(i: int, counted: bool) -> None:
        instance_id = await tasks.schedule_new_workflow(seq3, input=i)
        state = await tasks.wait_for_workflow_completion(instance_id, timeout_in_seconds=300)
        if state is None or state.runtime_status.name != "COMPLETED":
            raise SystemExit(f"{instance_id} did not complete: {state}")

    return await closed_loop(run, count, concurrency, pid, warmup)


def main() -> None:
    logging.disable(logging.CRITICAL)
    if sys.argv[2] != "seq3":
        raise SystemExit("the Dapr driver runs seq3 only")
    count, concurrency, pid, warmup = (int(a) for a in sys.argv[3:7])
    runtime.start()
    try:
        result = asyncio.run(drive(count, concurrency, pid, warmup))
    finally:
        runtime.shutdown()
    print(json.dumps(result), flush=True)


if __name__ == "__main__":
    main()
