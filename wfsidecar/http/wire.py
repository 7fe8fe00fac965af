"""JSON in and out of the HTTP API: Dapr's GetWorkflow body byte for byte, times, bodies.

Dapr writes its GetWorkflow answer with Go's ``protojson`` (pkg/api/http/universal.go,
``respondWithProto`` without EmitUnpopulated): fields in proto field-number order under
their JSON names, empty strings left out, map keys sorted, compact, timestamps in RFC 3339
UTC with 0, 3, 6 or 9 fraction digits, strings escaped only where JSON requires it (``"``,
``\\``, control characters) and everything else written as UTF-8. ``dapr_workflow_json``
writes the same bytes. (Go's protojson may add one space after commas, fixed per Dapr
binary, to stop clients from relying on byte equality; this writes the canonical form.)
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

from aiohttp import web

from wfsidecar.http.errors import INVALID_QUERY, MALFORMED_REQUEST, ApiError
from wfsidecar.workflow.dapr_view import properties
from wfsidecar.workflow.messages import InstanceSnapshot


def dapr_workflow_json(snapshot: InstanceSnapshot) -> bytes:
    """Dapr's ``GetWorkflowResponse`` of ``snapshot``, as Dapr's HTTP API writes it."""
    view = snapshot.view
    fields: list[tuple[str, str | dict[str, str]]] = [
        ("instanceID", view.instance_id), ("workflowName", view.name),
        ("createdAt", timestamp(view.created_ms)),
        ("lastUpdatedAt", timestamp(view.last_updated_ms)),
        # Unlike Dapr (UNKNOWN), a stalled instance says STALLED (docs/http-api.md).
        ("runtimeStatus", view.status.name),
        ("properties", properties(snapshot))]
    parts = []
    for name, value in fields:
        if isinstance(value, dict):
            entries = ",".join(f"{_string(k)}:{_string(v)}" for k, v in sorted(value.items()))
            parts.append(f'"{name}":{{{entries}}}')
        elif value:  # protojson leaves out a string field holding ""
            parts.append(f'"{name}":{_string(value)}')
    return ("{" + ",".join(parts) + "}").encode()


def _string(text: str) -> str:
    # Python's escaping with ensure_ascii off is Go protojson's: ", \ and control
    # characters (\b \f \n \r \t by name, the rest as lower-case \u00XX).
    return json.dumps(text, ensure_ascii=False)


def timestamp(ms: int) -> str:
    """Epoch milliseconds as protojson writes a Timestamp: ``2025-07-06T19:33:22.859Z``, or
    without a fraction on a whole second."""
    seconds, millis = divmod(ms, 1000)
    text = datetime.fromtimestamp(seconds, UTC).strftime("%Y-%m-%dT%H:%M:%S")
    return f"{text}.{millis:03d}Z" if millis else f"{text}Z"


def optional_timestamp(ms: int | None) -> str | None:
    return None if ms is None else timestamp(ms)


def parse_time(text: str, parameter: str) -> int:
    """An RFC 3339 time (with a zone) or epoch milliseconds, as epoch milliseconds.

    Raises:
        ApiError: 400 ``ERR_INVALID_QUERY`` naming ``parameter``.
    """
    if text.lstrip("-").isdigit():
        return int(text)
    try:
        when = datetime.fromisoformat(text.replace("z", "Z"))
    except ValueError:
        when = None
    if when is None or when.tzinfo is None or "T" not in text.upper():
        raise ApiError(400, INVALID_QUERY, (
            f"{parameter}={text!r} is not a time: use RFC 3339 with a zone "
            "(2025-07-06T19:33:22Z) or epoch milliseconds"))
    return int(when.timestamp() * 1000)


def json_response(body: object, status: int = 200) -> web.Response:
    return web.Response(status=status, content_type="application/json",
                        text=json.dumps(body, ensure_ascii=False, separators=(",", ":")))


def instance_id_response(instance_id: str, status: int = 202) -> web.Response:
    """Dapr's ``StartWorkflowResponse`` body, ``{"instanceID":"..."}``."""
    return web.Response(status=status, content_type="application/json",
                        text='{"instanceID":' + _string(instance_id) + "}")


async def text_body(request: web.Request) -> str | None:
    """The raw body as text (Dapr passes inputs and event data through unparsed); None
    when there is none.

    Raises:
        ApiError: 400 ``ERR_MALFORMED_REQUEST`` if it is not UTF-8.
    """
    raw = await request.read()
    if not raw:
        return None
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise ApiError(400, MALFORMED_REQUEST,
                       f"the request body is not UTF-8 text: {exc}") from exc


async def json_object(request: web.Request) -> dict[str, Any]:
    """The body as a JSON object ({} when there is none).

    Raises:
        ApiError: 400 ``ERR_MALFORMED_REQUEST`` for anything but a JSON object.
    """
    text = await text_body(request)
    if text is None or not text.strip():
        return {}
    try:
        body = json.loads(text)
    except ValueError as exc:
        raise ApiError(400, MALFORMED_REQUEST, f"the request body is not JSON: {exc}") from exc
    if not isinstance(body, dict):
        raise ApiError(400, MALFORMED_REQUEST, "the request body must be a JSON object")
    return body
