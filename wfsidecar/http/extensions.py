"""What Dapr's HTTP API lacks: list and count, history, rerun, bulk terminate and purge.

Same error shape and prefixes as Dapr's routes. Selections go through the read model's
one filter (filters.py), so list, count, dry run and bulk action agree on what matches,
and no read takes an actor turn.
"""

from __future__ import annotations

import json
from typing import Any

from aiohttp import web

from wfsidecar.engine import RuntimeStatus
from wfsidecar.http import errors as codes
from wfsidecar.http.context import api
from wfsidecar.http.errors import ApiError, operation
from wfsidecar.http.filters import BULK_PARAMETERS, flag, instance_filter, instance_query
from wfsidecar.http.history_json import events_json
from wfsidecar.http.wire import (
    instance_id_response,
    json_object,
    json_response,
    optional_timestamp,
    timestamp,
)
from wfsidecar.http.workflow_api import INSTANCE, WORKFLOWS, instance_id, new_instance_id
from wfsidecar.store.instances import InstanceRow
from wfsidecar.workflow.requests import BulkRequest, BulkResult


def add_routes(router: web.UrlDispatcher, prefix: str) -> None:
    router.add_get(prefix + WORKFLOWS, list_instances)
    router.add_get(prefix + INSTANCE + "/history", history)
    router.add_post(prefix + INSTANCE + "/rerun", rerun)
    router.add_post(prefix + WORKFLOWS + "/terminate", bulk_terminate)
    router.add_post(prefix + WORKFLOWS + "/purge", bulk_purge)


def row_json(row: InstanceRow) -> dict[str, Any]:
    return {
        "instanceID": row.instance_id, "workflowName": row.name, "version": row.version,
        "runtimeStatus": RuntimeStatus(row.status).name,
        "createdAt": timestamp(row.created_ms), "lastUpdatedAt": timestamp(row.updated_ms),
        "completedAt": optional_timestamp(row.completed_ms),
        "parentInstanceID": row.parent_id, "dialect": row.dialect,
        "stalledReason": row.stall_reason, "customStatus": row.custom_status,
        "historyLength": row.history_len, "storedBytes": row.stored_bytes}


@operation("ERR_LIST_WORKFLOWS")
async def list_instances(request: web.Request) -> web.StreamResponse:
    query = instance_query(request.query)
    service = api(request).service
    page = await service.list_instances(query)
    count = await service.count_instances(query.filter) if flag(request.query, "count") \
        else None
    return json_response({"instances": [row_json(r) for r in page.rows],
                          "nextCursor": page.next_cursor, "count": count})


@operation("ERR_GET_WORKFLOW")
async def history(request: web.Request) -> web.StreamResponse:
    target = instance_id(request)
    events = await api(request).service.history(target)
    return json_response({"instanceID": target, "events": events_json(events)})


@operation("ERR_RERUN_WORKFLOW")
async def rerun(request: web.Request) -> web.StreamResponse:
    source = instance_id(request)
    body = await json_object(request)
    unknown = sorted(set(body) - {"fromEventID", "newInstanceID", "input"})
    if unknown:
        raise ApiError(400, codes.MALFORMED_REQUEST, (
            f"unknown field {unknown[0]!r}; the body takes fromEventID, newInstanceID "
            "and input"))
    event_id = body.get("fromEventID")
    if not isinstance(event_id, int) or isinstance(event_id, bool) or event_id < 0:
        raise ApiError(400, codes.MALFORMED_REQUEST,
                       "fromEventID must be the id of an event of the history (an integer)")
    new_id = body.get("newInstanceID")
    if new_id is not None and not isinstance(new_id, str):
        raise ApiError(400, codes.MALFORMED_REQUEST, "newInstanceID must be a string")
    # The new input is any JSON value, stored as its JSON text (what the SDKs write);
    # null is no input at all, and leaving it out keeps the source's.
    overwrite = "input" in body
    new_input = None if body.get("input") is None else json.dumps(
        body["input"], ensure_ascii=False, separators=(",", ":"))
    started = await api(request).service.rerun_from_event(
        source, event_id, new_instance_id=new_instance_id(new_id),
        overwrite_input=overwrite, new_input=new_input)
    return instance_id_response(started)


@operation("ERR_TERMINATE_WORKFLOW")
async def bulk_terminate(request: web.Request) -> web.StreamResponse:
    bulk = _bulk_request(request)
    return _bulk_json(await api(request).service.terminate_many(bulk), bulk)


@operation("ERR_PURGE_WORKFLOW")
async def bulk_purge(request: web.Request) -> web.StreamResponse:
    bulk = _bulk_request(request)
    return _bulk_json(await api(request).service.purge_many(bulk), bulk)


def _bulk_request(request: web.Request) -> BulkRequest:
    # Always recursive, as Dapr's single terminate and purge are.
    return BulkRequest(instance_filter(request.query, BULK_PARAMETERS), recursive=True,
                       dry_run=flag(request.query, "dryRun"))


def _bulk_json(result: BulkResult, bulk: BulkRequest) -> web.Response:
    return json_response({"matched": result.matched, "done": result.done,
                          "storedBytes": result.stored_bytes, "dryRun": bulk.dry_run})
