"""``wfsidecar.client.WorkflowClient`` against a real daemon: paging through cursors,
filters as query parameters, raw bodies passed through, bulk dry runs, and what its errors
carry. (The CLI tests use it too; these pin what tests and benchmarks rely on.)"""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta

import pytest

from tests.cli._operator import Operator
from wfsidecar.client import ApiError, ListFilter, WorkflowClient
from wfsidecar.client.http_client import normalize_address


@pytest.fixture
async def five(op: Operator) -> Operator:
    """a-1..a-3 and b-1..b-2, all PENDING: no worker is needed for any of this."""
    for instance_id in ("a-2", "b-1", "a-1", "b-2", "a-3"):
        await op.call("start", "Flow" if instance_id < "b" else "Other", '"x"',
                      instance_id=instance_id)
    return op


async def test_pages_follow_the_cursor_to_the_end(five: Operator) -> None:
    client = five.client
    first = await asyncio.to_thread(client.list, page_size=2, sort="id", order="asc",
                                    count=True)
    assert [i["instanceID"] for i in first.instances] == ["a-1", "a-2"]
    assert first.next_cursor and first.count == 5
    walked = await asyncio.to_thread(
        lambda: [i["instanceID"] for i in client.iter_instances(sort="id", order="asc",
                                                                  page_size=2)])
    assert walked == ["a-1", "a-2", "a-3", "b-1", "b-2"]
    limited = await asyncio.to_thread(
        lambda: [i["instanceID"] for i in client.iter_instances(sort="id", order="desc",
                                                                  page_size=2, limit=3)])
    assert limited == ["b-2", "b-1", "a-3"]


async def test_filters_become_the_apis_query_parameters(five: Operator) -> None:
    assert await five.call("count", ListFilter(id_prefix="a-")) == 3
    assert await five.call("count", ListFilter(name="Other", statuses=("PENDING",))) == 2
    assert await five.call("count", ListFilter(statuses=("RUNNING", "COMPLETED"))) == 0
    hour_ago = datetime.now(UTC) - timedelta(hours=1)
    assert await five.call("count", ListFilter(created_from=hour_ago)) == 5
    # A naive time is UTC, as the CLI's flags are.
    assert await five.call("count", ListFilter(
        created_to=hour_ago.replace(tzinfo=None))) == 0
    assert ListFilter().empty and not ListFilter(stalled=True).empty


async def test_raw_input_and_bulk_dry_run(five: Operator) -> None:
    await five.call("start", "Flow", "not json at all", instance_id="raw")
    got = await five.call("get", "raw")
    assert got["properties"]["dapr.workflow.input"] == "not json at all"
    dry = await five.call("bulk_terminate", ListFilter(id_prefix="a-"), dry_run=True)
    assert (dry.matched, dry.done, dry.dry_run) == (3, 0, True) and dry.stored_bytes > 0
    nothing = await five.call("bulk_purge", ListFilter(), dry_run=True)
    assert (nothing.matched, nothing.done) == (0, 0)
    assert await five.call("healthy")


async def test_errors_carry_code_message_and_route(five: Operator) -> None:
    with pytest.raises(ApiError) as missing:
        await five.call("get", "nobody")
    error = missing.value
    assert (error.status, error.error_code, error.not_found) == (
        404, "ERR_INSTANCE_ID_NOT_FOUND", True)
    assert "nobody" in error.message and str(error).startswith("ERR_INSTANCE_ID_NOT_FOUND: ")
    assert (error.method, error.path) == ("GET", "/v1.0/workflows/dapr/nobody")
    with pytest.raises(ApiError) as refused:
        await five.call("purge", "a-1")  # still PENDING: purge refuses it
    assert refused.value.status // 100 == 4 and refused.value.error_code.startswith("ERR_")


def test_addresses() -> None:
    assert normalize_address("localhost:3500") == "http://localhost:3500"
    assert normalize_address(" https://ops.example:8443/ ") == "https://ops.example:8443"
    for bad in ("", "ftp://host:1", "http://"):
        with pytest.raises(ValueError, match="not a daemon address"):
            normalize_address(bad)
    with WorkflowClient("127.0.0.1:1") as client:
        assert client.address == "http://127.0.0.1:1"
