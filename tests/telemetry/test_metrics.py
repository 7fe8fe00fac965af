"""Prometheus metrics from a real daemon: a raw Dapr-dialect worker runs a known workload
(workflows that complete, fail and are terminated; activities that succeed and fail;
reads, events and HTTP calls), then ``/metrics`` is scraped over HTTP and every count must
equal what was run, with Dapr's names, label keys and values."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import aiohttp
import grpc
import pytest
from google.protobuf import wrappers_pb2

from tests.server._raw_worker import Worker, channel_to, daemon, refused, schedule, unary
from tests.server.test_poison import crash_until_given_up, wait_stalled
from tests.telemetry.scrape import Scrape, assert_histograms_consistent, scrape
from tests.test_app import running
from wfsidecar._proto.dapr import orchestrator_service_pb2 as pb
from wfsidecar.errors import StartupError

DAPR = "dapr_runtime_workflow_"
METRICS = {"metrics.enabled": True, "metrics.port": 0, "metrics.app_id": "orders",
           "metrics.namespace": "shop", "metrics.instances_max_age": 0.001}


def ended(status: int, output: str = '"done"') -> Any:
    action = pb.OrchestratorAction(id=1)
    action.completeOrchestration.orchestrationStatus = status
    action.completeOrchestration.result.value = output
    if status == pb.ORCHESTRATION_STATUS_FAILED:
        action.completeOrchestration.failureDetails.errorType = "ChargeFailed"
    return action


async def run_flow(channel: grpc.aio.Channel, worker: Worker, instance_id: str,
                   activity_fails: bool = False) -> None:
    """``flow``: one ``charge`` activity, then complete (or fail if the activity did)."""
    await unary(channel, "StartInstance", pb.CreateInstanceResponse)(
        pb.CreateInstanceRequest(instanceId=instance_id, name="flow"), timeout=5)
    turn = await worker.next("orchestratorRequest")
    await worker.accepted(turn, actions=[schedule(pb, "charge")])
    activity = await worker.next("activityRequest")
    if activity_fails:
        await worker.accepted(activity, failureDetails=pb.TaskFailureDetails(
            errorType="CardDeclined", errorMessage="no"))
    else:
        await worker.accepted(activity, result=wrappers_pb2.StringValue(value='"charged"'))
    turn = await worker.next("orchestratorRequest")
    await worker.accepted(turn, actions=[ended(
        pb.ORCHESTRATION_STATUS_FAILED if activity_fails else pb.ORCHESTRATION_STATUS_COMPLETED)])


async def terminate_flow(channel: grpc.aio.Channel, worker: Worker, instance_id: str) -> None:
    await unary(channel, "StartInstance", pb.CreateInstanceResponse)(
        pb.CreateInstanceRequest(instanceId=instance_id, name="flow"), timeout=5)
    await worker.accepted(await worker.next("orchestratorRequest"))  # waits for something
    await unary(channel, "TerminateInstance", pb.TerminateResponse)(
        pb.TerminateRequest(instanceId=instance_id), timeout=5)
    turn = await worker.next("orchestratorRequest")
    await worker.accepted(turn, actions=[ended(pb.ORCHESTRATION_STATUS_TERMINATED)])


async def test_a_workload_moves_the_metrics(tmp_path: Path) -> None:
    app = daemon(tmp_path / "wf.db", METRICS)
    async with running(app), channel_to(app, pb) as channel:
        assert app.ports is not None and app.ports.metrics is not None
        before = await scrape(app.ports.metrics)
        worker = Worker(channel, pb)
        for instance_id in ("ok-1", "ok-2", "ok-3"):
            await run_flow(channel, worker, instance_id)
        await run_flow(channel, worker, "bad-1", activity_fails=True)
        await terminate_flow(channel, worker, "term-1")
        for instance_id in ("ok-1", "ok-2", "ok-3", "bad-1", "term-1"):
            await unary(channel, "GetInstance", pb.GetInstanceResponse)(
                pb.GetInstanceRequest(instanceId=instance_id), timeout=5)
        await refused(unary(channel, "RaiseEvent", pb.RaiseEventResponse)(
            pb.RaiseEventRequest(instanceId="nope", name="go"), timeout=5))
        async with aiohttp.ClientSession() as http:
            url = f"http://127.0.0.1:{app.ports.http}/v1.0/workflows/dapr/ok-1"
            async with http.get(url) as response:
                assert response.status == 200
        after = await scrape(app.ports.metrics)

    assert after.content_type == "text/plain; version=0.0.4; charset=utf-8"
    assert not [name for name in before.names() if name.startswith(DAPR)]
    assert_histograms_consistent(after)
    assert_dapr_metrics(after)
    assert_daemon_metrics(after)


def assert_dapr_metrics(m: Scrape) -> None:
    # Dapr's counters are counters without a _total suffix; its latencies are histograms.
    for name in ("operation_count", "execution_count", "activity_operation_count",
                 "activity_execution_count"):
        assert m.types[DAPR + name] == "counter"
    for name in ("operation_latency", "execution_latency", "scheduling_latency",
                 "activity_operation_latency", "activity_execution_latency"):
        assert m.types[DAPR + name] == "histogram"
    for (name, labels), _ in m.samples.items():
        if name.startswith(DAPR):
            assert {("app_id", "orders"), ("namespace", "shop")} <= labels, (name, labels)

    operations = {dict(labels)["operation"] + "/" + dict(labels)["status"]: value
                  for labels, value in m.find(DAPR + "operation_count").items()}
    # 5 starts; 5 gRPC reads and 1 over HTTP; a terminate (an event to the instance);
    # a raise to an instance that does not exist.
    assert operations == {"create_workflow/success": 5, "get_workflow/success": 6,
                          "add_event/success": 1, "add_event/failed": 1}
    for key, count in operations.items():
        operation, status = key.split("/")
        assert m.value(DAPR + "operation_latency_count", operation=operation,
                       status=status) == count

    executions = {dict(labels)["status"]: value
                  for labels, value in m.find(DAPR + "execution_count").items()}
    assert executions == {"success": 3, "failed": 1, "terminated": 1}
    assert {dict(labels)["workflow_name"] for labels in m.find(DAPR + "execution_count")} \
        == {"flow"}
    for status, count in executions.items():
        assert m.value(DAPR + "execution_latency_count", workflow_name="flow",
                       status=status) == count
    assert m.value(DAPR + "scheduling_latency_count", workflow_name="flow") == 5

    assert m.value(DAPR + "activity_operation_count", activity_name="charge",
                   status="success") == 4
    assert m.value(DAPR + "activity_operation_latency_count", activity_name="charge",
                   status="success") == 4
    assert m.value(DAPR + "activity_execution_count", activity_name="charge",
                   status="success") == 3
    assert m.value(DAPR + "activity_execution_count", activity_name="charge",
                   status="failed") == 1
    assert m.value(DAPR + "activity_execution_latency_count", activity_name="charge",
                   status="failed") == 1


def assert_daemon_metrics(m: Scrape) -> None:
    w = "wfsidecar_"
    grpc_count = w + "grpc_request_duration_seconds_count"
    assert m.value(grpc_count, method="StartInstance", code="OK") == 5
    assert m.value(grpc_count, method="RaiseEvent", code="NOT_FOUND") == 1
    assert m.value(grpc_count, method="CompleteActivityTask", code="OK") == 4
    assert m.value(w + "http_request_duration_seconds_count",
                   route="/v1.0/workflows/{component}/{instanceID}", code="200") == 1
    instances = {dict(labels)["status"]: value
                 for labels, value in m.find(w + "instances").items()}
    assert {k: v for k, v in instances.items() if v} == {
        "COMPLETED": 3, "FAILED": 1, "TERMINATED": 1}
    assert "STALLED" in instances and "RUNNING" in instances
    assert m.value(w + "workers_connected", dialect="dapr") == 1
    assert m.value(w + "work_items_queued", dialect="dapr") == 0
    assert m.value(w + "work_items_in_flight", dialect="dapr") == 0
    commits = m.value(w + "store_commit_duration_seconds_count", status="success")
    assert commits > 0 and m.value(w + "store_commit_batch_size_count") == commits
    assert m.value(w + "actor_turn_duration_seconds_count",
                   actor_type="dapr.internal.wfengine.workflow", status="success") > 0
    assert m.value(w + "actors_active", actor_type="dapr.internal.wfengine.workflow") >= 1
    assert m.value(w + "database_bytes") > 0
    assert m.types[w + "work_items_poisoned_total"] == "counter"
    assert m.types[w + "workflow_stalls_total"] == "counter"
    assert m.value("process_resident_memory_bytes") > 0


async def test_queued_work_recoverable_executions_poison_and_stalls(tmp_path: Path) -> None:
    app = daemon(tmp_path / "wf.db", {**METRICS, "work_items.max_attempts": 3,
                                      "work_items.redispatch_initial": 0.05})
    async with running(app), channel_to(app, pb) as channel:
        assert app.ports is not None and app.ports.metrics is not None
        await unary(channel, "StartInstance", pb.CreateInstanceResponse)(
            pb.CreateInstanceRequest(instanceId="wf", name="flow"), timeout=5)
        waiting = await scrape(app.ports.metrics)
        # No worker yet: the first turn waits in the queue.
        assert waiting.value("wfsidecar_work_items_queued", dialect="dapr") == 1
        assert waiting.value("wfsidecar_instances", status="PENDING") == 1
        # Every worker that takes the turn crashes: it goes out again (recoverable) until
        # it is given up on as poison and the instance stalls.
        items = await crash_until_given_up(channel)
        await wait_stalled(channel, "wf")
        after = await scrape(app.ports.metrics)
    assert after.value(DAPR + "execution_count", workflow_name="flow",
                       status="recoverable") == len(items) - 1
    assert after.value("wfsidecar_work_items_poisoned_total", kind="orchestrator") == 1
    assert after.value("wfsidecar_workflow_stalls_total", workflow_name="flow") == 1
    assert after.value("wfsidecar_instances", status="STALLED") == 1
    assert after.get(DAPR + "execution_count", status="failed") == 0


async def test_concurrent_scrapes_share_one_count(tmp_path: Path) -> None:
    app = daemon(tmp_path / "wf.db", {**METRICS, "metrics.instances_max_age": 60.0})
    async with running(app):
        assert app.ports is not None and app.ports.metrics is not None
        port = app.ports.metrics
        scrapes = await asyncio.gather(*(scrape(port) for _ in range(5)))
    assert {s.value("wfsidecar_instances", status="RUNNING") for s in scrapes} == {0}


async def test_metrics_are_off_by_default(tmp_path: Path) -> None:
    app = daemon(tmp_path / "wf.db")
    assert app.metrics is None
    async with running(app):
        assert app.ports is not None and app.ports.metrics is None
        assert app.ports.as_json()["metrics_port"] is None


async def test_a_taken_port_is_a_startup_error(tmp_path: Path) -> None:
    first = daemon(tmp_path / "a.db", METRICS)
    async with running(first):
        assert first.ports is not None
        second = daemon(tmp_path / "b.db", {**METRICS, "metrics.port": first.ports.metrics})
        with pytest.raises(StartupError, match="metrics listener cannot bind"):
            async with running(second):
                pass
