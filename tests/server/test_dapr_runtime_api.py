"""Dapr's runtime API (``dapr.proto.runtime.v1.Dapr``) on an in-process daemon: the
workflow methods over a real gRPC channel, a raw worker finishing turns, every error
status, UNIMPLEMENTED for the rest of the service, and ``/v1.0/healthz/outbound``."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import aiohttp
import grpc
import pytest
from google.protobuf import empty_pb2, wrappers_pb2

from tests.server._raw_worker import channel_to, daemon, refused, unary, work_items
from tests.test_app import running
from tests.waiting import eventually
from wfsidecar._proto.dapr import orchestrator_service_pb2 as dapr_pb
from wfsidecar._proto.dapr_runtime import dapr_runtime_pb2 as pb
from wfsidecar.app import App

DAPR = "/dapr.proto.runtime.v1.Dapr/"


class Runtime:
    """Calls ``dapr.proto.runtime.v1.Dapr`` methods by name (Beta1 unless told)."""

    def __init__(self, channel: grpc.aio.Channel) -> None:
        self.channel = channel

    async def __call__(self, op: str, request: Any, stage: str = "Beta1") -> Any:
        response = pb.GetWorkflowResponse if op == "Get" else (
            pb.StartWorkflowResponse if op == "Start" else empty_pb2.Empty)
        rpc = self.channel.unary_unary(f"{DAPR}{op}Workflow{stage}",
                                       request_serializer=lambda m: m.SerializeToString(),
                                       response_deserializer=response.FromString)
        return await rpc(request, timeout=10)

    async def start(self, instance_id: str, name: str = "wf", **fields: Any) -> str:
        done = await self("Start", pb.StartWorkflowRequest(
            instance_id=instance_id, workflow_component="dapr", workflow_name=name, **fields))
        return str(done.instance_id)

    async def get(self, instance_id: str, stage: str = "Beta1") -> Any:
        return await self("Get", pb.GetWorkflowRequest(instance_id=instance_id,
                                                       workflow_component="dapr"), stage)

    async def wait_status(self, instance_id: str, status: str) -> Any:
        """Poll until the instance shows ``status``; fail after 10 s."""
        return await eventually(lambda: self.get(instance_id),
                                lambda got: got.runtime_status == status)


@pytest.fixture
async def app_and_runtime(tmp_path: Path) -> AsyncIterator[tuple[App, Runtime]]:
    app = daemon(tmp_path / "wf.db")
    async with running(app), channel_to(app, dapr_pb) as channel:
        yield app, Runtime(channel)


async def finish_next_turn(app: App, **complete: Any) -> dapr_pb.WorkItem:
    """Act as a worker for one turn: complete the instance as ``complete`` says (keep it
    running if it says nothing)."""
    async with channel_to(app, dapr_pb) as channel:
        stream = work_items(channel, dapr_pb)
        item = await asyncio.wait_for(stream.read(), 10)
        actions = []
        if complete:
            action = dapr_pb.OrchestratorAction(id=-1)
            action.completeOrchestration.CopyFrom(
                dapr_pb.CompleteOrchestrationAction(**complete))
            actions.append(action)
        await unary(channel, "CompleteOrchestratorTask", dapr_pb.CompleteTaskResponse)(
            dapr_pb.OrchestratorResponse(instanceId=item.orchestratorRequest.instanceId,
                                         actions=actions,
                                         completionToken=item.completionToken))
        stream.cancel()
        return item


async def test_start_get_and_finish_with_output_or_failure(
    app_and_runtime: tuple[App, Runtime]
) -> None:
    app, rt = app_and_runtime
    assert await rt.start("ok", input=b'{"n": 1}') == "ok"
    pending = await rt.get("ok")
    assert (pending.instance_id, pending.workflow_name, pending.runtime_status) == (
        "ok", "wf", "PENDING")
    assert dict(pending.properties) == {"dapr.workflow.input": '{"n": 1}',
                                        "dapr.workflow.custom_status": ""}
    assert pending.created_at.seconds > 0 and pending.last_updated_at.seconds > 0
    item = await finish_next_turn(app, orchestrationStatus=dapr_pb.ORCHESTRATION_STATUS_COMPLETED,
                                  result=wrappers_pb2.StringValue(value='"done"'))
    assert item.orchestratorRequest.instanceId == "ok"
    done = await rt.wait_status("ok", "COMPLETED")
    assert done.properties["dapr.workflow.output"] == '"done"'
    # The Alpha1 twin answers the same.
    assert await rt.get("ok", stage="Alpha1") == done

    await rt("Start", pb.StartWorkflowRequest(instance_id="bad", workflow_name="wf"), "Alpha1")
    await finish_next_turn(app, orchestrationStatus=dapr_pb.ORCHESTRATION_STATUS_FAILED,
                           failureDetails=dapr_pb.TaskFailureDetails(
                               errorType="ValueError", errorMessage="boom"))
    failed = await rt.wait_status("bad", "FAILED")
    assert dict(failed.properties) == {
        "dapr.workflow.input": "", "dapr.workflow.custom_status": "",
        "dapr.workflow.failure.error_type": "ValueError",
        "dapr.workflow.failure.error_message": "boom"}


async def test_generated_id_scheduled_start_terminate_and_purge(
    app_and_runtime: tuple[App, Runtime]
) -> None:
    app, rt = app_and_runtime
    await rt.start("stop")
    await finish_next_turn(app)
    await rt.wait_status("stop", "RUNNING")
    await rt("Terminate", pb.TerminateWorkflowRequest(instance_id="stop"))
    item = await finish_next_turn(app, orchestrationStatus=dapr_pb.ORCHESTRATION_STATUS_TERMINATED)
    terminate = [e.executionTerminated for e in item.orchestratorRequest.newEvents
                 if e.HasField("executionTerminated")]
    assert [t.recurse for t in terminate] == [True]  # Dapr's terminate is recursive
    terminated = await rt.wait_status("stop", "TERMINATED")
    assert terminated.properties["dapr.workflow.output"] == ""
    await rt("Purge", pb.PurgeWorkflowRequest(instance_id="stop"), "Alpha1")
    gone = await refused(rt.get("stop"))
    assert gone.code() == grpc.StatusCode.NOT_FOUND
    assert "no workflow instance with ID 'stop'" in (gone.details() or "")

    generated = await rt.start("")
    assert len(generated) == 36 and (await rt.get(generated)).runtime_status == "PENDING"
    later = (datetime.now(UTC) + timedelta(hours=1)).isoformat().replace("+00:00", "Z")
    await rt.start("later", options={"dapr.workflow.start_time": later})
    assert (await rt.get("later")).runtime_status == "PENDING"
    refusal = await refused(rt("Purge", pb.PurgeWorkflowRequest(instance_id="later")))
    assert refusal.code() == grpc.StatusCode.FAILED_PRECONDITION


@pytest.mark.parametrize(("op", "request_", "code", "fragment"), [
    ("Start", pb.StartWorkflowRequest(instance_id="bad id!", workflow_name="wf"),
     "INVALID_ARGUMENT", "only letters, digits"),
    ("Start", pb.StartWorkflowRequest(instance_id="x" * 65, workflow_name="wf"),
     "INVALID_ARGUMENT", "limit is 64"),
    ("Start", pb.StartWorkflowRequest(instance_id="ok"), "INVALID_ARGUMENT",
     "name is required"),
    ("Start", pb.StartWorkflowRequest(instance_id="ok", workflow_name="wf",
                                      options={"dapr.workflow.start_time": "tomorrow"}),
     "INVALID_ARGUMENT", "not an RFC 3339 time"),
    ("Start", pb.StartWorkflowRequest(instance_id="ok", workflow_name="wf",
                                      options={"dapr.workflow.start_time": "2030-01-01T00:00"}),
     "INVALID_ARGUMENT", "not an RFC 3339 time"),
    ("Start", pb.StartWorkflowRequest(instance_id="ok", workflow_name="wf", input=b"\xff"),
     "INVALID_ARGUMENT", "input is not UTF-8"),
    ("Get", pb.GetWorkflowRequest(), "INVALID_ARGUMENT", "instance id is required"),
    ("Get", pb.GetWorkflowRequest(instance_id="nope"), "NOT_FOUND", "'nope'"),
    ("Terminate", pb.TerminateWorkflowRequest(instance_id="nope"), "NOT_FOUND", "'nope'"),
    ("Purge", pb.PurgeWorkflowRequest(instance_id="nope"), "NOT_FOUND", "'nope'"),
    ("Purge", pb.PurgeWorkflowRequest(), "INVALID_ARGUMENT", "instance id is required"),
    ("Pause", pb.PauseWorkflowRequest(instance_id="nope"), "NOT_FOUND", "nope"),
    ("Resume", pb.ResumeWorkflowRequest(instance_id="nope"), "NOT_FOUND", "nope"),
    ("Resume", pb.ResumeWorkflowRequest(), "INVALID_ARGUMENT", "instance id is required"),
    ("RaiseEvent", pb.RaiseEventWorkflowRequest(instance_id="nope", event_name="e"),
     "NOT_FOUND", "nope"),
    ("RaiseEvent", pb.RaiseEventWorkflowRequest(instance_id="nope"), "INVALID_ARGUMENT",
     "event name is required"),
])
async def test_bad_requests_get_a_status_and_a_reason(
    app_and_runtime: tuple[App, Runtime], op: str, request_: Any, code: str, fragment: str
) -> None:
    _, rt = app_and_runtime
    error = await refused(rt(op, request_))
    assert (error.code().name, fragment in (error.details() or "")) == (code, True), \
        error.details()
    assert (await rt.start("after")) == "after"  # the daemon carries on


async def test_a_duplicate_start_and_a_malformed_request_are_refused(
    app_and_runtime: tuple[App, Runtime]
) -> None:
    _, rt = app_and_runtime
    await rt.start("twice")
    assert (await refused(rt.start("twice"))).code() == grpc.StatusCode.ALREADY_EXISTS
    raw = rt.channel.unary_unary(DAPR + "GetWorkflowBeta1")
    assert (await refused(raw(b"\xff\xff\xff"))).code() == grpc.StatusCode.INVALID_ARGUMENT


@pytest.mark.parametrize("method", ["GetState", "InvokeService", "PublishEvent",
                                    "SubscribeTopicEventsAlpha1", "NoSuchMethod"])
async def test_every_other_method_is_unimplemented_with_a_reason(
    app_and_runtime: tuple[App, Runtime], method: str
) -> None:
    _, rt = app_and_runtime
    if method == "SubscribeTopicEventsAlpha1":  # bidirectional stream, nothing sent yet
        call = rt.channel.stream_stream(DAPR + method)(iter(()))
        error = await refused(call.read())
    else:
        error = await refused(rt.channel.unary_unary(DAPR + method)(b"", timeout=10))
    assert error.code() == grpc.StatusCode.UNIMPLEMENTED
    details = error.details() or ""
    assert "serves only the workflow methods" in details and method in details
    assert await rt.start("still-up") == "still-up"


async def test_healthz_outbound_answers_as_healthz(
    app_and_runtime: tuple[App, Runtime]
) -> None:
    app, _ = app_and_runtime
    assert app.ports is not None
    async with aiohttp.ClientSession() as session:
        for path in ("/v1.0/healthz", "/v1.0/healthz/outbound"):
            async with session.get(f"http://127.0.0.1:{app.ports.http}{path}") as resp:
                assert resp.status == 204, path
