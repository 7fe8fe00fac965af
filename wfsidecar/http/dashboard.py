"""The dashboard at ``/ui`` (docs/dashboard.md): static files shipped in the package.

The page is hand-written ES modules and CSS (``dashboard_files/``), with no build step,
and it reads and changes workflows only through the public HTTP API, with the token the
user types in. The files themselves hold no data and no secret, so they are served
without a token (http/auth.py), as health is; everything they fetch needs one.

Every file is read once, when this module is imported (before the event loop runs, so
no file I/O ever blocks it), into a table keyed by its path under ``/ui/``: a request
names a key of that table or gets a 404, so no path a client sends ever reaches the file
system (no traversal, no symlinks followed at request time).
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from importlib import resources
from importlib.resources.abc import Traversable

from aiohttp import web

PREFIX = "/ui"
_TYPES = {
    ".html": "text/html; charset=utf-8",
    ".js": "text/javascript; charset=utf-8",
    ".css": "text/css; charset=utf-8",
    ".svg": "image/svg+xml",
}
# Same-origin only: no inline script or style, no external fonts or CDNs, no framing.
# connect-src 'self' keeps the token from being sent anywhere but this daemon.
CONTENT_SECURITY_POLICY = (
    "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self'; "
    "connect-src 'self'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'")
_SECURITY_HEADERS = {
    "Content-Security-Policy": CONTENT_SECURITY_POLICY,
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
}


@dataclass(frozen=True, slots=True)
class Asset:
    body: bytes
    content_type: str
    etag: str


def load_assets(root: Traversable | None = None) -> dict[str, Asset]:
    """Every servable file under ``root`` by its path relative to it (``js/app.js``)."""
    if root is None:
        root = resources.files("wfsidecar.http") / "dashboard_files"
    assets: dict[str, Asset] = {}
    pending: list[tuple[str, Traversable]] = [("", root)]
    while pending:
        prefix, folder = pending.pop()
        for entry in folder.iterdir():
            name = prefix + entry.name
            if entry.is_dir():
                pending.append((name + "/", entry))
                continue
            suffix = name[name.rfind("."):] if "." in name else ""
            if suffix not in _TYPES:
                continue  # editor backups and the like are never served
            body = entry.read_bytes()
            assets[name] = Asset(body, _TYPES[suffix],
                                 '"' + hashlib.sha256(body).hexdigest()[:20] + '"')
    return assets


ASSETS = load_assets()


def add_routes(router: web.UrlDispatcher, assets: dict[str, Asset] = ASSETS) -> None:

    async def index_redirect(request: web.Request) -> web.StreamResponse:
        # Relative module URLs in index.html resolve against /ui/, not /.
        raise web.HTTPPermanentRedirect(PREFIX + "/")

    async def index(request: web.Request) -> web.StreamResponse:
        return _serve(request, assets["index.html"])

    async def asset(request: web.Request) -> web.StreamResponse:
        name = request.match_info["asset"]
        found = assets.get(name)
        if found is None:
            return web.Response(
                status=404, content_type="text/plain", headers=_SECURITY_HEADERS,
                text=f"no dashboard file {name!r}; the dashboard is at {PREFIX}/\n")
        return _serve(request, found)

    router.add_get(PREFIX, index_redirect)
    router.add_get(PREFIX + "/", index)
    router.add_get(PREFIX + "/{asset:.+}", asset)


def _serve(request: web.Request, asset: Asset) -> web.StreamResponse:
    # The files are not fingerprinted (no build step), so the browser keeps them but asks
    # again each time: an upgraded daemon's files are seen at once, unchanged ones cost
    # a 304.
    headers = {**_SECURITY_HEADERS, "Cache-Control": "no-cache", "ETag": asset.etag}
    if request.headers.get("If-None-Match") == asset.etag:
        return web.Response(status=304, headers=headers)
    return web.Response(body=asset.body, headers={**headers, "Content-Type": asset.content_type})
