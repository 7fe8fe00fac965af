"""``DaprClient`` of the dapr 1.14.0 wheel against the daemon, run by tests.

Runs inside the ``dapr-114`` virtualenv, never imported by the project. ``DaprClient``
manages workflows through Dapr's runtime API (``StartWorkflowBeta1`` and friends); it first
waits for ``/v1.0/healthz/outbound`` on ``$DAPR_HTTP_PORT`` and then dials
``$DAPR_GRPC_PORT``. The workflows run on a separate SDK worker
(``dapr_worker.py``). Prints one JSON object of what it observed; the pytest side
asserts on it. Every wait polls with a deadline.
"""

from __future__ import annotations

import json
import time
import warnings
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import grpc
from dapr.clients import DaprClient
from dapr.clients.exceptions import DaprInternalError
from dapr.conf import settings
from dapr.proto import api_service_v1, api_v1

warnings.simplefilter("ignore", UserWarning)  # "The Workflow API is a Beta version"
C = "dapr"  # the workflow component; any name will do


def wait_for(what: str, probe: Callable[[], Any], done: Callable[[Any], bool],
             timeout: float = 60) -> Any:
    deadline = time.monotonic() + timeout
    while True:
        value = probe()
        if done(value):
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"{what}: still {value!r} after {timeout}s")
        time.sleep(0.05)


def status(client: DaprClient, instance_id: str) -> str | None:
    """The instance's status as DaprClient reports it, None once it is gone."""
    try:
        return str(client.get_workflow(instance_id, C).runtime_status)
    except DaprInternalError as exc:
        if "no workflow instance" in str(exc._message):
            return None
        raise


def until(client: DaprClient, instance_id: str, wanted: str | None) -> None:
    wait_for(f"{instance_id} {wanted}", lambda: status(client, instance_id),
             lambda s: s == wanted)


def refusal(call: Callable[[], Any]) -> list[str]:
    try:
        call()
    except grpc.RpcError as exc:
        return [exc.code().name, exc.details()]
    raise AssertionError("the call was not refused")


def main() -> dict[str, Any]:
    seen: dict[str, Any] = {}
    client = DaprClient()  # waits for /v1.0/healthz/outbound first
    started = client.start_workflow(C, "approval", input={"item": "book"},
                                    instance_id="order-1")
    seen["started"] = started.instance_id
    wait_for("custom status", lambda: dict(client.get_workflow("order-1", C).properties),
             lambda p: p.get("dapr.workflow.custom_status") == "waiting")
    client.pause_workflow("order-1", C)
    until(client, "order-1", "Suspended")
    client.raise_workflow_event("order-1", C, "approve", event_data="alice")
    client.resume_workflow("order-1", C)
    until(client, "order-1", "Completed")
    done = client.get_workflow("order-1", C)
    seen["approval"] = {"name": done.workflow_name, "id": done.instance_id,
                        "properties": dict(done.properties),
                        "created_before_updated": done.created_at.ToMilliseconds()
                        <= done.last_updated_at.ToMilliseconds()}

    client.start_workflow(C, "tree", instance_id="tree-1")
    until(client, "tree-1-child", "Running")
    client.terminate_workflow("tree-1", C)  # recursive, as in Dapr
    until(client, "tree-1", "Terminated")
    until(client, "tree-1-child", "Terminated")
    client.purge_workflow("tree-1", C)  # recursive too
    seen["purged"] = [status(client, "tree-1"), status(client, "tree-1-child")]

    client.start_workflow(C, "failing", instance_id="fail-1")
    until(client, "fail-1", "Failed")
    seen["failed"] = dict(client.get_workflow("fail-1", C).properties)

    at = datetime.now(UTC) + timedelta(seconds=2)
    client.start_workflow(C, "double", input=21, instance_id="later-1",
                          workflow_options={"dapr.workflow.start_time": at.isoformat()})
    seen["scheduled_first"] = status(client, "later-1")
    until(client, "later-1", "Completed")
    later = client.get_workflow("later-1", C)
    seen["scheduled"] = {"output": later.properties.get("dapr.workflow.output"),
                         "not_before": later.last_updated_at.ToMilliseconds()
                         >= int(at.timestamp() * 1000)}

    # What DaprClient hides behind DaprInternalError: the raw stub shows the codes.
    # The raw stub sends the token itself, as DaprClient does from DAPR_API_TOKEN.
    md = (("dapr-api-token", settings.DAPR_API_TOKEN),) if settings.DAPR_API_TOKEN else ()
    with grpc.insecure_channel(f"127.0.0.1:{settings.DAPR_GRPC_PORT}") as channel:
        stub = api_service_v1.DaprStub(channel)
        seen["errors"] = {
            "get_unknown": refusal(lambda: stub.GetWorkflowBeta1(
                api_v1.GetWorkflowRequest(instance_id="nope", workflow_component=C), metadata=md)),
            "bad_id": refusal(lambda: stub.StartWorkflowBeta1(api_v1.StartWorkflowRequest(
                instance_id="no spaces", workflow_component=C, workflow_name="double"),
                metadata=md)),
            "no_name": refusal(lambda: stub.StartWorkflowAlpha1(
                api_v1.StartWorkflowRequest(instance_id="x", workflow_component=C), metadata=md)),
            "no_event_name": refusal(lambda: stub.RaiseEventWorkflowBeta1(
                api_v1.RaiseEventWorkflowRequest(instance_id="order-1",
                                                 workflow_component=C), metadata=md)),
            "purge_unknown": refusal(lambda: stub.PurgeWorkflowBeta1(
                api_v1.PurgeWorkflowRequest(instance_id="nope", workflow_component=C),
                metadata=md)),
            "get_state": refusal(lambda: stub.GetState(
                api_v1.GetStateRequest(store_name="statestore", key="k"), metadata=md)),
            "invoke_service": refusal(lambda: stub.InvokeService(
                api_v1.InvokeServiceRequest(id="other-app"), metadata=md)),
        }
    try:
        client.get_workflow("nope", C)
    except DaprInternalError as exc:
        seen["client_get_unknown"] = exc._message
    seen["still_served"] = status(client, "order-1")
    client.close()
    return seen


if __name__ == "__main__":
    print(json.dumps(main()), flush=True)
