"""The instances page in Chromium against a real daemon and SDK worker: counts by status,
filtering by a click on a count and through the form, paging through the cursor, the
token dialog, and what a read-only token is shown and refused."""

from __future__ import annotations

import pytest
from playwright.sync_api import Page, expect

from tests.ui._stack import ADMIN, READER, Stack

pytestmark = [pytest.mark.process, pytest.mark.slow, pytest.mark.timeout(300)]


@pytest.fixture(scope="module")
def seeded(stack: Stack) -> Stack:
    # 12 finished instances to page through and 3 waiting ones (waiter runs until an event).
    for n in range(12):
        stack.start("double", f"page-{n:02d}", str(n))
    for n in range(3):
        stack.start("waiter", f"wait-{n}")
    for n in range(12):
        stack.wait_status(f"page-{n:02d}", "COMPLETED")
    for n in range(3):
        stack.wait_status(f"wait-{n}", "RUNNING")
    return stack


def rows(page: Page) -> list[str]:
    return page.locator("table.instances tbody tr").evaluate_all(
        "trs => trs.map(tr => tr.dataset.id)")


def test_counts_match_the_daemon_and_a_click_filters_the_table(seeded: Stack, page: Page) -> None:
    seeded.open(page, token=READER)
    by_status = seeded.api("GET", "", token=READER).json()  # warm: the list answers
    assert by_status["instances"]
    counts = page.get_by_role("group", name="Instances by status")
    expect(counts.locator("[data-status=ALL] .count-n")).to_have_text("15")
    expect(counts.locator("[data-status=RUNNING] .count-n")).to_have_text("3")
    expect(counts.locator("[data-status=COMPLETED] .count-n")).to_have_text("12")

    counts.locator("[data-status=RUNNING]").click()
    expect(counts.locator("[data-status=RUNNING]")).to_have_attribute("aria-pressed", "true")
    expect(page.locator("table.instances tbody tr")).to_have_count(3)
    assert sorted(rows(page)) == sorted(seeded.ids("status=RUNNING")) == [
        "wait-0", "wait-1", "wait-2"]
    expect(page.locator("table.instances tbody .badge")).to_have_text(["RUNNING"] * 3)
    assert "status=RUNNING" in page.url


def test_filter_form_by_name_and_id_prefix(seeded: Stack, page: Page) -> None:
    seeded.open(page, token=READER)
    page.get_by_label("Workflow name").fill("double")
    page.get_by_label("Instance id starts with").fill("page-1")
    page.get_by_role("button", name="Apply").click()
    expect(page.locator("table.instances tbody tr")).to_have_count(2)
    assert sorted(rows(page)) == seeded.ids("name=double&idPrefix=page-1&sort=id&order=asc") \
        == ["page-10", "page-11"]
    # The counts follow the other filters: only these two, both completed.
    counts = page.get_by_role("group", name="Instances by status")
    expect(counts.locator("[data-status=ALL] .count-n")).to_have_text("2")
    expect(counts.locator("[data-status=COMPLETED] .count-n")).to_have_text("2")
    expect(counts.locator("[data-status=RUNNING]")).to_have_count(0)
    # A time range that ends before anything was created matches nothing.
    page.get_by_label("From", exact=True).fill("2001-01-01T00:00")
    page.get_by_label("To", exact=True).fill("2001-01-02T00:00")
    page.get_by_role("button", name="Apply").click()
    expect(page.get_by_text("No instance matches these filters.")).to_be_visible()


def test_paging_through_the_cursor(seeded: Stack, page: Page) -> None:
    seeded.open(page, "#/?idPrefix=page-&sort=id&order=asc&pageSize=5", token=READER)
    expect(page.locator("#page-range")).to_have_text("1–5 of 12")
    assert rows(page) == [f"page-{n:02d}" for n in range(5)]
    page.get_by_role("button", name="Next →").click()
    expect(page.locator("#page-range")).to_have_text("6–10 of 12")
    assert rows(page) == [f"page-{n:02d}" for n in range(5, 10)]
    page.get_by_role("button", name="Next →").click()
    expect(page.locator("#page-range")).to_have_text("11–12 of 12")
    expect(page.get_by_role("button", name="Next →")).to_be_disabled()
    page.get_by_role("button", name="← Previous").click()
    expect(page.locator("#page-range")).to_have_text("6–10 of 12")
    assert rows(page) == [f"page-{n:02d}" for n in range(5, 10)]


