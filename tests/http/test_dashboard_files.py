"""The dashboard's files as the daemon serves them (http/dashboard.py): content types,
the security and caching headers, no token needed for the files while the API still
needs one, a clear 404 for an unknown file, no way out of the table of files, and no
reference from the page to another origin or to a file that is not shipped."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator
from pathlib import Path

import aiohttp
import pytest

from tests.security._support import TOKENS, secured
from tests.test_app import running
from wfsidecar.http.dashboard import ASSETS, CONTENT_SECURITY_POLICY
from wfsidecar.security.access import Role


@pytest.fixture
async def session(tmp_path: Path) -> AsyncIterator[aiohttp.ClientSession]:
    app = secured(tmp_path)
    async with running(app):
        assert app.ports is not None
        async with aiohttp.ClientSession(f"http://127.0.0.1:{app.ports.http}") as client:
            yield client


async def test_page_and_files_served_without_a_token_with_their_headers(
        session: aiohttp.ClientSession) -> None:
    async with session.get("/ui", allow_redirects=False) as reply:
        assert (reply.status, reply.headers["Location"]) == (308, "/ui/")
    async with session.get("/ui/") as reply:
        assert reply.status == 200
        assert reply.headers["Content-Type"] == "text/html; charset=utf-8"
        assert reply.headers["Content-Security-Policy"] == CONTENT_SECURITY_POLICY
        assert reply.headers["X-Content-Type-Options"] == "nosniff"
        assert reply.headers["Cache-Control"] == "no-cache"
        etag = reply.headers["ETag"]
        assert '<script type="module" src="js/app.js">' in await reply.text()
    async with session.get("/ui/", headers={"If-None-Match": etag}) as reply:
        assert (reply.status, await reply.read()) == (304, b"")
    types = {"js/app.js": "text/javascript; charset=utf-8",
             "css/base.css": "text/css; charset=utf-8", "favicon.svg": "image/svg+xml"}
    for name, content_type in types.items():
        async with session.get(f"/ui/{name}") as reply:
            assert reply.status == 200, name
            assert reply.headers["Content-Type"] == content_type
            assert await reply.read() == ASSETS[name].body
    # What the page fetches is the API, which still wants a token.
    async with session.get("/v1.0/workflows/dapr") as reply:
        assert reply.status == 401
    async with session.get("/v1.0/workflows/dapr",
                           headers={"dapr-api-token": TOKENS[Role.READ_ONLY]}) as reply:
        assert reply.status == 200


@pytest.mark.parametrize("path", [
    "/ui/nothing.js", "/ui/js/", "/ui/js", "/ui/%2e%2e/%2e%2e/pyproject.toml",
    "/ui/js/%2e%2e/%2e%2e/dashboard.py", "/ui/..%2f..%2fdashboard.py", "/ui/%2Fetc%2Fpasswd",
    "/ui/index.html%00.js", "/ui/js/app.js/",
])
async def test_unknown_files_are_a_plain_404_and_nothing_outside_is_reachable(
        session: aiohttp.ClientSession, path: str) -> None:
    async with session.get(aiohttp.client.URL(path, encoded=True)) as reply:
        body = await reply.text()
        assert reply.status == 404, (path, reply.status, body)
        assert "no dashboard file" in body and "the dashboard is at /ui/" in body
        assert reply.headers["Content-Type"] == "text/plain; charset=utf-8"


async def test_a_dot_dot_path_is_resolved_by_the_url_not_the_file_system(
        session: aiohttp.ClientSession) -> None:
    # Unencoded dots are folded by URL parsing: /ui/../v1.0/metadata is /v1.0/metadata,
    # an API route, which wants a token.
    async with session.get(aiohttp.client.URL("/ui/../v1.0/metadata", encoded=True)) as reply:
        assert reply.status == 401


def test_the_page_loads_only_shipped_files_and_nothing_from_another_origin() -> None:
    assert {"index.html", "js/app.js", "css/base.css", "favicon.svg"} <= set(ASSETS)
    html = ASSETS["index.html"].body.decode()
    for reference in re.findall(r'(?:src|href)="([^"#]+)"', html):
        assert reference in ASSETS, reference
    for name, asset in ASSETS.items():
        text = asset.body.decode()
        if name.endswith(".js"):
            for module in re.findall(r'from "(\./[^"]+)"', text):
                assert "js/" + module[2:] in ASSETS, (name, module)
            assert not re.search(r'(?:from|import\(|fetch\()\s*["\']https?:', text), name
            assert "innerHTML" not in text, name  # text goes in as text nodes (dom.js)
        if name.endswith(".css"):
            assert "url(" not in text and "@import" not in text, name
        assert not re.search(r'(?:src|href)=["\']https?:', text), name
