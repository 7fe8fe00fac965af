"""More of the dashboard against a real daemon and SDK worker: suspend and resume, rerun
from a history row, the list refreshing itself, the history and OpenAPI downloads, the
daemon page, the trace id the page computes, and names on every control."""

from __future__ import annotations

import json

import pytest
import requests
from playwright.sync_api import Page, expect

from tests.ui._stack import ADMIN, READER, TRACE_UI, Stack, eventually, unnamed_controls
from wfsidecar.telemetry.trace_ids import derive

pytestmark = [pytest.mark.process, pytest.mark.slow, pytest.mark.timeout(300)]


def test_suspend_and_resume_with_a_reason(stack: Stack, page: Page) -> None:
    stack.start("waiter", "pause-ui")
    stack.wait_status("pause-ui", "RUNNING")
    stack.open(page, "#/instance/pause-ui")
    page.get_by_role("button", name="Suspend").click()
    dialog = page.get_by_role("dialog")
    dialog.get_by_label("Reason (recorded in the history)").fill("maintenance window")
    assert unnamed_controls(page) == []
    dialog.get_by_role("button", name="Suspend").click()
    expect(page.locator("h1 .badge")).to_have_text("SUSPENDED")
    assert stack.status("pause-ui") == "SUSPENDED"
    expect(page.locator("tr.ev-ExecutionSuspended")).to_contain_text("maintenance window")

    page.get_by_role("button", name="Resume").click()
    page.get_by_role("dialog").get_by_role("button", name="Resume").click()
    expect(page.locator("h1 .badge")).to_have_text("RUNNING")
    assert stack.status("pause-ui") == "RUNNING"
    expect(page.locator(".tl-mark")).to_have_count(2)  # suspended, resumed


def test_rerun_from_an_activity_of_the_history(stack: Stack, page: Page) -> None:
    stack.start("approval", "order-ui", '{"item": "lamp"}')
    eventually(lambda: stack.api("GET", "/order-ui").json()["properties"].get(
        "dapr.workflow.custom_status"), lambda s: s == "waiting")
    assert stack.api("POST", "/order-ui/raiseEvent/approve", data='"alice"').status_code == 202
    stack.wait_status("order-ui", "COMPLETED")
    events = stack.api("GET", "/order-ui/history").json()["events"]
    scheduled = next(e for e in events if e["type"] == "TaskScheduled")

    stack.open(page, "#/instance/order-ui")
    page.get_by_role("button", name=f"Rerun from event {scheduled['eventId']}").click()
    dialog = page.get_by_role("dialog")
    dialog.get_by_label("New instance id (empty: a random UUID)").fill("order-ui-again")
    dialog.get_by_label("New input for the activity, as JSON (empty: keep its input)").fill(
        '"bob"')
    dialog.get_by_role("button", name="Rerun").click()
    expect(page).to_have_url(f"{stack.base}/ui/#/instance/order-ui-again")
    expect(page.locator("h1 .badge")).to_have_text("COMPLETED", timeout=30_000)
    output = stack.api("GET", "/order-ui-again").json()["properties"]["dapr.workflow.output"]
    assert "approved by bob" in output
    expect(page.locator(".payloads")).to_contain_text("approved by bob")


def test_the_list_refreshes_itself(stack: Stack, page: Page) -> None:
    stack.open(page, "#/?idPrefix=fresh-", token=READER)
    expect(page.get_by_text("No instance matches these filters.")).to_be_visible()
    stack.start("double", "fresh-1", "21")
    # No click, no reload: the 5 s refresh brings it, then its completion.
    row = page.locator("table.instances tbody tr[data-id=fresh-1]")
    expect(row.locator(".badge")).to_have_text("COMPLETED", timeout=15_000)
    assert unnamed_controls(page) == []


def test_history_and_openapi_downloads(stack: Stack, page: Page) -> None:
    stack.start("double", "dl-1", "4")
    stack.wait_status("dl-1", "COMPLETED")
    stack.open(page, "#/instance/dl-1", token=READER)
    with page.expect_download() as download:
        page.get_by_role("button", name="Download JSON").click()
    exported = json.loads(download.value.path().read_text())
    assert exported == stack.api("GET", "/dl-1/history").json()

    page.get_by_role("link", name="Daemon").click()
    with page.expect_download() as download:
        page.get_by_role("button", name="Download the OpenAPI document").click()
    assert json.loads(download.value.path().read_text())["openapi"] == "3.1.0"


def test_daemon_page(stack: Stack, page: Page) -> None:
    summary = stack.metadata()
    stack.open(page, "#/daemon", token=READER)
    expect(page.get_by_role("heading", name=f"wfsidecar {summary['version']}")).to_be_visible()
    workers = page.get_by_role("region", name="Connected workers")
    expect(workers.get_by_role("row", name="Dapr")).to_contain_text("1")
    expect(page.get_by_role("region", name="Storage")).to_contain_text("Largest instances")
    assert unnamed_controls(page) == []

    page.get_by_label("Trace URL template ({traceId}, {instanceId})").fill(
        "http://zipkin.invalid/traces/{traceId}")
    page.get_by_role("button", name="Save").click()
    expect(page.get_by_role("status")).to_have_text("saved in this browser")


def test_trace_ids_computed_as_the_daemon_computes_them(stack: Stack, page: Page) -> None:
    stack.open(page)
    computed = page.evaluate("""async () => {
        const { traceId } = await import('./js/trace.js');
        return [
            await traceId('order-9', { orchestrationSpanID: '00f067aa0ba902b7' }),
            await traceId('order-9', { orchestrationSpanID: '00f067aa0ba902b7',
                parentTraceContext: { traceParent:
                    '00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01' } }),
            await traceId('order-9', {}),
        ];
    }""")
    assert computed == [derive("trace", "order-9", "00f067aa0ba902b7", length=32),
                        "4bf92f3577b34da6a3ce929d0e0e4736", None]


def test_the_configured_trace_url_links_an_instance_to_its_trace(stack: Stack,
                                                                 page: Page) -> None:
    # tracing.ui_url_template reaches the page through /v1.0/metadata alone; an instance
    # started with a caller's traceparent belongs to that trace.
    assert stack.metadata()["traceUrlTemplate"] == TRACE_UI
    trace_id = "4bf92f3577b34da6a3ce929d0e0e4736"
    reply = requests.post(
        f"{stack.base}/v1.0/workflows/dapr/waiter/start?instanceID=traced-ui", timeout=10,
        headers={"dapr-api-token": ADMIN, "traceparent": f"00-{trace_id}-00f067aa0ba902b7-01"})
    assert reply.status_code == 202, reply.text
    stack.wait_status("traced-ui", "RUNNING")
    stack.open(page, "#/instance/traced-ui", token=READER)
    link = page.get_by_role("link", name=trace_id)
    expect(link).to_have_attribute(
        "href", f"http://zipkin.invalid/zipkin/traces/{trace_id}?instance=traced-ui")

    stack.open(page, "#/daemon", token=READER)
    expect(page.locator("#trace-template-source")).to_contain_text(TRACE_UI)
