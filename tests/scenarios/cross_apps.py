"""Cross-dialect helper apps. Run with a Dapr SDK venv (``dapr ...``) or the Microsoft
durabletask venv (``ms ...``); each prints one JSON line.

  dapr|ms run ID          start workflow "shared" under ID with this SDK's worker; wait
  dapr|ms status ID       the instance's status as this SDK's client sees it
  ms pending ID           start "shared" under ID with NO worker; report status after 2 s
  dapr purge ID           purge through the Dapr client, then report whether it exists
  dapr serve -            run a Dapr worker for "shared" until killed
"""

from __future__ import annotations

import json
import os
import sys
import time

ADDR = os.environ["SIDECAR"]
HOST, PORT = ADDR.rsplit(":", 1)


def dapr(cmd: str, instance_id: str) -> object:
    from dapr.ext import workflow as wf

    runtime = wf.WorkflowRuntime(host=HOST, port=PORT)

    @runtime.workflow(name="shared")
    def shared(ctx: wf.DaprWorkflowContext, _: object):  # type: ignore[no-untyped-def]
        value = yield ctx.call_activity(greet, input="dapr")
        return value

    @runtime.activity(name="greet")
    def greet(ctx: wf.WorkflowActivityContext, who: str) -> str:
        return f"hello from {who}"

    client = wf.DaprWorkflowClient(host=HOST, port=PORT)
    if cmd == "serve":  # a Dapr worker that knows "shared", until killed
        runtime.start()
        print("SERVING", flush=True)
        while True:
            time.sleep(3600)
    if cmd == "run":
        runtime.start()
        client.schedule_new_workflow(shared, instance_id=instance_id)
        state = client.wait_for_workflow_completion(instance_id, timeout_in_seconds=60)
        runtime.shutdown()
        return [state.runtime_status.name, json.loads(state.serialized_output)]
    if cmd == "status":
        state = client.get_workflow_state(instance_id)
        return state.runtime_status.name if state else None
    if cmd == "purge":
        client.purge_workflow(instance_id)
        return client.get_workflow_state(instance_id) is not None
    raise SystemExit(f"unknown command {cmd}")


def ms(cmd: str, instance_id: str) -> object:
    from durabletask import client, task, worker

    def shared(ctx: task.OrchestrationContext, _: object):  # type: ignore[no-untyped-def]
        value = yield ctx.call_activity(greet, input="microsoft")
        return value

    def greet(ctx: task.ActivityContext, who: str) -> str:
        return f"hello from {who}"

    c = client.TaskHubGrpcClient(host_address=ADDR)
    if cmd == "pending":
        c.schedule_new_orchestration(shared, instance_id=instance_id)
        time.sleep(2)
        return c.get_orchestration_state(instance_id).runtime_status.name
    if cmd == "run":
        with worker.TaskHubGrpcWorker(host_address=ADDR) as w:
            w.add_orchestrator(shared)
            w.add_activity(greet)
            w.start()
            if c.get_orchestration_state(instance_id) is None:
                c.schedule_new_orchestration(shared, instance_id=instance_id)
            state = c.wait_for_orchestration_completion(instance_id, timeout=60)
        return [state.runtime_status.name, json.loads(state.serialized_output)]
    if cmd == "status":
        state = c.get_orchestration_state(instance_id)
        return state.runtime_status.name if state else None
    if cmd == "query":
        return sorted(s.instance_id for s in c.get_all_orchestration_states())
    raise SystemExit(f"unknown command {cmd}")


if __name__ == "__main__":
    sdk, cmd, instance_id = sys.argv[1], sys.argv[2], sys.argv[3]
    print(json.dumps((dapr if sdk == "dapr" else ms)(cmd, instance_id)), flush=True)
