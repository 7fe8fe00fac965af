"""``DaprClient`` (dapr 1.14.0) drives workflows through Dapr's runtime API on a real
daemon while a real SDK worker (dapr-ext-workflow 1.18.3, another process) runs them:
start, get, pause, raise event, resume, recursive terminate and purge, failure details,
a scheduled start, the error codes, and UNIMPLEMENTED for the rest of the service."""

from __future__ import annotations

import json
import os
import subprocess
from collections.abc import Callable
from pathlib import Path

import pytest

from tests.daemon import REPO, WFSIDECAR, Daemon, daemon_args
from tests.sdk_envs import sdk_python

HERE = REPO / "tests" / "scenarios"

pytestmark = [pytest.mark.process, pytest.mark.slow, pytest.mark.timeout(300)]


# With a token (docs/security.md), the worker and DaprClient send it from DAPR_API_TOKEN
# alone; the client's wait for /v1.0/healthz/outbound needs none.
@pytest.mark.parametrize("token", [None, "runtime-api-token"], ids=["open", "token"])
def test_dapr_client_workflow_methods_on_a_real_worker(
    tmp_path: Path, spawn: Callable[..., Daemon], token: str | None
) -> None:
    client_python, worker_python = sdk_python("dapr-114"), sdk_python("dapr-ext-118")
    tokens = {"DAPR_API_TOKEN": token} if token else {}
    daemon = spawn([*WFSIDECAR, *daemon_args(tmp_path)], **tokens)
    ports = daemon.wait_ready()
    env = {**os.environ, "DAPR_GRPC_ENDPOINT": f"localhost:{ports['dapr_grpc_port']}",
           "DAPR_GRPC_PORT": str(ports["dapr_grpc_port"]),
           "DAPR_HTTP_PORT": str(ports["http_port"]), **tokens}
    env.pop("PYTHONPATH", None)
    if not token:
        env.pop("DAPR_API_TOKEN", None)  # the open daemon's clients send none
    worker = subprocess.Popen([str(worker_python), str(HERE / "dapr_worker.py")],
                              env=env, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                              stderr=subprocess.DEVNULL, cwd=tmp_path)
    try:
        assert worker.stdout is not None
        assert worker.stdout.readline().strip() == b"SERVING"
        # The client's env has no DAPR_GRPC_ENDPOINT: DaprClient then uses the ports.
        client_env = {k: v for k, v in env.items() if k != "DAPR_GRPC_ENDPOINT"}
        out = subprocess.run([str(client_python), str(HERE / "runtime_api_client.py")],
                             capture_output=True, text=True, env=client_env, timeout=240,
                             cwd=tmp_path)
        assert out.returncode == 0, f"client failed:\n{out.stderr[-4000:]}\n" \
                                    f"{daemon.stderr()[-4000:]}"
    finally:
        try:
            worker.communicate(timeout=30)  # closing its stdin stops it
        except subprocess.TimeoutExpired:
            worker.kill()
            worker.communicate()
    seen = json.loads(out.stdout.strip().splitlines()[-1])

    assert seen["started"] == "order-1"
    assert seen["approval"] == {
        "name": "approval", "id": "order-1", "created_before_updated": True,
        "properties": {
            "dapr.workflow.input": '{"item": "book"}',
            "dapr.workflow.custom_status": "waiting",
            "dapr.workflow.output": '{"item": "book", "verdict": "approved by alice"}'}}
    assert seen["purged"] == [None, None]
    failed = seen["failed"]
    assert "boom" in failed["dapr.workflow.failure.error_message"]
    assert failed["dapr.workflow.failure.error_type"]
    assert "dapr.workflow.output" not in failed
    assert seen["scheduled_first"] == "Pending"
    assert seen["scheduled"] == {"output": "42", "not_before": True}

    errors = seen["errors"]
    assert errors["get_unknown"] == ["NOT_FOUND", "no workflow instance with ID 'nope'"]
    assert errors["purge_unknown"][0] == "NOT_FOUND"
    assert errors["bad_id"][0] == "INVALID_ARGUMENT" and "no spaces" in errors["bad_id"][1]
    assert errors["no_name"] == ["INVALID_ARGUMENT", "a workflow name is required"]
    assert errors["no_event_name"] == ["INVALID_ARGUMENT", "an event name is required"]
    for method, key in (("GetState", "get_state"), ("InvokeService", "invoke_service")):
        code, message = errors[key]
        assert code == "UNIMPLEMENTED"
        assert method in message and "serves only the workflow methods" in message
    assert seen["client_get_unknown"] == "no workflow instance with ID 'nope'"
    assert seen["still_served"] == "Completed"
