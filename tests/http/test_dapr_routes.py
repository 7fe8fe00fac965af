"""Dapr's seven HTTP workflow routes on an in-process daemon with a raw worker: the GET
body byte for byte against Dapr's documented shape, STALLED shown as STALLED, every
version prefix and component name, and each route's errors."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest
from google.protobuf.wrappers_pb2 import StringValue

from tests.fakes import FakeClock
from tests.http._support import (
    API,
    complete,
    daemon,
    served,
    version_not_available,
    worker,
)
from wfsidecar.errors import StoreUnavailable

# 2025-07-06T19:33:22.859Z, the moment of Dapr's documented example.
EXAMPLE_MS = 1_751_830_402_859


async def test_get_body_is_dapr_protojson_byte_for_byte(tmp_path: Path) -> None:
    clock = FakeClock(EXAMPLE_MS)
    app = daemon(tmp_path, clock)
    async with served(app) as http, worker(app) as raw:
        await http.start("OrderWorkflow", "order-123", '{"item":"book","note":"tab\there"}')
        turn = await raw.next("orchestratorRequest")
        clock.advance(3.132)
        await raw.accepted(turn, actions=[complete('"done é"')],
                           customStatus=StringValue(value='"shipped"'))
        await http.wait_status("order-123", "COMPLETED")
        reply = await http.get(f"{API}/order-123")
    assert reply.status == 200 and reply.content_type == "application/json"
    # Field order of GetWorkflowResponse, map keys sorted, compact, Go's escaping
    # (\t and \" escaped, non-ASCII written as UTF-8), timestamps with milliseconds.
    assert reply.body.decode() == (
        '{"instanceID":"order-123","workflowName":"OrderWorkflow",'
        '"createdAt":"2025-07-06T19:33:22.859Z","lastUpdatedAt":"2025-07-06T19:33:25.991Z",'
        '"runtimeStatus":"COMPLETED","properties":{'
        '"dapr.workflow.custom_status":"\\"shipped\\"",'
        '"dapr.workflow.input":"{\\"item\\":\\"book\\",\\"note\\":\\"tab\\there\\"}",'
        '"dapr.workflow.output":"\\"done é\\""}}')


async def test_failed_instance_shows_failure_properties_and_no_output(tmp_path: Path) -> None:
    clock = FakeClock(EXAMPLE_MS - 859)  # a whole second: no fraction, as protojson writes it
    app = daemon(tmp_path, clock)
    async with served(app) as http, worker(app) as raw:
        await http.start("Pay", "pay-1")
        turn = await raw.next("orchestratorRequest")
        await raw.accepted(turn, actions=[complete(failed=True, message="card\ndeclined")])
        await http.wait_status("pay-1", "FAILED")
        reply = await http.get(f"{API}/pay-1")
    assert reply.body.decode() == (
        '{"instanceID":"pay-1","workflowName":"Pay","createdAt":"2025-07-06T19:33:22Z",'
        '"lastUpdatedAt":"2025-07-06T19:33:22Z","runtimeStatus":"FAILED","properties":{'
        '"dapr.workflow.custom_status":"",'
        '"dapr.workflow.failure.error_message":"card\\ndeclined",'
        '"dapr.workflow.failure.error_type":"ValueError",'
        '"dapr.workflow.failure.stack_trace":"Traceback: line 1",'
        '"dapr.workflow.input":""}}')


async def test_stalled_reads_stalled_not_unknown(tmp_path: Path) -> None:
    app = daemon(tmp_path)
    async with served(app) as http, worker(app) as raw:
        await http.start("Versioned", "v-1")
        await raw.accepted(await raw.next("orchestratorRequest"),
                           actions=[version_not_available()])
        await http.wait_status("v-1", "STALLED")
        listed = (await http.get(f"{API}?stalled=true")).json()["instances"]
    assert [(r["instanceID"], r["runtimeStatus"]) for r in listed] == [("v-1", "STALLED")]
    assert "Version not available" in listed[0]["stalledReason"]


@pytest.mark.parametrize("prefix", ["/v1.0", "/v1.0-beta1", "/v1.0-alpha1"])
async def test_every_version_prefix_and_any_component(tmp_path: Path, prefix: str) -> None:
    app = daemon(tmp_path)
    async with served(app) as http:
        base = f"{prefix}/workflows/any-component"
        started = await http.post(f"{base}/flow/start", "1")
        assert started.status == 202 and started.content_type == "application/json"
        new_id = started.json()["instanceID"]
        assert re.fullmatch(r"[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[0-9a-f]{4}-[0-9a-f]{12}",
                            new_id), new_id  # Dapr's random UUID when no id is given
        got = await http.get(f"{base}/{new_id}")
        assert got.json()["runtimeStatus"] == "PENDING"
        for verb in ("raiseEvent/go", "pause", "resume", "terminate"):
            reply = await http.post(f"{base}/{new_id}/{verb}")
            assert (reply.status, reply.body) == (202, b"{}"), verb
        listed = await http.get(base)
        assert [r["instanceID"] for r in listed.json()["instances"]] == [new_id]


async def test_raise_event_pause_resume_terminate_purge(tmp_path: Path) -> None:
    app = daemon(tmp_path)
    async with served(app) as http, worker(app) as raw:
        await http.start("flow", "wf", '"in"')
        await raw.accepted(await raw.next("orchestratorRequest"))
        assert (await http.post(f"{API}/wf/raiseEvent/approve", '"alice"')).status == 202
        turn = await raw.next("orchestratorRequest")
        raised = [e.eventRaised for e in turn.orchestratorRequest.newEvents
                  if e.HasField("eventRaised")]
        assert [(e.name, e.input.value) for e in raised] == [("approve", '"alice"')]
        await raw.accepted(turn)

        # Suspension and resumption are history events: a turn of the worker applies each.
        assert (await http.post(f"{API}/wf/pause?reason=night")).status == 202
        await raw.accepted(await raw.next("orchestratorRequest"))
        await http.wait_status("wf", "SUSPENDED")
        assert (await http.post(f"{API}/wf/resume?reason=morning")).status == 202
        await raw.accepted(await raw.next("orchestratorRequest"))
        await http.wait_status("wf", "RUNNING")
        events = (await http.get(f"{API}/wf/history")).json()["events"]
        assert [(e["type"], e.get("input")) for e in events
                if e["type"] in ("ExecutionSuspended", "ExecutionResumed")] == [
            ("ExecutionSuspended", "night"), ("ExecutionResumed", "morning")]

        # Purge refuses a running instance, and nothing changes.
        assert (await http.post(f"{API}/wf/purge")).error() == (409, "ERR_PURGE_WORKFLOW")
        assert await http.status("wf") == "RUNNING"

        assert (await http.post(f"{API}/wf/terminate", '"stopped"')).status == 202
        turn = await raw.next("orchestratorRequest")
        assert any(e.HasField("executionTerminated")
                   for e in turn.orchestratorRequest.newEvents)
        terminated = complete('"stopped"')
        terminated.completeOrchestration.orchestrationStatus = 5  # TERMINATED
        await raw.accepted(turn, actions=[terminated])
        await http.wait_status("wf", "TERMINATED")
        assert (await http.get(f"{API}/wf")).json()["properties"][
            "dapr.workflow.output"] == '"stopped"'

        assert (await http.post(f"{API}/wf/purge")).status == 202
        assert (await http.get(f"{API}/wf")).error() == (404, "ERR_INSTANCE_ID_NOT_FOUND")
        assert (await http.post(f"{API}/wf/purge")).error() == (404, "ERR_INSTANCE_ID_NOT_FOUND")


async def test_start_replaces_a_finished_instance_but_not_a_running_one(
        tmp_path: Path) -> None:
    app = daemon(tmp_path)
    async with served(app) as http, worker(app) as raw:
        await http.start("flow", "again")
        duplicate = await http.post(f"{API}/flow/start?instanceID=again")
        assert duplicate.error() == (409, "ERR_START_WORKFLOW")
        await raw.accepted(await raw.next("orchestratorRequest"), actions=[complete("1")])
        await http.wait_status("again", "COMPLETED")
        await http.start("flow", "again")
        assert await http.status("again") == "PENDING"


async def test_dapr_error_codes_of_each_route(tmp_path: Path) -> None:
    app = daemon(tmp_path)
    async with served(app) as http:
        cases: list[tuple[str, str, int, str]] = [
            ("POST", f"{API}/flow/start?instanceID={'x' * 65}", 400, "ERR_INSTANCE_ID_TOO_LONG"),
            ("POST", f"{API}/flow/start?instanceID=has%20space", 400, "ERR_INSTANCE_ID_INVALID"),
            ("POST", f"{API}/flow/start?instanceID=a.b", 400, "ERR_INSTANCE_ID_INVALID"),
            ("POST", f"{API}//start", 400, "ERR_WORKFLOW_NAME_MISSING"),
            ("GET", f"{API}/", 400, "ERR_INSTANCE_ID_PROVIDED_MISSING"),
            ("POST", f"{API}//pause", 400, "ERR_INSTANCE_ID_PROVIDED_MISSING"),
            ("POST", f"{API}/nope/raiseEvent/", 400, "ERR_WORKFLOW_EVENT_NAME_MISSING"),
        ]
        for verb in ("", "/history", "/diagnostics"):
            cases.append(("GET", f"{API}/nope{verb}", 404, "ERR_INSTANCE_ID_NOT_FOUND"))
        for verb in ("raiseEvent/e", "pause", "resume", "terminate", "purge"):
            cases.append(("POST", f"{API}/nope/{verb}", 404, "ERR_INSTANCE_ID_NOT_FOUND"))
        cases += [("GET", "/v1.0/nothing", 404, "ERR_ROUTE_NOT_FOUND"),
                  ("PUT", f"{API}/nope", 405, "ERR_METHOD_NOT_ALLOWED")]
        for method, path, status, code in cases:
            reply = await http.call(method, path)
            assert reply.error() == (status, code), (method, path, reply)
            assert reply.content_type == "application/json"
            assert set(reply.json()) == {"errorCode", "message"} and reply.json()["message"]
        assert await http.ids() == []  # none of it created anything


async def test_daemon_faults_keep_each_operations_code(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A store that cannot write answers 503 with the operation's Dapr code; an
    unexpected error is a logged 500 ``ERR_INTERNAL``."""
    app = daemon(tmp_path)
    async with served(app) as http:
        await http.start("flow", "wf")
        service = app.service

        async def unavailable(*args: Any, **kwargs: Any) -> Any:
            raise StoreUnavailable("disk full")

        routes = [
            ("start", "POST", f"{API}/flow/start", "ERR_START_WORKFLOW"),
            ("get", "GET", f"{API}/wf", "ERR_GET_WORKFLOW"),
            ("raise_event", "POST", f"{API}/wf/raiseEvent/e", "ERR_RAISE_EVENT_WORKFLOW"),
            ("suspend", "POST", f"{API}/wf/pause", "ERR_PAUSE_WORKFLOW"),
            ("resume", "POST", f"{API}/wf/resume", "ERR_RESUME_WORKFLOW"),
            ("terminate", "POST", f"{API}/wf/terminate", "ERR_TERMINATE_WORKFLOW"),
            ("purge", "POST", f"{API}/wf/purge", "ERR_PURGE_WORKFLOW"),
            ("list_instances", "GET", API, "ERR_LIST_WORKFLOWS"),
            ("history", "GET", f"{API}/wf/history", "ERR_GET_WORKFLOW"),
            ("rerun_from_event", "POST", f"{API}/wf/rerun", "ERR_RERUN_WORKFLOW"),
            ("terminate_many", "POST", f"{API}/terminate", "ERR_TERMINATE_WORKFLOW"),
            ("purge_many", "POST", f"{API}/purge", "ERR_PURGE_WORKFLOW"),
            ("count_instances", "GET", "/v1.0/metadata", "ERR_METADATA"),
        ]
        for method_name, method, path, code in routes:
            with monkeypatch.context() as patch:
                patch.setattr(service, method_name, unavailable)
                body = '{"fromEventID": 1}' if path.endswith("rerun") else None
                reply = await http.call(method, path, body)
            assert reply.error() == (503, code), (path, reply)
            assert reply.json()["message"] == "disk full"

        async def broken(*args: Any, **kwargs: Any) -> Any:
            raise RuntimeError("bug")

        monkeypatch.setattr(service, "get", broken)
        reply = await http.get(f"{API}/wf")
        assert reply.error() == (500, "ERR_INTERNAL")
        assert "bug" not in reply.json()["message"]


async def test_served_only_with_a_workflow_api_healthz_stays(tmp_path: Path) -> None:
    app = daemon(tmp_path)
    async with served(app) as http:
        assert (await http.get("/v1.0/healthz")).status == 204
        assert (await http.get("/v1.0/healthz/outbound")).status == 204
