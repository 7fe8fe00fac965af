"""A traced app on the Dapr SDK (``dapr`` 1.19 with the OpenTelemetry SDK), for
tests/tracing: its own spans go to the same Zipkin collector as the daemon's.

  dapr_trace_app.py work            run the worker until killed
  dapr_trace_app.py start ID        start an "order" workflow
  dapr_trace_app.py raise ID        raise its "approve" event
  dapr_trace_app.py await ID        wait for it, print [status, output] as JSON

Each activity writes the trace context it runs in to $TRACE_LOG as JSON: the span the SDK
opened for it from ActivityRequest.parentTraceContext, and that span's parent, which must
be the daemon's activity span.
"""

from __future__ import annotations

import json
import os
import sys
import time
from datetime import timedelta

from dapr.ext import workflow as wf
from opentelemetry import trace
from opentelemetry.exporter.zipkin.json import ZipkinExporter
from opentelemetry.sdk.resources import SERVICE_NAME, Resource
from opentelemetry.sdk.trace import ReadableSpan, TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor

ENDPOINT = os.environ["DAPR_GRPC_ENDPOINT"]
HOST, PORT = ENDPOINT.rsplit(":", 1)
runtime = wf.WorkflowRuntime(host=HOST, port=PORT)


def trace_log(activity: str) -> None:
    span = trace.get_current_span()
    context = span.get_span_context()
    parent = span.parent if isinstance(span, ReadableSpan) else None
    with open(os.environ["TRACE_LOG"], "a") as log:
        log.write(json.dumps({
            "activity": activity, "trace_id": f"{context.trace_id:032x}",
            "span_id": f"{context.span_id:016x}",
            "parent_id": f"{parent.span_id:016x}" if parent else None}) + "\n")


@runtime.activity(name="reserve")
def reserve(ctx: wf.WorkflowActivityContext, order: str) -> str:
    trace_log("reserve")
    return f"reserved {order}"


@runtime.activity(name="pack")
def pack(ctx: wf.WorkflowActivityContext, order: str) -> str:
    trace_log("pack")
    return f"packed {order}"


@runtime.activity(name="charge")
def charge(ctx: wf.WorkflowActivityContext, order: str) -> str:
    trace_log("charge")
    time.sleep(0.05)
    return f"charged {order}"


@runtime.workflow(name="ship")
def ship(ctx: wf.DaprWorkflowContext, order: str):  # type: ignore[no-untyped-def]
    packed = yield ctx.call_activity(pack, input=order)
    return packed


@runtime.workflow(name="order")
def order(ctx: wf.DaprWorkflowContext, order: str):  # type: ignore[no-untyped-def]
    yield ctx.call_activity(reserve, input=order)
    yield ctx.create_timer(timedelta(seconds=1))
    yield ctx.call_child_workflow(ship, input=order, instance_id=f"{ctx.instance_id}-ship")
    ctx.set_custom_status("waiting for approval")
    yield ctx.wait_for_external_event("approve")
    charged = yield ctx.call_activity(charge, input=order)
    return charged


def main() -> None:
    mode = sys.argv[1]
    if mode == "work":
        provider = TracerProvider(resource=Resource.create({SERVICE_NAME: "trace-app"}))
        provider.add_span_processor(SimpleSpanProcessor(
            ZipkinExporter(endpoint=os.environ["APP_ZIPKIN_ENDPOINT"])))
        trace.set_tracer_provider(provider)
        runtime.start()
        print("WORKING", flush=True)
        while True:
            time.sleep(3600)
    client = wf.DaprWorkflowClient(host=HOST, port=PORT)
    instance_id = sys.argv[2]
    if mode == "start":
        client.schedule_new_workflow(order, input="o-1", instance_id=instance_id)
    elif mode == "raise":
        client.raise_workflow_event(instance_id, "approve", data=True)
    elif mode == "await":
        state = client.wait_for_workflow_completion(instance_id, timeout_in_seconds=120)
        assert state is not None
        print(json.dumps([state.runtime_status.name, state.serialized_output]), flush=True)


if __name__ == "__main__":
    main()
