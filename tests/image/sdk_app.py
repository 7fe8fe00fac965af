"""Workflow apps the image tests run against a container, each with a real SDK from its
venv (tests/sdk_envs.py). Each command prints one JSON line last.

  ms run               Microsoft durabletask worker + client: five three-step chains, a
                       fan-out of ten, and an "approval" left waiting for its event
  ms serve             a connected Microsoft worker, until killed (prints SERVING)
  ms resume IDS...     after a restart: the statuses and outputs of IDS, then approves
                       the waiting instance and waits for it to finish
  dapr run ID          Dapr SDK worker + client: one chain through the Dapr listener

SIDECAR_MS / SIDECAR_DAPR hold host:port; API_TOKEN, if set, is sent as both
``authorization: Bearer`` and ``dapr-api-token`` (the Dapr SDK reads DAPR_API_TOKEN).
"""

from __future__ import annotations

import json
import os
import sys
import time
from typing import Any

APPROVAL_ID = "approval-1"
DEADLINE = 60.0


def _metadata() -> list[tuple[str, str]] | None:
    token = os.environ.get("API_TOKEN")
    return [("authorization", f"Bearer {token}"), ("dapr-api-token", token)] if token else None


def ms(cmd: str, args: list[str]) -> object:
    from durabletask import client, task, worker

    addr = os.environ["SIDECAR_MS"]

    def step(ctx: task.ActivityContext, value: str) -> str:
        return value + "+"

    def chain(ctx: task.OrchestrationContext, value: str):  # type: ignore[no-untyped-def]
        for _ in range(3):
            value = yield ctx.call_activity(step, input=value)
        return value

    def fan_out(ctx: task.OrchestrationContext, n: int):  # type: ignore[no-untyped-def]
        results = yield task.when_all([ctx.call_activity(step, input=str(i)) for i in range(n)])
        return results

    def approval(ctx: task.OrchestrationContext, _: Any):  # type: ignore[no-untyped-def]
        ctx.set_custom_status("waiting")
        decision = yield ctx.wait_for_external_event("approve")
        done = yield ctx.call_activity(step, input=decision)
        return done

    c = client.TaskHubGrpcClient(host_address=addr, metadata=_metadata())
    w = worker.TaskHubGrpcWorker(host_address=addr, metadata=_metadata())
    for fn in (chain, fan_out, approval):
        w.add_orchestrator(fn)
    w.add_activity(step)

    def outcome(instance_id: str) -> list[Any] | None:
        state = c.get_orchestration_state(instance_id)
        if state is None:
            return None
        output = json.loads(state.serialized_output) if state.serialized_output else None
        return [state.runtime_status.name, output]

    with w:
        w.start()
        if cmd == "serve":
            print("SERVING", flush=True)
            while True:
                time.sleep(3600)
        if cmd == "run":
            ids = [c.schedule_new_orchestration(chain, input=f"c{i}", instance_id=f"chain-{i}")
                   for i in range(5)]
            ids.append(c.schedule_new_orchestration(fan_out, input=10, instance_id="fan-out"))
            c.schedule_new_orchestration(approval, instance_id=APPROVAL_ID)
            for instance_id in ids:
                c.wait_for_orchestration_completion(instance_id, timeout=int(DEADLINE))
            deadline = time.monotonic() + DEADLINE
            while True:  # the approval's first turn has run once its custom status is set
                state = c.get_orchestration_state(APPROVAL_ID)
                if state is not None and state.serialized_custom_status == '"waiting"':
                    break
                if time.monotonic() > deadline:
                    raise SystemExit(f"approval never waited: {state}")
                time.sleep(0.05)
            return {i: outcome(i) for i in [*ids, APPROVAL_ID]}
        if cmd == "resume":
            before = {i: outcome(i) for i in args}
            c.raise_orchestration_event(APPROVAL_ID, "approve", data="yes")
            c.wait_for_orchestration_completion(APPROVAL_ID, timeout=int(DEADLINE))
            return {"before": before, "approval": outcome(APPROVAL_ID)}
    raise SystemExit(f"unknown command {cmd}")


def dapr(cmd: str, args: list[str]) -> object:
    from dapr.ext import workflow as wf

    host, port = os.environ["SIDECAR_DAPR"].rsplit(":", 1)
    runtime = wf.WorkflowRuntime(host=host, port=port)

    @runtime.activity(name="greet")
    def greet(ctx: wf.WorkflowActivityContext, who: str) -> str:
        return f"hello {who}"

    @runtime.workflow(name="greeting")
    def greeting(ctx: wf.DaprWorkflowContext, who: str):  # type: ignore[no-untyped-def]
        first = yield ctx.call_activity(greet, input=who)
        second = yield ctx.call_activity(greet, input=first)
        return second

    if cmd != "run":
        raise SystemExit(f"unknown command {cmd}")
    client = wf.DaprWorkflowClient(host=host, port=port)
    runtime.start()
    try:
        client.schedule_new_workflow(greeting, input="dapr", instance_id=args[0])
        state = client.wait_for_workflow_completion(args[0], timeout_in_seconds=int(DEADLINE))
    finally:
        runtime.shutdown()
    assert state is not None
    return [state.runtime_status.name, json.loads(state.serialized_output)]


if __name__ == "__main__":
    sdk, command, rest = sys.argv[1], sys.argv[2], sys.argv[3:]
    print(json.dumps((ms if sdk == "ms" else dapr)(command, rest)), flush=True)
