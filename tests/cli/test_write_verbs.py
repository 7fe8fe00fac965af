"""``run``, ``raise-event``, ``suspend``, ``resume``, ``terminate``, ``purge`` and
``rerun`` against a real daemon: what each verb prints, what the worker then receives, and
one-line refusals with exit 1."""

from __future__ import annotations

import json
import re
import time
import uuid
from typing import Any

from google.protobuf import wrappers_pb2

from tests.cli._operator import Operator
from wfsidecar._proto.dapr import orchestrator_service_pb2 as pb


def new_events(item: pb.WorkItem, kind: str) -> list[Any]:
    return [getattr(e, kind) for e in item.orchestratorRequest.newEvents if e.HasField(kind)]


async def test_run_needs_no_worker_and_the_worker_gets_the_input(op: Operator) -> None:
    result = await op.cli("run", "OrderWorkflow", "-i", "r-1", "-x", '{"n": 1}')
    assert (result.exit_code, result.stdout) == (0, "Workflow instance started: r-1\n")
    pending = await op.call("get", "r-1")
    assert pending["runtimeStatus"] == "PENDING"
    assert pending["properties"]["dapr.workflow.input"] == '{"n": 1}'
    generated = await op.cli("run", "OrderWorkflow", "-o", "json")
    new_id = json.loads(generated.stdout)["instanceID"]
    assert uuid.UUID(new_id)
    item = await op.turn("r-1")
    [started] = new_events(item, "executionStarted")
    assert (started.name, started.input.value) == ("OrderWorkflow", '{"n": 1}')


async def test_run_with_a_start_time_is_scheduled(op: Operator) -> None:
    before = time.time()
    result = await op.cli("run", "OrderWorkflow", "-i", "later", "--start-time", "2h")
    assert result.exit_code == 0, result.output
    assert op.app.service is not None
    snapshot = await op.app.service.get("later")
    assert snapshot is not None and snapshot.view.scheduled_start_ms is not None
    assert abs(snapshot.view.scheduled_start_ms / 1000 - (before + 7200)) < 60
    at = await op.cli("run", "OrderWorkflow", "-i", "at", "-s", "2031-02-03T04:05:06Z")
    assert at.exit_code == 0, at.output
    snapshot = await op.app.service.get("at")
    assert snapshot is not None and snapshot.view.scheduled_start_ms == 1927857906000
    bad = await op.cli("run", "OrderWorkflow", "-s", "soon")
    assert bad.exit_code == 2 and "neither a duration" in bad.stderr


async def test_run_with_an_invalid_id_is_refused(op: Operator) -> None:
    result = await op.cli("run", "OrderWorkflow", "--instance-id", "not valid!")
    assert result.exit_code == 1 and result.stdout == ""
    assert re.fullmatch(r"wfsidecar: ERR_INSTANCE_ID_INVALID: .*not valid!.* \(HTTP 400\)\n",
                        result.stderr)


async def test_raise_event_in_both_spellings(op: Operator) -> None:
    await op.started("e-1")
    first = await op.cli("raise-event", "e-1/approve", "-x", '{"ok": true}')
    assert first.exit_code == 0, first.output
    assert first.stdout == "Event 'approve' raised on workflow instance 'e-1'\n"
    item = await op.turn("e-1")
    [raised] = new_events(item, "eventRaised")
    assert (raised.name, raised.input.value) == ("approve", '{"ok": true}')
    second = await op.cli("raise-event", "e-1", "ship")
    assert second.exit_code == 0, second.output
    [raised] = new_events(await op.turn("e-1"), "eventRaised")
    assert raised.name == "ship" and not raised.HasField("input")
    assert (await op.cli("raise-event", "nobody/x")).exit_code == 1


