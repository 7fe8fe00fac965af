"""``list``, ``count``, ``get``, ``history``, ``export`` and ``watch`` against a real daemon,
in every output mode: tables a person reads, json/yaml that equal the HTTP API's objects."""

from __future__ import annotations

import asyncio
import json
import os
import re
import sys
from pathlib import Path

import pytest
import yaml

from tests.cli._operator import Operator, lines
from tests.daemon import REPO

LONG_STATUS = "charging the card, then waiting for the warehouse to confirm the parcel"


@pytest.fixture
async def fleet(op: Operator) -> Operator:
    """Four instances: completed, failed, running with a long custom status, and one of
    another workflow name still running; no worker stays connected."""
    await op.started("order-1", input={"item": "book"}, end="COMPLETED",
                     output={"total": 42})
    await op.started("order-2", end="FAILED", failure="card declined")
    await op.started("order-3", custom_status=LONG_STATUS)
    await op.started("ship-1", "ShipWorkflow")
    op.disconnect_worker()
    return op


def by_id(rows: list[list[str]], column: int = 1) -> dict[str, list[str]]:
    return {row[column]: row for row in rows}


async def test_list_table_reads_like_dapr_workflow_list(fleet: Operator) -> None:
    result = await fleet.cli("list")
    assert result.exit_code == 0, result.output
    header, *rows = lines(result.stdout)
    assert header == ["NAME", "ID", "STATUS", "CUSTOM STATUS", "AGE"]
    table = by_id(rows)
    assert sorted(table) == ["order-1", "order-2", "order-3", "ship-1"]
    assert table["order-1"][:3] == ["OrderWorkflow", "order-1", "COMPLETED"]
    assert table["order-2"][2] == "FAILED"
    assert table["ship-1"][:3] == ["ShipWorkflow", "ship-1", "RUNNING"]
    # Long cells are cut in table mode, ids never; AGE is kubectl's (seconds here).
    custom = table["order-3"][3]
    assert custom.endswith("…") and len(custom) <= 30 and LONG_STATUS.startswith(custom[:-1])
    assert all(re.fullmatch(r"\d+s", row[-1]) for row in rows)
    assert result.stderr == ""


async def test_list_wide_adds_columns_and_cuts_nothing(fleet: Operator) -> None:
    result = await fleet.cli("list", "-o", "wide")
    assert result.exit_code == 0, result.output
    header, *rows = lines(result.stdout)
    assert header[:5] == ["NAME", "ID", "STATUS", "CUSTOM STATUS", "AGE"]
    assert header[5:] == ["CREATED", "LAST UPDATE", "COMPLETED", "VERSION", "PARENT",
                          "DIALECT", "EVENTS", "BYTES", "STALLED REASON"]
    assert LONG_STATUS in result.stdout
    completed = by_id(rows)["order-1"]
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ", completed[5])
    assert completed[10] == "dapr" and int(completed[11]) > 0 and int(completed[12]) > 0


async def test_list_json_and_yaml_are_the_api_objects(fleet: Operator) -> None:
    expected = (await fleet.call("list")).instances
    as_json = await fleet.cli("list", "-o", "json")
    assert as_json.exit_code == 0, as_json.output
    assert json.loads(as_json.stdout) == expected
    as_yaml = await fleet.cli("list", "--output", "yaml")
    assert yaml.safe_load(as_yaml.stdout) == expected
    # dapr's name for the table format works too.
    assert (await fleet.cli("list", "-o", "short")).stdout.startswith("NAME")


@pytest.mark.parametrize(("flags", "ids"), [
    (["-s", "FAILED"], ["order-2"]),
    (["--filter-status", "running,completed"], ["order-1", "order-3", "ship-1"]),
    (["-w", "ShipWorkflow"], ["ship-1"]),
    (["--filter-id-prefix", "order-", "-s", "RUNNING"], ["order-3"]),
    (["-m", "1h"], ["order-1", "order-2", "order-3", "ship-1"]),
    (["--completed-from", "1h"], ["order-1", "order-2"]),
])
async def test_list_filters(fleet: Operator, flags: list[str], ids: list[str]) -> None:
    result = await fleet.cli("list", *flags, "--sort", "id", "--order", "asc", "-o", "json")
    assert result.exit_code == 0, result.output
    assert [item["instanceID"] for item in json.loads(result.stdout)] == ids


async def test_list_limit_says_how_many_were_left_out(fleet: Operator) -> None:
    result = await fleet.cli("list", "--limit", "2", "--sort", "id", "--order", "asc")
    assert result.exit_code == 0, result.output
    assert [row[1] for row in lines(result.stdout)[1:]] == ["order-1", "order-2"]
    assert result.stderr == "(showing 2 of 4; --limit 0 lists all)\n"
    everything = await fleet.cli("list", "--limit", "0", "-o", "json")
    assert len(json.loads(everything.stdout)) == 4


async def test_list_of_nothing_says_so(fleet: Operator) -> None:
    result = await fleet.cli("list", "--created-to", "1h")
    assert (result.exit_code, result.stdout) == (0, "")
    assert result.stderr == "No workflow instances found.\n"
    assert json.loads((await fleet.cli("list", "-s", "SUSPENDED", "-o", "json")).stdout) == []


async def test_count_in_every_mode(fleet: Operator) -> None:
    assert (await fleet.cli("count")).stdout == "4\n"
    assert (await fleet.cli("count", "-o", "wide")).stdout == "4\n"
    running = await fleet.cli("count", "-s", "RUNNING", "-o", "json")
    assert json.loads(running.stdout) == {"count": 2}
    assert yaml.safe_load((await fleet.cli("count", "-w", "X", "-o", "yaml")).stdout) == {
        "count": 0}


