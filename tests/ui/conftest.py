"""The dashboard's end-to-end fixtures: a real daemon (subprocess) with admin and read-only
tokens, the real Dapr SDK worker (tests/scenarios/dapr_worker.py) running its workflows,
and Debian's Chromium driven by Playwright (launched from /usr/bin/chromium: Playwright's
own browser download does not work here, docs/dashboard.md)."""

from __future__ import annotations

import os
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest
from playwright.sync_api import Browser, Page, sync_playwright

from tests.daemon import REPO, WFSIDECAR, Daemon, daemon_args
from tests.sdk_envs import sdk_python
from tests.ui._stack import ADMIN, READER, TRACE_UI, Stack

CHROMIUM = "/usr/bin/chromium"
# No network beyond loopback here: without these, Chromium's own background requests
# (updates, sync, safe browsing) are refused many times a second.
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic",
                 "--no-first-run", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync"]
WORKER = REPO / "tests" / "scenarios" / "dapr_worker.py"


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    """One daemon and one SDK worker per test module; tests keep apart by instance ids."""
    tmp = tmp_path_factory.mktemp("ui")
    (tmp / "admin.token").write_text(ADMIN + "\n")
    (tmp / "read.token").write_text(READER + "\n")
    worker_python = sdk_python("dapr-ext-118")
    daemon = Daemon(tmp, [*WFSIDECAR, *daemon_args(
        tmp, "--api-token-file", str(tmp / "admin.token"),
        "--read-token-file", str(tmp / "read.token"))],
        {**os.environ, "PYTHONPATH": str(REPO), "WFSIDECAR_TRACING__UI_URL_TEMPLATE": TRACE_UI})
    worker = None
    try:
        ports = daemon.wait_ready()
        env = {**os.environ, "DAPR_GRPC_ENDPOINT": f"localhost:{ports['dapr_grpc_port']}",
               "DAPR_API_TOKEN": ADMIN}
        env.pop("PYTHONPATH", None)
        worker = subprocess.Popen([str(worker_python), str(WORKER)], env=env,
                                  stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                  stderr=subprocess.DEVNULL, cwd=tmp)
        assert worker.stdout is not None
        assert worker.stdout.readline().strip() == b"SERVING"
        yield Stack(ports["http_port"], tmp)
    finally:
        if worker is not None:
            try:
                worker.communicate(timeout=30)  # closing its stdin stops it
            except subprocess.TimeoutExpired:
                worker.kill()
                worker.communicate()
        stderr = daemon.stderr()
        daemon.close()
        assert "Traceback" not in stderr, stderr


# Per module, not per session: Playwright's sync API keeps its event loop marked running
# in this thread until it stops, and an asyncio test after it would then fail to start
# its own loop.
@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    assert Path(CHROMIUM).exists(), (
        f"{CHROMIUM} is missing: apt-get install -y chromium (.ci/run installs it)")
    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield chromium
        chromium.close()


@pytest.fixture
def page(browser: Browser) -> Iterator[Page]:
    """A fresh context per test (its own session storage, so its own token)."""
    context = browser.new_context(viewport={"width": 1280, "height": 900})
    context.set_default_timeout(15_000)
    tab = context.new_page()
    errors: list[str] = []
    tab.on("pageerror", lambda exc: errors.append(str(exc)))
    # The page may talk to its daemon only: no font, CDN or anything else from outside.
    elsewhere: list[str] = []
    context.on("request", lambda request: None if request.url.startswith(
        ("http://127.0.0.1:", "blob:", "data:")) else elsewhere.append(request.url))
    yield tab
    context.close()
    assert errors == [], f"uncaught errors in the page: {errors}"
    assert elsewhere == [], f"requests beyond the daemon: {elsewhere}"
