"""``GET .../{instanceID}/diagnostics``: why is this instance not moving?

The answer is built by ``workflow.diagnostics`` from the instance's history and a
read-only view of the dispatcher; this module only writes it as JSON.
"""

from __future__ import annotations

from typing import Any

from aiohttp import web

from wfsidecar.http.context import api
from wfsidecar.http.errors import operation
from wfsidecar.http.wire import json_response, optional_timestamp, timestamp
from wfsidecar.http.workflow_api import INSTANCE, instance_id
from wfsidecar.workflow.diagnostics import Diagnosis
from wfsidecar.workflow.dispatch_view import WorkState


def add_routes(router: web.UrlDispatcher, prefix: str) -> None:
    router.add_get(prefix + INSTANCE + "/diagnostics", diagnostics)


@operation("ERR_GET_WORKFLOW")
async def diagnostics(request: web.Request) -> web.StreamResponse:
    diagnosis = await api(request).diagnostics.diagnose(instance_id(request))
    return json_response(diagnosis_json(diagnosis))


def diagnosis_json(d: Diagnosis) -> dict[str, Any]:
    view = d.snapshot.view
    failure = d.last_failure
    return {
        "instanceID": view.instance_id, "workflowName": view.name, "version": view.version,
        "runtimeStatus": view.status.name, "stalledReason": view.stall_reason,
        "dialect": d.snapshot.dialect,
        "lastUpdatedAt": timestamp(view.last_updated_ms),
        "secondsSinceProgress": d.idle_ms / 1000,
        "scheduledStartAt": optional_timestamp(view.scheduled_start_ms),
        "inboxSize": d.snapshot.inbox_len,
        "workflowTurn": _work(d.turn),
        "pendingActivities": [
            {"taskId": a.task_id, "name": a.name, "scheduledAt": timestamp(a.scheduled_ms),
             "dispatch": _work(a.work), "runnableByStreams": list(a.runnable_by)}
            for a in d.activities],
        "pendingTimers": [{"timerId": t.timer_id, "fireAt": timestamp(t.fire_at_ms)}
                          for t in d.timers],
        "pendingChildren": [{"taskId": c.task_id, "instanceID": c.instance_id,
                             "name": c.name} for c in d.children],
        "lastFailure": None if failure is None else {
            "eventId": failure.event_id, "type": failure.kind,
            "errorType": failure.error_type, "message": failure.message,
            "timestamp": timestamp(failure.timestamp_ms)},
        "workers": {"connectedStreams": list(d.connected),
                    "runnableByStreams": list(d.runnable_by),
                    "canRun": bool(d.runnable_by)},
        "hints": list(d.hints),
    }


def _work(work: WorkState | None) -> dict[str, Any] | None:
    """Where a work item is; None when it is neither queued nor held by a worker."""
    if work is None:
        return None
    return {"state": work.state, "attempts": work.attempts, "stream": work.stream}