async def test_get_in_every_mode(fleet: Operator) -> None:
    table = await fleet.cli("get", "order-1")
    assert table.exit_code == 0, table.output
    fields = {key: value.strip() for key, value in
              (line.split(":", 1) for line in table.stdout.splitlines())}
    assert fields.items() >= {
        "ID": "order-1", "NAME": "OrderWorkflow", "STATUS": "COMPLETED",
        "INPUT": '{"item": "book"}', "OUTPUT": '{"total": 42}'}.items()
    assert re.fullmatch(r"\d+s", fields["AGE"])
    expected = await fleet.call("get", "order-1")
    assert json.loads((await fleet.cli("get", "order-1", "-o", "json")).stdout) == expected
    assert yaml.safe_load((await fleet.cli("get", "order-1", "-o", "yaml")).stdout) == expected
    failed = await fleet.cli("get", "order-2")
    assert "FAILURE MESSAGE:  card declined" in failed.stdout
    assert "FAILURE TYPE:     ValueError" in failed.stdout


async def test_get_of_an_unknown_instance_is_one_line_and_exit_1(fleet: Operator) -> None:
    result = await fleet.cli("get", "nobody")
    assert result.exit_code == 1 and result.stdout == ""
    assert result.stderr.count("\n") == 1
    assert result.stderr.startswith("wfsidecar: ERR_INSTANCE_ID_NOT_FOUND: ")
    assert "nobody" in result.stderr and result.stderr.endswith("(HTTP 404)\n")


async def test_history_in_every_mode(fleet: Operator) -> None:
    table = await fleet.cli("history", "order-1")
    assert table.exit_code == 0, table.output
    header, *rows = lines(table.stdout)
    assert header == ["TYPE", "NAME", "EVENTID", "ELAPSED", "DETAILS"]
    types = [row[0] for row in rows]
    assert "ExecutionStarted" in types and types[-1] in ("ExecutionCompleted",
                                                         "OrchestratorCompleted")
    assert rows[0][3].startswith("Age:")
    started = rows[types.index("ExecutionStarted")]
    assert started[1] == "OrderWorkflow" and 'input={"item":"book"}' in started[4]
    wide = await fleet.cli("history", "order-1", "-o", "wide")
    assert lines(wide.stdout)[0] == ["TYPE", "NAME", "EVENTID", "TIMESTAMP", "ELAPSED",
                                     "DETAILS"]
    events = (await fleet.call("history", "order-1"))["events"]
    assert json.loads((await fleet.cli("history", "order-1", "-o", "json")).stdout) == events
    assert yaml.safe_load((await fleet.cli("history", "order-1", "-o", "yaml")).stdout) == events


async def test_export_writes_the_history_document(fleet: Operator, tmp_path: Path) -> None:
    document = await fleet.call("history", "order-2")
    to_stdout = await fleet.cli("export", "order-2")
    assert to_stdout.exit_code == 0 and json.loads(to_stdout.stdout) == document
    target = tmp_path / "order-2.json"
    to_file = await fleet.cli("export", "order-2", "-f", str(target))
    assert to_file.exit_code == 0 and to_file.stdout == ""
    assert json.loads(target.read_text()) == document
    assert to_file.stderr == (
        f"wrote {len(document['events'])} events of 'order-2' to {target}\n")
    assert (await fleet.cli("export", "nobody")).exit_code == 1


async def watching(op: Operator, instance_id: str, *flags: str) -> asyncio.subprocess.Process:
    """``wfsidecar workflow watch`` as a real process, so its lines can be read one by one
    while the test moves the workflow along."""
    env = {**os.environ, "PYTHONPATH": str(REPO), "WFSIDECAR_ADDRESS": op.address}
    return await asyncio.create_subprocess_exec(
        sys.executable, "-m", "wfsidecar", "workflow", "watch", instance_id,
        "--interval", "0.05", *flags, env=env,
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE)


async def next_line(proc: asyncio.subprocess.Process) -> str:
    assert proc.stdout is not None
    return (await asyncio.wait_for(proc.stdout.readline(), 20)).decode()


async def test_watch_prints_each_change_and_exits_0_on_completed(op: Operator) -> None:
    await op.call("start", "OrderWorkflow", instance_id="w-1")
    proc = await watching(op, "w-1")
    assert re.fullmatch(r"\d\d:\d\d:\d\d  PENDING\n", await next_line(proc))
    await op.turn("w-1", custom_status="halfway")
    assert (await next_line(proc)).endswith("  RUNNING  custom status: halfway\n")
    await op.call("raise_event", "w-1", "go")  # a new turn to answer
    await op.turn("w-1", end="COMPLETED", output="done", custom_status="halfway")
    assert (await next_line(proc)).endswith("  COMPLETED  custom status: halfway\n")
    assert await asyncio.wait_for(proc.wait(), 20) == 0


async def test_watch_exits_1_when_the_instance_fails(op: Operator) -> None:
    await op.call("start", "OrderWorkflow", instance_id="w-2")
    proc = await watching(op, "w-2", "-o", "json")
    first = json.loads(await next_line(proc))
    assert (first["instanceID"], first["runtimeStatus"]) == ("w-2", "PENDING")
    await op.turn("w-2", end="FAILED", failure="card declined")
    assert json.loads(await next_line(proc))["runtimeStatus"] == "FAILED"
    assert await asyncio.wait_for(proc.wait(), 20) == 1
    assert proc.stderr is not None
    assert (await proc.stderr.read()).decode() == (
        "wfsidecar: w-2 ended FAILED: card declined\n")