def test_token_dialog_and_what_read_only_sees(seeded: Stack, page: Page) -> None:
    page.goto(f"{seeded.base}/ui/")
    expect(page.get_by_role("heading", name="Token needed")).to_be_visible()
    page.get_by_role("button", name="Enter token").click()
    page.get_by_label("Token", exact=True).fill("not-a-token")
    page.get_by_role("button", name="Use token").click()
    expect(page.get_by_text("The token given is not one of this daemon's.")).to_be_visible()

    page.get_by_role("button", name="API token").click()
    page.get_by_label("Token", exact=True).fill(READER)
    page.get_by_role("button", name="Use token").click()
    expect(page.locator("#role")).to_have_text("read-only")
    expect(page.locator("table.instances tbody tr")).to_have_count(15)
    # The token is in session storage, never in the address.
    assert READER not in page.url
    assert page.evaluate("sessionStorage.getItem('wfsidecar.token')") == READER
    expect(page.get_by_role("button", name="Start workflow")).to_have_count(0)

    page.goto(f"{seeded.base}/ui/#/instance/wait-0")
    expect(page.get_by_role("heading", name="wait-0")).to_be_visible()
    expect(page.get_by_role("group", name="Actions")).to_have_count(0)
    expect(page.get_by_role("button", name="Terminate")).to_have_count(0)
    # Calling the action anyway, through the page's own API client: the daemon refuses.
    refusal = page.evaluate("""async () => {
        const { api } = await import('./js/api.js');
        try { await api.terminate('wait-0'); return 'accepted'; }
        catch (error) { return `${error.status} ${error.code}`; }
    }""")
    assert refusal == "403 ERR_PERMISSION_DENIED"
    assert seeded.status("wait-0") == "RUNNING"


def test_narrow_screen_has_no_sideways_scrolling(seeded: Stack, page: Page) -> None:
    page.set_viewport_size({"width": 390, "height": 844})
    seeded.open(page, token=ADMIN)
    expect(page.locator("table.instances tbody tr")).to_have_count(15)
    # The filters start folded on a phone, so the rows come first.
    expect(page.get_by_label("Workflow name")).not_to_be_visible()
    pages = {"instances": ".count", "instance/wait-0": ".tl-bar.kind-wait",
             "daemon": "text=Largest instances"}
    for route, shown in pages.items():
        seeded.open(page, f"#/{route}" if route != "instances" else "#/", token=ADMIN)
        expect(page.locator(shown).first).to_be_visible()
        width = page.evaluate("document.documentElement.scrollWidth")
        assert width <= 390, (route, width)
        page.screenshot(path=str(seeded.tmp / f"narrow-{route.replace('/', '-')}.png"),
                        full_page=True)


def test_bulk_purge_of_the_filtered_instances_after_a_dry_run(seeded: Stack, page: Page) -> None:
    """Last in this module: it deletes two of the seeded instances."""
    seeded.open(page, "#/?idPrefix=page-1", token=ADMIN)
    expect(page.locator("table.instances tbody tr")).to_have_count(2)
    page.get_by_role("button", name="Purge matching…").click()
    dialog = page.get_by_role("dialog")
    expect(dialog.get_by_role("status")).to_contain_text("2 finished instance(s) match")
    assert seeded.ids("idPrefix=page-1") == ["page-11", "page-10"]  # the dry run kept them
    dialog.get_by_role("button", name="Purge them").click()
    expect(page.get_by_text("No instance matches these filters.")).to_be_visible()
    assert seeded.ids("idPrefix=page-1") == []
    assert len(seeded.ids("idPrefix=page-")) == 10
