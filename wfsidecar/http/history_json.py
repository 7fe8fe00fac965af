"""History events as readable JSON for ``GET .../{id}/history``.

Each event keeps its id (what rerun's ``fromEventID`` names), its type in the SDKs'
words (``TaskScheduled``), its name when it has one and its timestamp, followed by the
fields of the event itself under their proto JSON names. Payloads (inputs, results, event
data) are strings on the wire; here they are shown as the JSON value they hold when they
parse as JSON, so a person reads ``{"item": "book"}`` rather than an escaped string.
"""

from __future__ import annotations

import json
from typing import Any

from google.protobuf.json_format import MessageToDict

from wfsidecar._proto.internal import orchestrator_service_pb2 as pb
from wfsidecar.http.wire import timestamp

PAYLOAD_FIELDS = ("input", "result", "data")


def events_json(history: tuple[pb.HistoryEvent, ...]) -> list[dict[str, Any]]:
    return [event_json(event) for event in history]


def event_json(event: pb.HistoryEvent) -> dict[str, Any]:
    kind = event.WhichOneof("eventType") or "unknown"
    body: dict[str, Any] = {}
    if kind != "unknown":
        # Zeros shown too: task 0 is a task id like any other.
        body = MessageToDict(getattr(event, kind), always_print_fields_with_no_presence=True)
    out: dict[str, Any] = {"eventId": event.eventId, "type": kind[0].upper() + kind[1:]}
    if isinstance(body.get("name"), str):
        out["name"] = body.pop("name")
    out["timestamp"] = timestamp(event.timestamp.ToMilliseconds())
    for field in PAYLOAD_FIELDS:
        if isinstance(body.get(field), str):
            body[field] = readable(body[field])
    out.update(body)
    if event.HasField("router"):
        out["router"] = MessageToDict(event.router)
    return out


def readable(payload: str) -> Any:
    """``payload`` as the JSON value it holds, or as the string itself if it is not JSON."""
    try:
        return json.loads(payload, parse_constant=_not_json)
    except ValueError:
        return payload


def _not_json(name: str) -> Any:
    raise ValueError(f"{name} is not JSON")  # Python reads NaN and Infinity; JSON does not
