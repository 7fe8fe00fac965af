"""Runs in the Dapr SDK venv (dapr-ext-workflow 1.18.3): a worker and a client driving a
known workload for the metrics test, then one JSON line of what it did.

``order`` calls reserve, charge, ship; ``charge`` raises for a declined card, which fails
the workflow. ``approval`` waits for an event and is terminated.
"""

from __future__ import annotations

import json
import os
import sys

from dapr.ext import workflow as wf

HOST, PORT = os.environ["DAPR_GRPC_ENDPOINT"].rsplit(":", 1)
runtime = wf.WorkflowRuntime(host=HOST, port=PORT)


@runtime.activity(name="reserve")
def reserve(ctx: wf.WorkflowActivityContext, order: str) -> str:
    return f"reserved {order}"


@runtime.activity(name="charge")
def charge(ctx: wf.WorkflowActivityContext, order: str) -> str:
    if order.startswith("declined"):
        raise ValueError(f"card declined for {order}")
    return f"charged {order}"


@runtime.activity(name="ship")
def ship(ctx: wf.WorkflowActivityContext, order: str) -> str:
    return f"shipped {order}"


@runtime.workflow(name="order")
def order(ctx: wf.DaprWorkflowContext, name: str):  # type: ignore[no-untyped-def]
    yield ctx.call_activity(reserve, input=name)
    yield ctx.call_activity(charge, input=name)
    return (yield ctx.call_activity(ship, input=name))


@runtime.workflow(name="approval")
def approval(ctx: wf.DaprWorkflowContext, _: object):  # type: ignore[no-untyped-def]
    return (yield ctx.wait_for_external_event("approve"))


def main() -> None:
    ok, declined = int(sys.argv[1]), int(sys.argv[2])
    runtime.start()
    client = wf.DaprWorkflowClient(host=HOST, port=PORT)
    ids = [client.schedule_new_workflow(order, input=f"order-{i}", instance_id=f"ok-{i}")
           for i in range(ok)]
    ids += [client.schedule_new_workflow(order, input=f"declined-{i}", instance_id=f"bad-{i}")
            for i in range(declined)]
    waiting = client.schedule_new_workflow(approval, instance_id="approval")
    statuses = {}
    for instance_id in ids:
        state = client.wait_for_workflow_completion(instance_id, timeout_in_seconds=60)
        assert state is not None
        statuses[instance_id] = state.runtime_status.name
    client.wait_for_workflow_start(waiting, timeout_in_seconds=60)
    client.terminate_workflow(waiting)
    state = client.wait_for_workflow_completion(waiting, timeout_in_seconds=60)
    assert state is not None
    statuses[waiting] = state.runtime_status.name
    for instance_id in statuses:
        client.get_workflow_state(instance_id)
    runtime.shutdown()
    print(json.dumps(statuses), flush=True)


if __name__ == "__main__":
    main()
