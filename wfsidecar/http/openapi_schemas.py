"""The JSON Schemas of the HTTP API's bodies (OpenAPI 3.1 ``components.schemas``).

Strict where the shape is ours (no extra properties), so the schemathesis run in
tests/http catches a response that drifts from docs/http-api.md.
"""

from __future__ import annotations

from typing import Any

from wfsidecar.engine import RuntimeStatus

STATUS = {"type": "string", "enum": [s.name for s in RuntimeStatus]}
TIME = {"type": "string", "format": "date-time"}
NULLABLE_TIME = {"type": ["string", "null"], "format": "date-time"}
TEXT = {"type": "string"}
NULLABLE_TEXT = {"type": ["string", "null"]}
COUNT = {"type": "integer", "minimum": 0}


def _object(required: dict[str, Any], optional: dict[str, Any] | None = None,
            *, extra: bool = False) -> dict[str, Any]:
    return {"type": "object", "required": list(required),
            "properties": {**required, **(optional or {})}, "additionalProperties": extra}


def ref(name: str) -> dict[str, str]:
    return {"$ref": f"#/components/schemas/{name}"}


_WORK = {"oneOf": [{"type": "null"}, _object({
    "state": {"type": "string", "enum": ["queued", "dispatched"]}, "attempts": COUNT,
    "stream": {"type": ["integer", "null"]}})]}
_STREAMS = {"type": "array", "items": {"type": "integer"}}
_MEASURE = {"count": COUNT, "storedBytes": COUNT}

SCHEMAS: dict[str, Any] = {
    "Error": _object({"errorCode": {"type": "string", "pattern": "^ERR_"}, "message": TEXT}),
    "Empty": {"type": "object", "maxProperties": 0},
    "StartResponse": _object({"instanceID": TEXT}),
    "WorkflowMetadata": _object(
        {"instanceID": TEXT, "createdAt": TIME, "lastUpdatedAt": TIME,
         "runtimeStatus": STATUS,
         "properties": {"type": "object", "additionalProperties": TEXT}},
        {"workflowName": TEXT}),
    "InstanceSummary": _object({
        "instanceID": TEXT, "workflowName": TEXT, "version": NULLABLE_TEXT,
        "runtimeStatus": STATUS, "createdAt": TIME, "lastUpdatedAt": TIME,
        "completedAt": NULLABLE_TIME, "parentInstanceID": NULLABLE_TEXT,
        "dialect": {"type": "string", "enum": ["dapr", "ms"]},
        "stalledReason": NULLABLE_TEXT, "customStatus": NULLABLE_TEXT,
        "historyLength": COUNT, "storedBytes": COUNT}),
    "InstancePage": _object({
        "instances": {"type": "array", "items": ref("InstanceSummary")},
        "nextCursor": NULLABLE_TEXT, "count": {"type": ["integer", "null"], "minimum": 0}}),
    "HistoryEvent": _object(
        {"eventId": {"type": "integer"}, "type": TEXT, "timestamp": TIME},
        {"name": TEXT}, extra=True),
    "History": _object({"instanceID": TEXT,
                        "events": {"type": "array", "items": ref("HistoryEvent")}}),
    "RerunRequest": _object(
        {"fromEventID": {"type": "integer", "minimum": 0}},
        {"newInstanceID": {"type": "string", "maxLength": 64,
                           "pattern": "^[A-Za-z0-9_-]*$"},
         "input": {"description": "any JSON value; null for no input"}}),
    "BulkResult": _object({"matched": COUNT, "done": COUNT, "storedBytes": COUNT,
                           "dryRun": {"type": "boolean"}}),
    "Diagnostics": _object({
        "instanceID": TEXT, "workflowName": TEXT, "version": NULLABLE_TEXT,
        "runtimeStatus": STATUS, "stalledReason": NULLABLE_TEXT,
        "dialect": {"type": "string"}, "lastUpdatedAt": TIME,
        "secondsSinceProgress": {"type": "number", "minimum": 0},
        "scheduledStartAt": NULLABLE_TIME, "inboxSize": COUNT, "workflowTurn": _WORK,
        "pendingActivities": {"type": "array", "items": _object({
            "taskId": {"type": "integer"}, "name": TEXT, "scheduledAt": TIME,
            "dispatch": _WORK, "runnableByStreams": _STREAMS})},
        "pendingTimers": {"type": "array", "items": _object(
            {"timerId": {"type": "integer"}, "fireAt": TIME})},
        "pendingChildren": {"type": "array", "items": _object(
            {"taskId": {"type": "integer"}, "instanceID": TEXT, "name": TEXT})},
        "lastFailure": {"oneOf": [{"type": "null"}, _object({
            "eventId": {"type": "integer"}, "type": TEXT, "errorType": TEXT,
            "message": TEXT, "timestamp": TIME})]},
        "workers": _object({"connectedStreams": _STREAMS, "runnableByStreams": _STREAMS,
                            "canRun": {"type": "boolean"}}),
        "hints": {"type": "array", "items": TEXT}}),
    "Metadata": _object({
        "version": TEXT, "startedAt": TIME, "uptimeSeconds": {"type": "number", "minimum": 0},
        "listeners": {"type": "array", "items": _object({
            "name": TEXT, "protocol": {"type": "string", "enum": ["grpc", "http"]},
            "dialect": {"type": ["string", "null"]}, "host": TEXT,
            "port": {"type": "integer", "minimum": 0, "maximum": 65535}})},
        "workers": {"type": "object", "additionalProperties": _object(
            {"streams": COUNT, "filteredStreams": COUNT})},
        "instances": _object({"total": COUNT, "byStatus": _object(
            {s.name: COUNT for s in RuntimeStatus})}),
        "store": _object({"backend": TEXT, "sizeBytes": COUNT}),
        "traceUrlTemplate": {"type": ["string", "null"]}}),
    "Storage": _object({
        "store": _object({"backend": TEXT, "fileBytes": COUNT, "freeBytes": COUNT}),
        "instances": _object({**_MEASURE, "byStatus": _object(
            {s.name: _object(_MEASURE) for s in RuntimeStatus})}),
        "largest": {"type": "array", "items": _object({
            "instanceID": TEXT, "name": TEXT, "runtimeStatus": TEXT, "createdAt": TIME,
            "historyLength": COUNT, "storedBytes": COUNT})},
        "retention": _object({
            "policySeconds": {"type": "object", "additionalProperties": {"type": "number"}},
            "backlog": {"type": "object", "additionalProperties": _object(_MEASURE)},
            "lastSweep": {"oneOf": [{"type": "null"}, _object({
                k: COUNT for k in ("purged", "purgedBytes", "archived", "skipped", "packed",
                                   "reclaimedPages")})]}})}),
}
