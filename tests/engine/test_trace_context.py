"""Trace contexts the engine propagates for a traced instance (engine.md §6, hazard 39):
the activity span's context on TaskScheduled and the ActivityRequest, the instance span as
a child's parent, and the instance span id kept across continue-as-new."""

from __future__ import annotations

from wfsidecar import engine
from wfsidecar._proto.internal import orchestrator_service_pb2 as pb
from wfsidecar.telemetry import trace_ids

from .builders import APP, T0, Instance, child, complete, schedule

SPAN = "00f067aa0ba902b7"
CALLER = "00-4bf92f3577b34da6a3ce929d0e0e4736-b7ad6b7169203331-01"


def traced_start(parent: str | None = None) -> pb.HistoryEvent:
    context = pb.TraceContext(traceParent=parent) if parent else None
    return engine.execution_started(name="Flow", instance_id="wf", execution_id="exec-1",
                                    input=None, version=None, now_ms=T0, app_id=APP,
                                    parent_trace_context=context, span_id=SPAN)


def test_identity_of_a_root_instance_is_derived_from_persisted_fields() -> None:
    traced = trace_ids.instance_trace("wf", traced_start())
    assert traced is not None and traced.span_id == SPAN and traced.parent_id is None
    assert traced == trace_ids.instance_trace("wf", traced_start())  # same after a restart
    assert len(traced.trace_id) == 32 and traced.trace_id != "0" * 32
    under_caller = trace_ids.instance_trace("wf", traced_start(CALLER))
    assert under_caller is not None
    assert under_caller.trace_id == "4bf92f3577b34da6a3ce929d0e0e4736"
    assert under_caller.parent_id == "b7ad6b7169203331"
    untraced = engine.execution_started(name="Flow", instance_id="wf", execution_id="e",
                                        input=None, version=None, now_ms=T0)
    assert trace_ids.instance_trace("wf", untraced) is None


def test_activity_gets_its_own_span_context() -> None:
    wf = Instance(inbox=[traced_start(CALLER)])
    result = wf.turn(T0, schedule(0, "Hello"))
    traced = trace_ids.instance_trace("wf", wf.history[1])
    assert traced is not None
    (item,) = result.outbox
    assert isinstance(item, engine.ScheduleActivity) and item.trace_context is not None
    parent = trace_ids.context_parent(item.trace_context)
    assert parent is not None and parent.sampled
    assert (parent.trace_id, parent.span_id) == (traced.trace_id, traced.activity_span_id(0))
    # History shows the worker the same context; so does the ActivityRequest.
    assert result.history[-1].taskScheduled.parentTraceContext == item.trace_context
    request = engine.build_activity_request("wf", "exec-1", item.scheduled, item.trace_context)
    assert request.parentTraceContext == item.trace_context


def test_a_microsoft_workers_own_context_stays_on_the_event() -> None:
    wf = Instance(inbox=[traced_start()])
    action = schedule(0, "Hello")
    sdk = pb.TraceContext(traceParent="00-" + "1" * 32 + "-" + "2" * 16 + "-01")
    action.scheduleTask.parentTraceContext.CopyFrom(sdk)
    (item,) = wf.turn(T0, action).outbox
    assert isinstance(item, engine.ScheduleActivity)
    assert item.scheduled.taskScheduled.parentTraceContext == sdk  # the SDK's client span
    assert item.trace_context is not None and item.trace_context != sdk  # ours for the worker


def test_child_is_traced_under_the_parents_instance_span() -> None:
    wf = Instance(inbox=[traced_start()])
    (start,) = wf.turn(T0, child(1, "Child")).outbox
    assert isinstance(start, engine.StartChild)
    parent = trace_ids.instance_trace("wf", wf.history[1])
    kid = trace_ids.instance_trace(start.instance_id, start.started)
    assert parent is not None and kid is not None
    assert kid.trace_id == parent.trace_id and kid.parent_id == parent.span_id
    assert kid.span_id not in (parent.span_id, parent.activity_span_id(1))


def test_untraced_instances_pass_contexts_through_as_before() -> None:
    start = engine.execution_started(name="Flow", instance_id="wf", execution_id="exec-1",
                                     input=None, version=None, now_ms=T0,
                                     parent_trace_context=pb.TraceContext(traceParent=CALLER))
    wf = Instance(inbox=[start])
    result = wf.turn(T0, schedule(0, "Hello"), child(1, "Child"))
    activity, kid = result.outbox
    assert isinstance(activity, engine.ScheduleActivity) and activity.trace_context is None
    assert not activity.scheduled.taskScheduled.HasField("parentTraceContext")
    assert isinstance(kid, engine.StartChild)
    assert kid.started.executionStarted.parentTraceContext.traceParent == CALLER
    assert not kid.started.executionStarted.HasField("orchestrationSpanID")


def test_continue_as_new_keeps_the_instance_span() -> None:
    wf = Instance(inbox=[traced_start(CALLER)])
    result = wf.turn(T0, complete(0, pb.ORCHESTRATION_STATUS_CONTINUED_AS_NEW, result="1"))
    assert result.continued_as_new
    first = trace_ids.instance_trace("wf", traced_start(CALLER))
    again = trace_ids.instance_trace("wf", result.next_inbox[0])
    assert first is not None and again is not None
    assert (again.trace_id, again.span_id, again.parent_id) == \
        (first.trace_id, first.span_id, first.parent_id)
    assert again.execution_id != first.execution_id  # child span ids differ per generation
    assert again.activity_span_id(0) != first.activity_span_id(0)


def test_traceparent_parsing() -> None:
    parsed = trace_ids.parse_traceparent(CALLER)
    assert parsed is not None and parsed.header() == CALLER
    assert trace_ids.parse_traceparent("00-" + "0" * 32 + "-b7ad6b7169203331-01") is None
    assert trace_ids.parse_traceparent("ff-" + "1" * 32 + "-b7ad6b7169203331-01") is None
    assert trace_ids.parse_traceparent("garbage") is None
    # durabletask-go's older form: a bare trace id, the span id beside it.
    old = trace_ids.parse_traceparent("4bf92f3577b34da6a3ce929d0e0e4736", "b7ad6b7169203331")
    assert old is not None and old.span_id == "b7ad6b7169203331"
