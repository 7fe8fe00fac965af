"""The dashboard of a daemon with no token configured (the loopback default): no token
asked for, every action offered."""

from __future__ import annotations

import os
from collections.abc import Iterator

import pytest
from playwright.sync_api import Page, expect

from tests.daemon import REPO, WFSIDECAR, Daemon, daemon_args

pytestmark = [pytest.mark.process, pytest.mark.slow, pytest.mark.timeout(120)]


@pytest.fixture(scope="module")
def base(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    tmp = tmp_path_factory.mktemp("open")
    daemon = Daemon(tmp, [*WFSIDECAR, *daemon_args(tmp)], {**os.environ, "PYTHONPATH": str(REPO)})
    try:
        yield f"http://127.0.0.1:{daemon.wait_ready()['http_port']}"
    finally:
        daemon.close()


def test_no_token_needed_and_every_action_offered(base: str, page: Page) -> None:
    page.goto(f"{base}/ui/")
    expect(page.locator("#role")).to_have_text("no token needed")
    page.get_by_role("button", name="Start workflow").click()
    dialog = page.get_by_role("dialog")
    dialog.get_by_label("Workflow name").fill("nightly")
    dialog.get_by_label("Instance id (empty: a random UUID)").fill("open-1")
    dialog.get_by_role("button", name="Start").click()
    # No worker is connected: it waits, and the page says why.
    expect(page.get_by_role("heading", name="open-1")).to_be_visible()
    expect(page.get_by_role("heading", name="Why is it stuck?")).to_be_visible()
    expect(page.locator(".diagnostics.warning")).to_contain_text("no worker")
    expect(page.get_by_role("button", name="Terminate")).to_be_visible()
    assert page.evaluate("sessionStorage.length") == 0
