"""A Zipkin v2 collector for tests: ``POST /api/v2/spans`` with a JSON list of spans, each
checked against Zipkin's v2 span model (zipkin2-api.yaml).

It runs an aiohttp server on its own event loop in a thread, so that daemons in other
processes can post to it while a synchronous test waits. A span that breaks the model
is answered 400 and its problems recorded in ``errors`` as ``service/name: problem``
(the span is kept, marked ``_problems``); a test asserts its service has none.
"""

from __future__ import annotations

import asyncio
import re
import threading
import time
from collections.abc import Callable
from typing import Any

from aiohttp import web

_HEX16 = re.compile(r"[0-9a-f]{16}")
_TRACE = re.compile(r"[0-9a-f]{16}|[0-9a-f]{32}")
_KINDS = {"CLIENT", "SERVER", "PRODUCER", "CONSUMER"}
_FIELDS = {"traceId", "id", "parentId", "name", "kind", "timestamp", "duration",
           "localEndpoint", "remoteEndpoint", "annotations", "tags", "debug", "shared"}
_ENDPOINT_FIELDS = {"serviceName", "ipv4", "ipv6", "port"}


def span_problems(span: Any) -> list[str]:
    """What makes ``span`` not a valid Zipkin v2 span (empty: valid)."""
    if not isinstance(span, dict):
        return ["a span must be a JSON object"]
    problems = [f"unknown field {key!r}" for key in span if key not in _FIELDS]
    if not isinstance(span.get("traceId"), str) or not _TRACE.fullmatch(span["traceId"]):
        problems.append(f"traceId must be 16 or 32 lowercase hex: {span.get('traceId')!r}")
    if not isinstance(span.get("id"), str) or not _HEX16.fullmatch(span["id"]):
        problems.append(f"id must be 16 lowercase hex: {span.get('id')!r}")
    parent = span.get("parentId")
    if parent is not None and (not isinstance(parent, str) or not _HEX16.fullmatch(parent)):
        problems.append(f"parentId must be 16 lowercase hex: {parent!r}")
    if parent is not None and parent == span.get("id"):
        problems.append("a span cannot be its own parent")
    if "name" in span and not isinstance(span["name"], str):
        problems.append("name must be a string")
    kind = span.get("kind")
    if kind is not None and kind not in _KINDS:  # null is how "no kind" (INTERNAL) arrives
        problems.append(f"kind must be one of {sorted(_KINDS)}: {kind!r}")
    for key in ("timestamp", "duration"):
        value = span.get(key)
        if value is not None and (not isinstance(value, int) or isinstance(value, bool)
                                  or value < 1):
            problems.append(f"{key} must be a positive integer of microseconds: {value!r}")
    timestamp = span.get("timestamp")
    if isinstance(timestamp, int) and not 10**15 <= timestamp < 10**17:
        problems.append(f"timestamp is not epoch microseconds: {timestamp}")
    for key in ("localEndpoint", "remoteEndpoint"):
        endpoint = span.get(key)
        if endpoint is None:
            continue
        if not isinstance(endpoint, dict) or set(endpoint) - _ENDPOINT_FIELDS:
            problems.append(f"{key} must be an endpoint object: {endpoint!r}")
        elif "serviceName" in endpoint and not isinstance(endpoint["serviceName"], str):
            problems.append(f"{key}.serviceName must be a string")
        elif "port" in endpoint and not isinstance(endpoint["port"], int):
            problems.append(f"{key}.port must be an integer")
    tags = span.get("tags", {})
    if not isinstance(tags, dict) or not all(
            isinstance(k, str) and isinstance(v, str) for k, v in tags.items()):
        problems.append(f"tags must map strings to strings: {tags!r}")
    for annotation in span.get("annotations", []):
        if not (isinstance(annotation, dict) and set(annotation) == {"timestamp", "value"}
                and isinstance(annotation["timestamp"], int)
                and isinstance(annotation["value"], str)):
            problems.append(f"bad annotation {annotation!r}")
    for key in ("debug", "shared"):
        if key in span and not isinstance(span[key], bool):
            problems.append(f"{key} must be a boolean")
    return problems


class ZipkinCollector:
    """``with ZipkinCollector() as zipkin:`` ... ``zipkin.endpoint``, ``zipkin.spans``."""

    def __init__(self) -> None:
        self.spans: list[dict[str, Any]] = []
        self.errors: list[str] = []
        self.port = 0
        self._lock = threading.Lock()
        self._loop = asyncio.new_event_loop()
        self._ready = threading.Event()
        self._stop: asyncio.Event | None = None
        self._thread = threading.Thread(target=self._run, name="zipkin", daemon=True)

    @property
    def endpoint(self) -> str:
        return f"http://127.0.0.1:{self.port}/api/v2/spans"

    def __enter__(self) -> ZipkinCollector:
        self._thread.start()
        if not self._ready.wait(10):
            raise RuntimeError("the Zipkin collector did not start")
        return self

    def __exit__(self, *exc: object) -> None:
        if self._stop is not None:
            self._loop.call_soon_threadsafe(self._stop.set)
        self._thread.join(10)

    def received(self) -> list[dict[str, Any]]:
        with self._lock:
            return list(self.spans)

    def wait_for(self, check: Callable[[list[dict[str, Any]]], bool],
                 timeout: float = 30) -> list[dict[str, Any]]:
        """Poll until ``check(spans)`` holds; the spans then."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            spans = self.received()
            if check(spans):
                return spans
            time.sleep(0.05)
        raise AssertionError(f"collector never saw what was wanted; it has {self.received()}")

    def _run(self) -> None:
        asyncio.set_event_loop(self._loop)
        self._loop.run_until_complete(self._serve())
        self._loop.close()

    async def _serve(self) -> None:
        self._stop = asyncio.Event()
        app = web.Application()
        app.router.add_post("/api/v2/spans", self._post)
        runner = web.AppRunner(app)
        await runner.setup()
        site = web.TCPSite(runner, "127.0.0.1", 0)
        await site.start()
        server = site._server
        assert server is not None and server.sockets
        self.port = server.sockets[0].getsockname()[1]
        self._ready.set()
        await self._stop.wait()
        await runner.cleanup()

    async def _post(self, request: web.Request) -> web.Response:
        if request.content_type != "application/json":
            self.errors.append(f"content type {request.content_type!r}")
            return web.Response(status=400, text="expected application/json")
        body = await request.json()
        if not isinstance(body, list):
            self.errors.append("body is not a list of spans")
            return web.Response(status=400, text="expected a list of spans")
        problems = []
        with self._lock:
            for span in body:
                found = span_problems(span)
                if isinstance(span, dict):
                    # Kept either way, so a test can still see how an app's spans joined.
                    self.spans.append({**span, "_problems": found} if found else span)
                problems += [f"{_service(span)}/{_name(span)}: {p}" for p in found]
            self.errors.extend(problems)
        if problems:
            return web.Response(status=400, text="\n".join(problems))
        return web.Response(status=202)


def _service(span: Any) -> str:
    endpoint = span.get("localEndpoint") if isinstance(span, dict) else None
    return str(endpoint.get("serviceName", "")) if isinstance(endpoint, dict) else ""


def _name(span: Any) -> str:
    return str(span.get("name")) if isinstance(span, dict) else repr(span)
