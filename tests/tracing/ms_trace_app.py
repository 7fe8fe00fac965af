"""A traced app on Microsoft's SDK (``durabletask`` 1.12 with the OpenTelemetry SDK), for
tests/tracing: the same workflow as dapr_trace_app.py; its spans (and the client's
create_orchestration span, whose context the daemon's instance span takes as parent) go
to the same Zipkin collector as the daemon's.

  ms_trace_app.py work       run the worker until killed
  ms_trace_app.py run ID     start "order", raise "approve" once it waits, print
                             [status, output] as JSON
"""

from __future__ import annotations

import json
import os
import sys
import time
from datetime import timedelta
from typing import Any

from durabletask import client, task, worker
from opentelemetry import trace
from opentelemetry.exporter.zipkin.json import ZipkinExporter
from opentelemetry.sdk.resources import SERVICE_NAME, Resource
from opentelemetry.sdk.trace import ReadableSpan, TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor

ADDRESS = os.environ["TASKHUB_ADDRESS"]


def trace_log(activity: str) -> None:
    span = trace.get_current_span()
    context = span.get_span_context()
    parent = span.parent if isinstance(span, ReadableSpan) else None
    with open(os.environ["TRACE_LOG"], "a") as log:
        log.write(json.dumps({
            "activity": activity, "trace_id": f"{context.trace_id:032x}",
            "span_id": f"{context.span_id:016x}",
            "parent_id": f"{parent.span_id:016x}" if parent else None}) + "\n")


def reserve(ctx: task.ActivityContext, order: str) -> str:
    trace_log("reserve")
    return f"reserved {order}"


def pack(ctx: task.ActivityContext, order: str) -> str:
    trace_log("pack")
    return f"packed {order}"


def charge(ctx: task.ActivityContext, order: str) -> str:
    trace_log("charge")
    return f"charged {order}"


def ship(ctx: task.OrchestrationContext, order: str) -> Any:
    packed = yield ctx.call_activity(pack, input=order)
    return packed


def order(ctx: task.OrchestrationContext, order: str) -> Any:
    yield ctx.call_activity(reserve, input=order)
    yield ctx.create_timer(ctx.current_utc_datetime + timedelta(seconds=1))
    yield ctx.call_sub_orchestrator(ship, input=order, instance_id=f"{ctx.instance_id}-ship")
    ctx.set_custom_status("waiting for approval")
    yield ctx.wait_for_external_event("approve")
    charged = yield ctx.call_activity(charge, input=order)
    return charged


def main() -> None:
    provider = TracerProvider(resource=Resource.create({SERVICE_NAME: "trace-app-ms"}))
    provider.add_span_processor(SimpleSpanProcessor(
        ZipkinExporter(endpoint=os.environ["APP_ZIPKIN_ENDPOINT"])))
    trace.set_tracer_provider(provider)
    if sys.argv[1] == "work":
        w = worker.TaskHubGrpcWorker(host_address=ADDRESS)
        for orchestrator in (order, ship):
            w.add_orchestrator(orchestrator)
        for activity in (reserve, pack, charge):
            w.add_activity(activity)
        w.start()
        while True:
            time.sleep(3600)
    c = client.TaskHubGrpcClient(host_address=ADDRESS)
    instance_id = sys.argv[2]
    c.schedule_new_orchestration(order, input="o-1", instance_id=instance_id)
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        state = c.get_orchestration_state(instance_id)
        if state is not None and state.serialized_custom_status:
            break
        time.sleep(0.1)
    c.raise_orchestration_event(instance_id, "approve", data=True)
    state = c.wait_for_orchestration_completion(instance_id, timeout=120)
    assert state is not None
    print(json.dumps([state.runtime_status.name, state.serialized_output]), flush=True)
    provider.shutdown()


if __name__ == "__main__":
    main()
