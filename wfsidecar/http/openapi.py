"""``GET /v1.0/openapi.json``: the OpenAPI 3.1 document of every HTTP route.

Kept true by tests/http/test_openapi_fuzz.py, which fuzzes a real daemon from this very
document (schemathesis) and fails on any 5xx or any response that breaks it. The
workflow routes are also served under ``/v1.0-beta1`` and ``/v1.0-alpha1``; the document
lists the ``/v1.0`` ones.
"""

from __future__ import annotations

from typing import Any

from aiohttp import web

from wfsidecar.http.filters import FILTER_PARAMETERS
from wfsidecar.http.openapi_schemas import SCHEMAS, STATUS, ref
from wfsidecar.http.wire import json_response
from wfsidecar.store.instances import MAX_PAGE, SORT_FIELDS

WORKFLOWS = "/v1.0/workflows/{component}"
INSTANCE = WORKFLOWS + "/{instanceID}"


def add_routes(router: web.UrlDispatcher, version: str) -> None:
    document = build(version)

    async def openapi(request: web.Request) -> web.StreamResponse:
        return json_response(document)

    router.add_get("/v1.0/openapi.json", openapi)


def _path(name: str, description: str) -> dict[str, Any]:
    return {"name": name, "in": "path", "required": True, "description": description,
            "schema": {"type": "string"}}


def _query(name: str, schema: dict[str, Any], description: str) -> dict[str, Any]:
    return {"name": name, "in": "query", "required": False, "description": description,
            "schema": schema}


_COMPONENT = _path("component", "workflow component; any name (conventionally dapr)")
_INSTANCE = _path("instanceID", "the instance id")
_BOOL = {"type": "boolean"}
_TIME = {"type": "string", "description": "RFC 3339 with a zone, or epoch milliseconds"}
_FILTERS = {
    "status": _query("status", {"type": "array", "items": STATUS},
                     "runtime status names (repeat, or separate with commas)"),
    "name": _query("name", {"type": "string"}, "workflow name"),
    "idPrefix": _query("idPrefix", {"type": "string"}, "instance ids starting with this"),
    "parentID": _query("parentID", {"type": "string"}, "children of this instance"),
    **{p: _query(p, _TIME, "half-open time range [From, To)") for p in FILTER_PARAMETERS
       if p.endswith(("From", "To"))},
    "stalled": _query("stalled", _BOOL, "only STALLED instances (status=STALLED)"),
}
_LIST = [*_FILTERS.values(),
         _query("sort", {"type": "string", "enum": list(SORT_FIELDS)}, "default created"),
         _query("order", {"type": "string", "enum": ["asc", "desc"]}, "default desc"),
         _query("pageSize", {"type": "integer", "minimum": 1, "maximum": MAX_PAGE},
                "default 100"),
         _query("cursor", {"type": "string"}, "nextCursor of the previous page"),
         _query("count", _BOOL, "also count every match")]
_BULK = [*_FILTERS.values(), _query("dryRun", _BOOL, "only count what would be done")]
_RAW_BODY = {"required": False, "description": "raw text, passed through unparsed",
             "content": {"application/json": {"schema": {}},
                         "text/plain": {"schema": {"type": "string"}}}}


def _json(status: str, schema: str, description: str) -> dict[str, Any]:
    return {status: {"description": description,
                     "content": {"application/json": {"schema": ref(schema)}}}}


def _op(op_id: str, summary: str, params: list[dict[str, Any]],
        ok: dict[str, Any], body: dict[str, Any] | None = None) -> dict[str, Any]:
    operation = {"operationId": op_id, "summary": summary, "parameters": params,
                 "responses": {**ok, **_json("default", "Error", "Dapr's error JSON")}}
    if body is not None:
        operation["requestBody"] = body
    return operation


_ACCEPTED = _json("202", "Empty", "accepted")
_REASON = _query("reason", {"type": "string"}, "recorded with the event")


