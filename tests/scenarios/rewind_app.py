"""Rewind of a parent whose failed child was purged, with Microsoft's ``durabletask`` 1.12.

Run in the ``durabletask-112`` venv with ``SIDECAR=host:port`` (the daemon's Microsoft
listener); prints one JSON line with what the client saw at each step. The child's activity
fails on its first run only, so the parent fails with it; the child is purged; the parent is
rewound and must complete, with the child created again from its original creation.
"""

from __future__ import annotations

import json
import os
import sys
from typing import Any

from durabletask import client, task, worker

ADDR = os.environ["SIDECAR"]
WAIT = 30
_failures_left = {"count": 1}


def flaky(ctx: task.ActivityContext, who: str) -> str:
    if _failures_left["count"]:
        _failures_left["count"] -= 1
        raise ValueError(f"{who} failed once")
    return f"{who} ok"


def child(ctx: task.OrchestrationContext, who: str) -> Any:
    return (yield ctx.call_activity(flaky, input=who))


def parent(ctx: task.OrchestrationContext, _: Any) -> Any:
    got = yield ctx.call_sub_orchestrator(child, input="kid",
                                          instance_id=f"{ctx.instance_id}-child")
    return {"child said": got, "parent": ctx.instance_id}


def summary(state: client.OrchestrationState | None) -> Any:
    if state is None:
        return None
    return {"name": state.name, "status": state.runtime_status.name,
            "input": state.serialized_input, "output": state.serialized_output}


def main(instance_id: str) -> dict[str, Any]:
    c = client.TaskHubGrpcClient(host_address=ADDR)
    child_id = f"{instance_id}-child"
    out: dict[str, Any] = {}
    with worker.TaskHubGrpcWorker(host_address=ADDR) as w:
        w.add_orchestrator(parent)
        w.add_orchestrator(child)
        w.add_activity(flaky)
        w.start()
        c.schedule_new_orchestration(parent, instance_id=instance_id)
        out["failed"] = summary(c.wait_for_orchestration_completion(instance_id, timeout=WAIT))
        out["child failed"] = summary(c.wait_for_orchestration_completion(child_id,
                                                                          timeout=WAIT))
        out["purged"] = c.purge_orchestration(child_id, recursive=False).deleted_instance_count
        out["child after purge"] = summary(c.get_orchestration_state(child_id))
        c.rewind_orchestration(instance_id, reason="the child's failure is fixed")
        try:
            done = c.wait_for_orchestration_completion(instance_id, timeout=WAIT)
        except TimeoutError:
            done = None
            out["parent stuck as"] = summary(c.get_orchestration_state(instance_id))
        out["done"] = summary(done)
        out["child"] = summary(c.get_orchestration_state(child_id))
    return out


if __name__ == "__main__":
    print(json.dumps(main(sys.argv[1])), flush=True)
