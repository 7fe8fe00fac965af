"""Metrics of a real Dapr SDK workload: a daemon (subprocess, ``--metrics-port 0``) and an
app on dapr-ext-workflow 1.18.3 (tests/telemetry_sdk/metrics_app.py) that completes, fails
and terminates workflows; the scrape over HTTP must count exactly what the app did."""

from __future__ import annotations

import json
import os
import subprocess
from collections.abc import Callable
from pathlib import Path

import pytest

from tests.daemon import REPO, WFSIDECAR, Daemon, daemon_args
from tests.sdk_envs import sdk_python
from tests.telemetry.scrape import assert_histograms_consistent, scrape_blocking

pytestmark = [pytest.mark.process, pytest.mark.slow, pytest.mark.timeout(300)]

APP = REPO / "tests" / "telemetry_sdk" / "metrics_app.py"
DAPR = "dapr_runtime_workflow_"
OK, DECLINED = 6, 2


def test_sdk_workload_is_counted(spawn: Callable[..., Daemon], tmp_path: Path) -> None:
    python = sdk_python("dapr-ext-118")
    daemon = spawn([*WFSIDECAR, *daemon_args(tmp_path, "--metrics-port", "0")],
                   WFSIDECAR_METRICS__APP_ID="orders", WFSIDECAR_METRICS__NAMESPACE="shop")
    ports = daemon.wait_ready()
    env = {**os.environ, "DAPR_GRPC_ENDPOINT": f"localhost:{ports['dapr_grpc_port']}"}
    env.pop("PYTHONPATH", None)
    run = subprocess.run([str(python), str(APP), str(OK), str(DECLINED)], env=env,
                         capture_output=True, text=True, timeout=240, cwd=tmp_path)
    assert run.returncode == 0, run.stderr[-3000:]
    statuses = json.loads(run.stdout.strip().splitlines()[-1])
    assert sorted(statuses.values()) == sorted(
        ["COMPLETED"] * OK + ["FAILED"] * DECLINED + ["TERMINATED"])

    m = scrape_blocking(ports["metrics_port"])
    assert_histograms_consistent(m)
    started = OK + DECLINED + 1
    for (name, labels), _ in m.samples.items():
        if name.startswith(DAPR):
            assert {("app_id", "orders"), ("namespace", "shop")} <= labels, (name, labels)
    assert m.value(DAPR + "operation_count", operation="create_workflow",
                   status="success") == started
    assert m.value(DAPR + "operation_count", operation="get_workflow",
                   status="success") == started
    assert m.value(DAPR + "operation_count", operation="add_event", status="success") == 1
    assert m.get(DAPR + "operation_count", status="failed") == 0

    assert m.value(DAPR + "execution_count", workflow_name="order", status="success") == OK
    assert m.value(DAPR + "execution_count", workflow_name="order",
                   status="failed") == DECLINED
    assert m.value(DAPR + "execution_count", workflow_name="approval",
                   status="terminated") == 1
    assert m.value(DAPR + "execution_latency_count", workflow_name="order",
                   status="success") == OK
    assert m.value(DAPR + "scheduling_latency_count", workflow_name="order") == OK + DECLINED
    assert m.value(DAPR + "scheduling_latency_count", workflow_name="approval") == 1

    executions = {(dict(labels)["activity_name"], dict(labels)["status"]): value
                  for labels, value in m.find(DAPR + "activity_execution_count").items()}
    assert executions == {("reserve", "success"): OK + DECLINED, ("charge", "success"): OK,
                          ("charge", "failed"): DECLINED, ("ship", "success"): OK}
    for (activity, status), count in executions.items():
        assert m.value(DAPR + "activity_execution_latency_count", activity_name=activity,
                       status=status) == count
    assert m.value(DAPR + "activity_operation_count", activity_name="charge",
                   status="success") == OK + DECLINED

    instances = {dict(labels)["status"]: value
                 for labels, value in m.find("wfsidecar_instances").items() if value}
    assert instances == {"COMPLETED": OK, "FAILED": DECLINED, "TERMINATED": 1}
    assert m.value("wfsidecar_grpc_request_duration_seconds_count", method="StartInstance",
                   code="OK") == started
    assert m.value("wfsidecar_store_commit_duration_seconds_count", status="success") > 0
