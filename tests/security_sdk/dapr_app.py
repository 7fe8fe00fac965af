"""A Dapr SDK app (dapr-ext-workflow 1.18.3): worker and client in one process, configured
only by Dapr's environment (DAPR_GRPC_ENDPOINT, https:// or ?tls=true for TLS; DAPR_API_TOKEN).

``run``: start a workflow with one activity, wait for it, print ``COMPLETED <output>``.
``call``: only schedule a workflow; print ``OK`` or ``REFUSED <grpc code>``.
Runs inside the SDK virtualenv; never imported by the project.
"""

from __future__ import annotations

import sys

import _client_cert

_client_cert.install()

import grpc  # noqa: E402
from dapr.ext import workflow as wf  # noqa: E402


def hello(ctx: wf.WorkflowActivityContext, name: str) -> str:
    return f"hello {name}"


def greet(ctx: wf.DaprWorkflowContext, name: str):  # type: ignore[no-untyped-def]
    return (yield ctx.call_activity(hello, input=name))


def main(mode: str) -> int:
    client = wf.DaprWorkflowClient()
    if mode == "call":
        try:
            client.schedule_new_workflow(greet, input="x", instance_id="refused-1")
        except grpc.RpcError as exc:
            print("REFUSED", exc.code().name, flush=True)  # type: ignore[attr-defined]
            return 3
        print("OK", flush=True)
        return 0
    runtime = wf.WorkflowRuntime()
    runtime.register_workflow(greet)
    runtime.register_activity(hello)
    runtime.start()
    try:
        instance = client.schedule_new_workflow(greet, input="dapr")
        state = client.wait_for_workflow_completion(instance, timeout_in_seconds=60)
        assert state is not None
        print(state.runtime_status.name, state.serialized_output, flush=True)
    finally:
        runtime.shutdown()
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1]))
