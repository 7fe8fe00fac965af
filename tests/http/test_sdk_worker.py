"""The HTTP API against a real daemon (subprocess) while a real Dapr SDK worker
(dapr-ext-workflow 1.18.3, another process) runs the workflows: Dapr's quickstart flow
over HTTP (start, get, raiseEvent, terminate, purge), then history, rerun, diagnostics,
list, bulk purge and the daemon summary."""

from __future__ import annotations

import os
import subprocess
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
import requests

from tests.daemon import REPO, WFSIDECAR, Daemon, daemon_args
from tests.sdk_envs import sdk_python

pytestmark = [pytest.mark.process, pytest.mark.slow, pytest.mark.timeout(300)]

WORKER = REPO / "tests" / "scenarios" / "dapr_worker.py"


class Api:
    def __init__(self, port: int) -> None:
        self.base = f"http://127.0.0.1:{port}/v1.0/workflows/dapr"
        self.root = f"http://127.0.0.1:{port}"
        self.session = requests.Session()

    def call(self, method: str, path: str, **kwargs: Any) -> requests.Response:
        return self.session.request(method, self.base + path, timeout=10, **kwargs)

    def get(self, instance_id: str) -> dict[str, Any]:
        reply = self.call("GET", f"/{instance_id}")
        assert reply.status_code == 200, reply.text
        return dict(reply.json())

    def wait(self, instance_id: str, status: str, within: float = 60) -> dict[str, Any]:
        """Poll until the instance shows ``status``; fail after ``within`` seconds."""
        deadline = time.monotonic() + within
        while True:
            reply = self.call("GET", f"/{instance_id}")  # 404 until a child is created
            if reply.status_code == 200 and reply.json()["runtimeStatus"] == status:
                return dict(reply.json())
            assert time.monotonic() < deadline, reply.text
            time.sleep(0.05)


@pytest.fixture
def api(tmp_path: Path, spawn: Callable[..., Daemon]) -> Iterator[Api]:
    worker_python = sdk_python("dapr-ext-118")
    daemon = spawn([*WFSIDECAR, *daemon_args(tmp_path)])
    ports = daemon.wait_ready()
    env = {**os.environ, "DAPR_GRPC_ENDPOINT": f"localhost:{ports['dapr_grpc_port']}"}
    env.pop("PYTHONPATH", None)
    worker = subprocess.Popen([str(worker_python), str(WORKER)], env=env,
                              stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                              stderr=subprocess.DEVNULL, cwd=tmp_path)
    try:
        assert worker.stdout is not None
        assert worker.stdout.readline().strip() == b"SERVING"
        yield Api(ports["http_port"])
    finally:
        try:
            worker.communicate(timeout=30)  # closing its stdin stops it
        except subprocess.TimeoutExpired:
            worker.kill()
            worker.communicate()
        assert "Traceback" not in daemon.stderr()


def test_http_api_with_a_real_sdk_worker(api: Api) -> None:
    # Dapr's quickstart: start with a raw JSON body, wait for the custom status, raise.
    started = api.call("POST", "/approval/start?instanceID=order-1",
                       data='{"item": "book"}')
    assert (started.status_code, started.json()) == (202, {"instanceID": "order-1"})
    deadline = time.monotonic() + 60
    while (got := api.get("order-1"))["properties"]["dapr.workflow.custom_status"] != \
            "waiting":
        assert time.monotonic() < deadline, got["properties"]
        time.sleep(0.05)
    waiting = api.call("GET", "/order-1/diagnostics").json()
    assert waiting["runtimeStatus"] == "RUNNING" and waiting["workers"]["canRun"]
    assert waiting["pendingActivities"] == []
    # The SDK waits for an event without a timeout by a timer that fires in year 9999.
    assert all(t["fireAt"].startswith("9999-") for t in waiting["pendingTimers"])
    assert any("external event" in hint for hint in waiting["hints"])

    assert api.call("POST", "/order-1/raiseEvent/approve", data='"alice"').status_code == 202
    done = api.wait("order-1", "COMPLETED")
    assert list(done) == ["instanceID", "workflowName", "createdAt", "lastUpdatedAt",
                          "runtimeStatus", "properties"]
    assert done["properties"] == {
        "dapr.workflow.input": '{"item": "book"}',
        "dapr.workflow.custom_status": "waiting",
        "dapr.workflow.output": '{"item": "book", "verdict": "approved by alice"}'}

    events = api.call("GET", "/order-1/history").json()["events"]
    scheduled = next(e for e in events if e["type"] == "TaskScheduled")
    assert scheduled["name"] == "approve_item" and scheduled["input"] == "alice"
    rerun = api.call("POST", "/order-1/rerun", json={
        "fromEventID": scheduled["eventId"], "newInstanceID": "order-1-again",
        "input": "bob"})
    assert rerun.status_code == 202, rerun.text
    again = api.wait("order-1-again", "COMPLETED")
    assert "approved by bob" in again["properties"]["dapr.workflow.output"]

    api.call("POST", "/failing/start?instanceID=bad-1")
    failed = api.wait("bad-1", "FAILED")
    assert "boom" in failed["properties"]["dapr.workflow.failure.error_message"]
    assert "dapr.workflow.output" not in failed["properties"]
    last = api.call("GET", "/bad-1/diagnostics").json()["lastFailure"]
    assert last is not None and "boom" in last["message"]

    api.call("POST", "/sleeper/start?instanceID=nap-1")
    deadline = time.monotonic() + 60
    while not (diag := api.call("GET", "/nap-1/diagnostics").json())["pendingTimers"]:
        assert time.monotonic() < deadline
        time.sleep(0.05)
    assert any("durable timer" in hint for hint in diag["hints"])

    # Recursive terminate and purge of a parent and its child.
    api.call("POST", "/tree/start?instanceID=tree-1")
    api.wait("tree-1-child", "RUNNING")
    assert api.call("POST", "/tree-1/purge").status_code == 409
    assert api.call("POST", "/tree-1/terminate").status_code == 202
    api.wait("tree-1", "TERMINATED")
    api.wait("tree-1-child", "TERMINATED")
    assert api.call("POST", "/tree-1/purge").status_code == 202
    for gone in ("tree-1", "tree-1-child"):
        assert api.call("GET", f"/{gone}").json()["errorCode"] == "ERR_INSTANCE_ID_NOT_FOUND"

    page = api.call("GET", "?count=true&sort=id&order=asc").json()
    assert [r["instanceID"] for r in page["instances"]] == [
        "bad-1", "nap-1", "order-1", "order-1-again"]
    assert page["count"] == 4
    dry = api.call("POST", "/purge?dryRun=true").json()
    assert (dry["matched"], dry["done"]) == (3, 0)
    assert api.call("POST", "/purge?status=FAILED").json()["done"] == 1
    summary = api.session.get(f"{api.root}/v1.0/metadata", timeout=10).json()
    assert summary["workers"]["dapr"]["streams"] >= 1
    assert summary["instances"]["byStatus"]["COMPLETED"] == 2
    assert summary["instances"]["byStatus"]["RUNNING"] == 1