def build(version: str) -> dict[str, Any]:
    """The document, with ``version`` as the API's version."""
    paths: dict[str, Any] = {
        "/v1.0/healthz": {"get": _op("healthz", "204 when ready, 503 otherwise", [],
                                     {"204": {"description": "ready"}})},
        "/v1.0/healthz/outbound": {"get": _op(
            "healthzOutbound", "as /v1.0/healthz", [], {"204": {"description": "ready"}})},
        "/v1.0/metadata": {"get": _op("metadata", "daemon summary", [],
                                      _json("200", "Metadata", "the summary"))},
        "/v1.0/storage": {"get": _op("storage", "storage report: file, statuses, retention", [
            _query("largest", {"type": "integer", "minimum": 0, "maximum": 100},
                   "how many of the largest instances to list (default 10)")],
            _json("200", "Storage", "the report"))},
        "/v1.0/openapi.json": {"get": _op("openapi", "this document", [], {"200": {
            "description": "OpenAPI 3.1", "content": {"application/json": {"schema": {
                "type": "object"}}}}})},
        WORKFLOWS + "/{workflowName}/start": {"post": _op(
            "start", "start a workflow (Dapr)",
            [_COMPONENT, _path("workflowName", "the workflow to run"),
             _query("instanceID", {"type": "string"}, "a random UUID if left out"),
             _query("startTime", {"type": "string"}, "ours: a scheduled start, RFC 3339 "
                    "with a zone or epoch milliseconds; the first turn waits until then"),
             _query("appID", {"type": "string"}, "accepted and ignored")],
            _json("202", "StartResponse", "started"), _RAW_BODY)},
        INSTANCE: {"get": _op("get", "Dapr's metadata of an instance", [_COMPONENT, _INSTANCE],
                       _json("200", "WorkflowMetadata", "the instance"))},
        INSTANCE + "/raiseEvent/{eventName}": {"post": _op(
            "raiseEvent", "raise an event (Dapr)",
            [_COMPONENT, _INSTANCE, _path("eventName", "the event's name")],
            _ACCEPTED, _RAW_BODY)},
        INSTANCE + "/pause": {"post": _op("pause", "suspend (Dapr)", [_COMPONENT, _INSTANCE,
                                                                _REASON], _ACCEPTED)},
        INSTANCE + "/resume": {"post": _op("resume", "resume (Dapr)", [_COMPONENT, _INSTANCE,
                                                                 _REASON], _ACCEPTED)},
        INSTANCE + "/terminate": {"post": _op("terminate", "terminate, recursively (Dapr)",
                                       [_COMPONENT, _INSTANCE], _ACCEPTED, _RAW_BODY)},
        INSTANCE + "/purge": {"post": _op("purge", "purge a finished instance and its children",
                                   [_COMPONENT, _INSTANCE], _ACCEPTED)},
        WORKFLOWS: {"get": _op("list", "list and count instances", [_COMPONENT, *_LIST],
                       _json("200", "InstancePage", "one page"))},
        INSTANCE + "/history": {"get": _op("history", "the instance's history events",
                                    [_COMPONENT, _INSTANCE],
                                    _json("200", "History", "the events"))},
        INSTANCE + "/rerun": {"post": _op(
            "rerun", "start a copy from an activity event", [_COMPONENT, _INSTANCE],
            _json("202", "StartResponse", "the copy started"),
            {"required": True, "content": {"application/json": {
                "schema": ref("RerunRequest")}}})},
        INSTANCE + "/diagnostics": {"get": _op("diagnostics", "why is it stuck",
                                        [_COMPONENT, _INSTANCE],
                                        _json("200", "Diagnostics", "the diagnosis"))},
        WORKFLOWS + "/terminate": {"post": _op("bulkTerminate", "terminate every unfinished match",
                                       [_COMPONENT, *_BULK],
                                       _json("200", "BulkResult", "done or counted"))},
        WORKFLOWS + "/purge": {"post": _op("bulkPurge", "purge every finished match",
                                   [_COMPONENT, *_BULK],
                                   _json("200", "BulkResult", "done or counted"))},
    }
    return {
        "openapi": "3.1.0",
        "info": {"title": "wfsidecar HTTP workflow API", "version": version,
                 "description": "Dapr's HTTP workflow API and its extensions; see "
                                "docs/http-api.md. Workflow routes are also served under "
                                "/v1.0-beta1 and /v1.0-alpha1."},
        "paths": paths,
        "components": {"schemas": SCHEMAS},
    }
