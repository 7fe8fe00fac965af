"""The instance page in Chromium against a real daemon and SDK worker: a fan-out workflow
started and approved from the page, whose timeline bars must be its history's steps;
terminate and purge from the page, checked through the API; the API's refusals shown as
they are; an unknown instance."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import Page, expect

from tests.ui._stack import ADMIN, Stack, eventually

pytestmark = [pytest.mark.process, pytest.mark.slow, pytest.mark.timeout(300)]

# The screenshots go to the test's temporary directory; with this variable set (to
# docs/images, say) they are written there too, which is how the README's are refreshed.
SCREENSHOTS_TO = "WFSIDECAR_UI_SCREENSHOTS"


def bar_ids(page: Page, selector: str) -> list[int]:
    return sorted(page.locator(selector).evaluate_all(
        "bars => bars.map(b => Number(b.dataset.eventId))"))


def history(stack: Stack, instance_id: str) -> list[dict[str, Any]]:
    events: list[dict[str, Any]] = stack.api("GET", f"/{instance_id}/history").json()["events"]
    return events


def test_fan_out_started_from_the_page_and_its_timeline_matches_the_history(
        stack: Stack, page: Page) -> None:
    stack.open(page)
    page.get_by_role("button", name="Start workflow").click()
    page.get_by_role("dialog").get_by_label("Workflow name").fill("fanout")
    page.get_by_role("dialog").get_by_label("Instance id (empty: a random UUID)").fill("fan-ui")
    page.get_by_role("dialog").get_by_label("Input").fill("6")
    page.get_by_role("dialog").get_by_role("button", name="Start").click()
    expect(page).to_have_url(f"{stack.base}/ui/#/instance/fan-ui")
    expect(page.get_by_role("heading", name="fan-ui")).to_be_visible()

    # Running, waiting for the approval: the page refreshes itself until the wait shows,
    # with the daemon's diagnosis and a "now" line.
    expect(page.locator(".tl-row[data-kind=wait] .tl-bar.open")).to_have_count(1, timeout=30_000)
    expect(page.locator(".tl-now")).to_have_count(1)
    expect(page.get_by_role("heading", name="What it is waiting for")).to_be_visible()
    expect(page.locator(".diagnostics .hints")).to_contain_text("external event")

    page.get_by_role("button", name="Raise event").click()
    page.get_by_role("dialog").get_by_label("Event name").fill("approve")
    page.get_by_role("dialog").get_by_label("Data").fill('"alice"')
    page.get_by_role("dialog").get_by_role("button", name="Raise event").click()
    expect(page.locator("h1 .badge")).to_have_text("COMPLETED", timeout=30_000)
    expect(page.locator(".tl-now")).to_have_count(0)

    events = history(stack, "fan-ui")
    scheduled = [e["eventId"] for e in events if e["type"] == "TaskScheduled"]
    timers = [e for e in events if e["type"] == "TimerCreated"]
    children = [e["eventId"] for e in events if e["type"] == "SubOrchestrationInstanceCreated"]
    assert len(scheduled) == 6 + 2  # six squares, and flaky's two attempts
    # Every activity attempt is a bar, each child workflow, each timer by its origin.
    assert bar_ids(page, ".tl-bar.kind-activity") == scheduled
    assert bar_ids(page, ".tl-bar.kind-child") == children
    assert bar_ids(page, ".tl-bar.kind-timer") == [
        t["eventId"] for t in timers if "createTimer" in t]
    assert bar_ids(page, ".tl-bar.kind-backoff") == [
        t["eventId"] for t in timers if "activityRetry" in t]
    assert bar_ids(page, ".tl-bar.kind-wait") == [
        t["eventId"] for t in timers if "externalEvent" in t]
    expect(page.locator(".tl-bar.kind-wait")).to_have_attribute("data-outcome", "received")
    # The retried activity: one row, the failed attempt then the back-off then the success.
    flaky = page.locator(".tl-row", has_text="flaky")
    expect(flaky.locator(".tl-retries")).to_have_text(" ×2 attempts")
    expect(flaky.locator(".tl-bar")).to_have_count(3)
    outcomes = flaky.locator(".tl-bar").evaluate_all("bs => bs.map(b => b.dataset.outcome)")
    assert outcomes == ["failed", "fired", "completed"]
    # Bars are in time order along the axis: the squares, then the timer, then flaky.
    lefts = page.locator(".tl-row[data-kind]").evaluate_all(
        "rows => rows.map(r => [r.querySelector('.tl-label').textContent,"
        " r.querySelector('.tl-bar').getBoundingClientRect().left])")
    timer_left = next(left for label, left in lefts if label.startswith("timer"))
    squares = [left for label, left in lefts if label.endswith("square")]
    assert len(squares) == 6 and max(squares) < timer_left
    assert timer_left < next(left for label, left in lefts if "flaky" in label)

    # A bar leads to its event in the raw history table below.
    page.locator(".tl-bar.kind-child").click()
    expect(page.locator(f"#ev-{children[0]}")).to_have_class(
        "ev-SubOrchestrationInstanceCreated highlight")
    expect(page.get_by_role("link", name="fan-ui-child").first).to_be_visible()
    expect(page.get_by_role("table", name="History events").locator("tbody tr")).to_have_count(
        len(events))



def test_terminate_then_purge_from_the_page(stack: Stack, page: Page) -> None:
    stack.start("tree", "tree-ui")
    stack.wait_status("tree-ui-child", "RUNNING")
    stack.open(page, "#/instance/tree-ui")
    expect(page.locator("h1 .badge")).to_have_text("RUNNING")
    expect(page.get_by_role("button", name="Purge")).to_have_count(0)

    page.get_by_role("button", name="Terminate").click()
    dialog = page.get_by_role("dialog")
    expect(dialog).to_contain_text("and so do its child workflows")
    dialog.get_by_role("button", name="Terminate").click()
    expect(page.locator("h1 .badge")).to_have_text("TERMINATED", timeout=30_000)
    assert stack.status("tree-ui") == "TERMINATED"
    stack.wait_status("tree-ui-child", "TERMINATED")

    page.reload()
    page.get_by_role("button", name="Purge").click()
    page.get_by_role("dialog").get_by_role("button", name="Purge").click()
    expect(page).to_have_url(f"{stack.base}/ui/#/")
    for gone in ("tree-ui", "tree-ui-child"):
        reply = stack.api("GET", f"/{gone}")
        assert reply.json()["errorCode"] == "ERR_INSTANCE_ID_NOT_FOUND", reply.text


def test_the_apis_refusals_are_shown_as_they_are(stack: Stack, page: Page) -> None:
    stack.start("waiter", "busy-ui")
    stack.wait_status("busy-ui", "RUNNING")
    stack.open(page)
    # Starting an id whose instance has not finished: the API's 409, in the dialog.
    page.get_by_role("button", name="Start workflow").click()
    page.get_by_role("dialog").get_by_label("Workflow name").fill("waiter")
    page.get_by_role("dialog").get_by_label("Instance id (empty: a random UUID)").fill("busy-ui")
    page.get_by_role("dialog").get_by_role("button", name="Start").click()
    expect(page.get_by_role("dialog").get_by_role("alert")).to_contain_text(
        "409 ERR_START_WORKFLOW")
    page.get_by_role("dialog").get_by_role("button", name="Cancel").click()

    # The admin token swapped for the read-only one while the dialog is open (another
    # token typed in elsewhere, or rotated): the daemon's 403 is what the user reads.
    stack.open(page, "#/instance/busy-ui")
    page.get_by_role("button", name="Terminate").click()
    page.evaluate("token => sessionStorage.setItem('wfsidecar.token', token)", "ui-reader-token-2")
    page.get_by_role("dialog").get_by_role("button", name="Terminate").click()
    alert = page.get_by_role("dialog").get_by_role("alert")
    expect(alert).to_contain_text("403 ERR_PERMISSION_DENIED")
    expect(alert).to_contain_text("read-only")
    assert stack.status("busy-ui") == "RUNNING"


def test_an_unknown_instance(stack: Stack, page: Page) -> None:
    stack.open(page, "#/instance/no-such-instance")
    expect(page.get_by_role("heading", name="Instance not found")).to_be_visible()
    expect(page.get_by_role("alert")).to_contain_text("404 ERR_INSTANCE_ID_NOT_FOUND")


def test_a_failed_instance_shows_its_failure(stack: Stack, page: Page) -> None:
    stack.start("failing", "bad-ui")
    stack.wait_status("bad-ui", "FAILED")
    stack.open(page, "#/instance/bad-ui", token=ADMIN)
    failure = page.get_by_role("region", name="Failure")
    expect(failure).to_contain_text("boom")
    expect(page.locator(".tl-bar.kind-activity")).to_have_attribute("data-outcome", "failed")
    eventually(lambda: page.locator(".tl-bar.kind-workflow").get_attribute("class") or "",
               lambda cls: "outcome-failed" in cls)


def test_screenshots_of_the_list_and_of_a_fan_out_timeline(stack: Stack, page: Page) -> None:
    """Runs last in this module: the list then holds this module's instances and a few
    more, in every common status."""
    for n in range(3):
        stack.start("double", f"dbl-{n}", str(n))
    stack.start("approval", "order-7", '{"item": "book"}')
    stack.start("sleeper", "nightly-report")
    stack.start("waiter", "held-1")
    stack.wait_status("held-1", "RUNNING")
    assert stack.api("POST", "/held-1/pause").status_code == 202
    stack.wait_status("held-1", "SUSPENDED")
    stack.wait_status("dbl-2", "COMPLETED")
    folder = stack.tmp / "screenshots"
    folder.mkdir(exist_ok=True)
    targets = [folder] + ([Path(os.environ[SCREENSHOTS_TO])]
                          if os.environ.get(SCREENSHOTS_TO) else [])
    page.set_viewport_size({"width": 1280, "height": 860})

    stack.open(page)
    expect(page.locator("[data-status=SUSPENDED] .count-n")).to_have_text("1")
    for target in targets:
        page.screenshot(path=str(target / "dashboard-instances.png"))

    stack.open(page, "#/instance/fan-ui")
    expect(page.locator(".tl-bar.kind-child")).to_have_count(1)
    for target in targets:
        page.screenshot(path=str(target / "dashboard-timeline.png"))
    assert (folder / "dashboard-timeline.png").stat().st_size > 10_000
