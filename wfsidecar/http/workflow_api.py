"""Dapr's seven HTTP workflow routes (pkg/api/http/workflow.go), on the WorkflowService.

Byte-compatible with Dapr: the same routes under every version prefix, any component
name (Dapr stopped checking it), the raw body as input or event data, ``?instanceID=``
optional on start (a random UUID), Dapr's instance-id rules on create (at most 64
letters, digits, ``-`` and ``_``), 202 with ``{"instanceID":...}`` or ``{}``, GET's exact
JSON (wire.py), terminate and purge always recursive, purge of terminal instances only,
and Dapr's ``ERR_`` codes. Where Dapr is wrong this is right (docs/http-api.md): STALLED
reads ``STALLED``, a conflict is a 409 rather than a 500. Dapr's ``appID`` parameter is
accepted and ignored: every instance lives in this daemon.

Instance and name segments may be empty (``[^/]*``) so that a missing one is answered
with Dapr's ``ERR_..._MISSING`` code instead of a bare route miss.
"""

from __future__ import annotations

import uuid

from aiohttp import web

from wfsidecar.errors import InvalidArgumentError
from wfsidecar.http import errors as codes
from wfsidecar.http.context import api
from wfsidecar.http.errors import ApiError, operation
from wfsidecar.http.wire import (
    dapr_workflow_json,
    instance_id_response,
    parse_time,
    text_body,
)
from wfsidecar.types import MAX_INSTANCE_ID_LENGTH, validate_instance_id
from wfsidecar.workflow.requests import PurgeRequest, RunningPurge, StartRequest, TraceContext

WORKFLOWS = "/workflows/{component}"
INSTANCE = WORKFLOWS + "/{instanceID:[^/]*}"
EMPTY = b"{}"  # protojson of google.protobuf.Empty, which Dapr answers these routes with


def add_routes(router: web.UrlDispatcher, prefix: str) -> None:
    router.add_post(prefix + WORKFLOWS + "/{workflowName:[^/]*}/start", start)
    router.add_get(prefix + INSTANCE, get)
    router.add_post(prefix + INSTANCE + "/raiseEvent/{eventName:[^/]*}", raise_event)
    router.add_post(prefix + INSTANCE + "/pause", pause)
    router.add_post(prefix + INSTANCE + "/resume", resume)
    router.add_post(prefix + INSTANCE + "/terminate", terminate)
    router.add_post(prefix + INSTANCE + "/purge", purge)


def instance_id(request: web.Request) -> str:
    """The instance id of the path (Dapr checks only that there is one, except on create).

    Raises:
        ApiError: 400 ``ERR_INSTANCE_ID_PROVIDED_MISSING``.
    """
    value = request.match_info["instanceID"]
    if not value:
        raise ApiError(400, codes.INSTANCE_ID_MISSING, "no instance ID was provided")
    return value


def new_instance_id(value: str | None) -> str:
    """The id of an instance about to be created: ``value`` under Dapr's rules, or a
    random UUID when none is given.

    Raises:
        ApiError: 400 ``ERR_INSTANCE_ID_TOO_LONG`` or ``ERR_INSTANCE_ID_INVALID``.
    """
    if not value:
        return str(uuid.uuid4())
    if len(value) > MAX_INSTANCE_ID_LENGTH:
        raise ApiError(400, codes.INSTANCE_ID_TOO_LONG, (
            f"workflow instance ID exceeds the max length of {MAX_INSTANCE_ID_LENGTH} "
            "characters"))
    try:
        validate_instance_id(value)
    except InvalidArgumentError as exc:
        raise ApiError(400, codes.INSTANCE_ID_INVALID, (
            f"workflow instance ID '{value}' is invalid: only letters, digits, '-' and "
            "'_' are allowed")) from exc
    return value


def accepted() -> web.Response:
    return web.Response(status=202, body=EMPTY, content_type="application/json")


@operation("ERR_START_WORKFLOW")
async def start(request: web.Request) -> web.StreamResponse:
    new_id = new_instance_id(request.query.get("instanceID"))
    name = request.match_info["workflowName"]
    if not name:
        raise ApiError(400, codes.NAME_MISSING, "workflow name is not configured")
    start_time = request.query.get("startTime")  # ours: Dapr's HTTP route has none
    started = await api(request).service.start(StartRequest(
        name=name, instance_id=new_id, input=await text_body(request),
        scheduled_start_ms=parse_time(start_time, "startTime") if start_time else None,
        parent_trace_context=caller_trace_context(request)))
    return instance_id_response(started)


def caller_trace_context(request: web.Request) -> TraceContext | None:
    """The W3C ``traceparent`` (and ``tracestate``) a caller sent: the parent of the new
    instance's span, as CreateInstanceRequest.parentTraceContext is over gRPC."""
    parent = request.headers.get("traceparent", "").strip()
    if not parent:
        return None
    return TraceContext(trace_parent=parent, trace_state=request.headers.get("tracestate"))


@operation("ERR_GET_WORKFLOW")
async def get(request: web.Request) -> web.StreamResponse:
    wanted = instance_id(request)
    snapshot = await api(request).service.get(wanted)
    if snapshot is None:
        raise ApiError(404, codes.INSTANCE_NOT_FOUND,
                       f"unable to find workflow with the provided instance ID: {wanted}")
    return web.Response(body=dapr_workflow_json(snapshot), content_type="application/json")


@operation("ERR_RAISE_EVENT_WORKFLOW")
async def raise_event(request: web.Request) -> web.StreamResponse:
    target = instance_id(request)
    event = request.match_info["eventName"]
    if not event:
        raise ApiError(400, codes.EVENT_NAME_MISSING, "missing workflow event name")
    await api(request).service.raise_event(target, event, await text_body(request))
    return accepted()


@operation("ERR_PAUSE_WORKFLOW")
async def pause(request: web.Request) -> web.StreamResponse:
    await api(request).service.suspend(instance_id(request), request.query.get("reason"))
    return accepted()


@operation("ERR_RESUME_WORKFLOW")
async def resume(request: web.Request) -> web.StreamResponse:
    await api(request).service.resume(instance_id(request), request.query.get("reason"))
    return accepted()


@operation("ERR_TERMINATE_WORKFLOW")
async def terminate(request: web.Request) -> web.StreamResponse:
    # The optional raw body becomes the output (Dapr's HTTP route has no output).
    target = instance_id(request)
    await api(request).service.terminate(target, await text_body(request), recursive=True)
    return accepted()


@operation("ERR_PURGE_WORKFLOW")
async def purge(request: web.Request) -> web.StreamResponse:
    target = instance_id(request)
    purged = await api(request).service.purge(
        PurgeRequest(target, recursive=True, running=RunningPurge.REFUSE))
    if not purged:
        raise ApiError(404, codes.INSTANCE_NOT_FOUND,
                       f"unable to find workflow with the provided instance ID: {target}")
    return accepted()
