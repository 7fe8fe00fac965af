"""What the dashboard tests share: the daemon's address and tokens, the API calls they
check the page against, and opening the page with a token."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

import requests
from playwright.sync_api import Page

from tests.waiting import eventually_sync

ADMIN = "ui-admin-token-1"
# tracing.ui_url_template of the daemon the modules share (test_actions_and_daemon.py).
TRACE_UI = "http://zipkin.invalid/zipkin/traces/{traceId}?instance={instanceId}"
READER = "ui-reader-token-2"
T = TypeVar("T")


def eventually(probe: Callable[[], T], ok: Callable[[T], bool], deadline: float = 30) -> T:
    """tests/waiting.py's wait with the longer deadline an SDK worker needs."""
    return eventually_sync(probe, ok, deadline)


@dataclass
class Stack:
    http_port: int
    tmp: Path

    @property
    def base(self) -> str:
        return f"http://127.0.0.1:{self.http_port}"

    def api(self, method: str, path: str, token: str = ADMIN, **kwargs: Any) -> requests.Response:
        return requests.request(method, f"{self.base}/v1.0/workflows/dapr{path}",
                                headers={"dapr-api-token": token}, timeout=10, **kwargs)

    def metadata(self) -> dict[str, Any]:
        reply = requests.get(f"{self.base}/v1.0/metadata", headers={"dapr-api-token": ADMIN},
                             timeout=10)
        assert reply.status_code == 200, reply.text
        return dict(reply.json())

    def start(self, name: str, instance_id: str, data: str | None = None) -> None:
        reply = self.api("POST", f"/{name}/start?instanceID={instance_id}", data=data)
        assert reply.status_code == 202, reply.text

    def status(self, instance_id: str) -> str | None:
        reply = self.api("GET", f"/{instance_id}")
        return str(reply.json()["runtimeStatus"]) if reply.status_code == 200 else None

    def wait_status(self, instance_id: str, wanted: str) -> None:
        eventually(lambda: self.status(instance_id), lambda s: s == wanted)

    def ids(self, query: str) -> list[str]:
        reply = self.api("GET", f"?pageSize=10000&{query}")
        assert reply.status_code == 200, reply.text
        return [row["instanceID"] for row in reply.json()["instances"]]

    def open(self, page: Page, route: str = "#/", token: str = ADMIN) -> None:
        """Load the dashboard with ``token`` in the tab's session storage, at ``route``."""
        page.goto(f"{self.base}/ui/")
        page.evaluate("token => sessionStorage.setItem('wfsidecar.token', token)", token)
        page.goto(f"{self.base}/ui/{route}")
        page.reload()


# Controls a screen reader could not name: no label, no text, no aria-label(ledby), no title.
_UNNAMED = """() => [...document.querySelectorAll('button, input, select, textarea, a[href]')]
  .filter(el => el.offsetParent !== null || el.closest('dialog[open]'))
  .filter(el => !(el.getAttribute('aria-label') || el.getAttribute('aria-labelledby')
    || el.title || (el.labels && el.labels.length) || el.textContent.trim()
))
  .map(el => el.outerHTML.slice(0, 120))"""


def unnamed_controls(page: Page) -> list[str]:
    controls: list[str] = page.evaluate(_UNNAMED)
    return controls