async def test_suspend_and_resume_with_a_reason(op: Operator) -> None:
    await op.started("s-1")
    suspended = await op.cli("suspend", "s-1", "--reason", "maintenance window")
    assert (suspended.exit_code, suspended.stdout) == (
        0, "Workflow instance 's-1' suspended\n")
    [event] = new_events(await op.turn("s-1"), "executionSuspended")
    assert event.input.value == "maintenance window"
    await op.wait_status("s-1", "SUSPENDED")
    resumed = await op.cli("resume", "s-1", "-r", "window over")
    assert resumed.stdout == "Workflow instance 's-1' resumed\n"
    [event] = new_events(await op.turn("s-1"), "executionResumed")
    assert event.input.value == "window over"
    await op.wait_status("s-1", "RUNNING")
    unknown = await op.cli("suspend", "nobody")
    assert unknown.exit_code == 1 and "(HTTP 404)" in unknown.stderr


async def test_terminate_one_instance_with_an_output(op: Operator) -> None:
    await op.started("t-1")
    result = await op.cli("terminate", "t-1", "--output", '"stopped by ops"')
    assert (result.exit_code, result.stdout) == (0, "Terminated workflow instance 't-1'\n")
    item = await op.turn("t-1", end="TERMINATED")
    [terminated] = new_events(item, "executionTerminated")
    assert terminated.input.value == '"stopped by ops"' and terminated.recurse
    await op.wait_status("t-1", "TERMINATED")


async def test_purge_by_ids_goes_on_past_a_refusal(op: Operator) -> None:
    await op.started("p-1", end="COMPLETED")
    await op.started("p-2", end="FAILED", failure="boom")
    await op.started("p-3")
    op.disconnect_worker()  # purge needs no worker
    result = await op.cli("purge", "p-1", "nobody", "p-2", "p-3")
    assert result.exit_code == 1
    assert result.stdout == ("Purged workflow instance 'p-1'\n"
                             "Purged workflow instance 'p-2'\n")
    refusals = result.stderr.splitlines()
    assert [line.split(":")[1].strip() for line in refusals] == ["nobody", "p-3"]
    assert all(line.startswith("wfsidecar: ") and "ERR_" in line for line in refusals)
    assert "(HTTP 404)" in refusals[0]
    remaining = [i["instanceID"] for i in (await op.call("list")).instances]
    assert remaining == ["p-3"]


async def test_purge_dry_run_by_ids_changes_nothing(op: Operator) -> None:
    await op.started("d-1", end="COMPLETED", output="x")
    await op.started("d-2")
    result = await op.cli("purge", "d-1", "d-2", "--dry-run")
    assert result.exit_code == 0, result.output
    out = result.stdout.splitlines()
    assert re.fullmatch(r"Would purge 'd-1' \(COMPLETED, \d+ B\)", out[0])
    assert out[1] == "'d-2' is RUNNING (not finished): purge would refuse or skip it"
    assert re.fullmatch(r"Would purge 1 instance\(s\), \d+ B stored", out[2])
    assert len((await op.call("list")).instances) == 2


async def test_rerun_from_an_activity(op: Operator) -> None:
    await op.call("start", "OrderWorkflow", '{"n": 1}', instance_id="rr-1")
    await op.turn("rr-1", schedule_activity=True)
    await op.worker.answer_until_accepted(
        "activityRequest", result=wrappers_pb2.StringValue(value='"charged"'))
    await op.turn("rr-1", end="COMPLETED", output="done")
    await op.wait_status("rr-1", "COMPLETED")
    events = (await op.call("history", "rr-1"))["events"]
    scheduled = next(e for e in events if e["type"] == "TaskScheduled")
    result = await op.cli("rerun", "rr-1", "-e", str(scheduled["eventId"]),
                          "--new-instance-id", "rr-2", "--input", '{"n": 2}')
    assert result.exit_code == 0, result.output
    assert result.stdout == (
        f"Workflow instance 'rr-1' rerun from event {scheduled['eventId']} as rr-2\n")
    copy = await op.call("get", "rr-2")
    assert copy["workflowName"] == "OrderWorkflow"
    missing = await op.cli("rerun", "nobody", "-e", "0")
    assert missing.exit_code == 1 and missing.stderr.startswith("wfsidecar: ERR_")
