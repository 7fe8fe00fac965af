"""Span derivation (telemetry/spans.py) from the engine's own history, and the Zipkin JSON
the tracing observer makes of it: ids from persisted data, parents, times, attributes,
no payloads unless asked, one instance span across continue-as-new."""

from __future__ import annotations

import json
from collections.abc import Sequence

from opentelemetry.exporter.zipkin.encoder import Protocol
from opentelemetry.exporter.zipkin.json import ZipkinExporter
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

from tests.engine.builders import APP, T0, Instance, child, complete, schedule, timer
from tests.tracing.zipkin_collector import span_problems
from wfsidecar import engine
from wfsidecar._proto.internal import orchestrator_service_pb2 as pb
from wfsidecar.config import TracingConfig
from wfsidecar.telemetry import trace_ids
from wfsidecar.telemetry.observer import EndedGeneration, WorkflowCommit, WorkItemEvent
from wfsidecar.telemetry.spans import SpanData, SpanDeriver
from wfsidecar.telemetry.tracing import TracingObserver, TracingSettings

SPAN = "00f067aa0ba902b7"


def start(input: str | None = '"secret input"') -> pb.HistoryEvent:
    return engine.execution_started(name="Flow", instance_id="wf", execution_id="exec-1",
                                    input=input, version=None, now_ms=T0, app_id=APP,
                                    span_id=SPAN)


def wait_marker(id: int, event: str) -> pb.OrchestratorAction:
    action = timer(id, 253402300799000)  # Dapr's endless wait: a timer at 9999-12-31
    action.createTimer.externalEvent.name = event
    return action


class Driver:
    """Turns of an Instance, reported as the Publisher reports committed turns."""

    def __init__(self) -> None:
        self.wf = Instance(inbox=[start()])
        self.status: int | None = None

    def turn(self, now_ms: int, *actions: pb.OrchestratorAction,
             applied_ms: int | None = None) -> WorkflowCommit:
        before = list(self.wf.history)
        shown = engine.begin_turn(before, list(self.wf.inbox), now_ms)  # what the worker sees
        result = self.wf.turn(now_ms, *actions, applied_ms=applied_ms)
        ended = None
        if result.continued_as_new:
            history = [*before, *(shown.new if shown else [])]
            ended = EndedGeneration(history[1], history, tuple(history[len(before):]))
        history = self.wf.history
        new = tuple(history[len(before):]) if ended is None else tuple(history)
        started = next((e for e in (*history[:2], *self.wf.inbox[:1])
                        if e.HasField("executionStarted")), None)
        commit = WorkflowCommit(
            "wf", "Flow", None, result.view.execution_id, int(result.view.status),
            self.status, result.view.created_ms, result.view.completed_ms, "dapr", started,
            new, history=history, first_created_ms=T0, continued=ended)
        self.status = int(result.view.status)
        return commit


def by_name(spans: Sequence[SpanData]) -> dict[str, SpanData]:
    return {s.name: s for s in spans}


def test_a_workflow_becomes_a_tree_of_spans() -> None:
    run, deriver = Driver(), SpanDeriver()
    assert deriver.spans(run.turn(T0, schedule(0, "Hello", '"x"'), timer(1, T0 + 5_000),
                                  wait_marker(2, "Approve"), child(3, "Child"))) == []
    deriver.work_completed(WorkItemEvent("activity", "dapr", "Hello", "wf", 0, 2, 1))
    run.wf.inbox = [engine.task_completed(0, '"hi"', T0 + 1_000)]
    first = deriver.spans(run.turn(T0 + 1_000))
    run.wf.inbox = [engine.timer_fired(1, T0 + 5_000, T0)]
    second = deriver.spans(run.turn(T0 + 5_002))
    run.wf.inbox = [engine.event_raised("approve", '"yes"', T0 + 7_000)]
    third = deriver.spans(run.turn(T0 + 7_001))
    run.wf.inbox = [engine.sub_orchestration_completed(3, None, T0 + 8_000)]
    last = deriver.spans(run.turn(T0 + 8_001, complete(4, result='"secret output"')))

    traced = trace_ids.instance_trace("wf", start())
    assert traced is not None
    activity, = first
    assert (activity.name, activity.kind) == ("activity||Hello", "SERVER")
    assert (activity.trace_id, activity.parent_id) == (traced.trace_id, SPAN)
    assert activity.span_id == traced.activity_span_id(0)  # what the worker was handed
    assert (activity.start_ns, activity.end_ns) == (T0 * 10**6, (T0 + 1_000) * 10**6)
    assert activity.attributes == {
        "durabletask.type": "activity", "durabletask.task.name": "Hello",
        "durabletask.task.instance_id": "wf", "durabletask.task.task_id": 0,
        "durabletask.task.status": "Completed", "wfsidecar.task.attempts": 2}
    fired, = second
    assert (fired.name, fired.kind, fired.span_id) == ("timer", "INTERNAL",
                                                       traced.timer_span_id(1))
    assert fired.end_ns == (T0 + 5_002) * 10**6  # delivered, not the fired event's stamp
    assert fired.attributes["durabletask.fire_at"] == "2023-11-14T22:13:25Z"
    wait, = third
    assert (wait.name, wait.kind) == ("event||approve", "INTERNAL")
    assert wait.start_ns == T0 * 10**6  # from the wait, not from the event's arrival
    assert wait.attributes["wfsidecar.event.waited"] is True
    instance, = last
    assert (instance.name, instance.kind, instance.span_id) == ("orchestration||Flow",
                                                                "SERVER", SPAN)
    assert instance.parent_id is None and instance.error is None
    assert instance.start_ns == T0 * 10**6 and instance.end_ns == (T0 + 8_001) * 10**6
    assert instance.attributes["durabletask.runtime_status"] == "COMPLETED"
    assert [e.name for e in instance.events] == ["Received external event"]
    everything = json.dumps([s.attributes for s in (*first, *second, *third, *last)])
    assert "secret" not in everything and '"hi"' not in everything  # no payloads


def test_a_timer_span_starts_when_the_workflow_set_it() -> None:
    # The worker's answer came 300 ms after its turn began (a loaded machine): the timer
    # counts from the turn's "now", so its span does too, not from the TimerCreated stamp.
    run, deriver = Driver(), SpanDeriver()
    deriver.spans(run.turn(T0, timer(1, T0 + 1_000), applied_ms=T0 + 300))
    assert run.wf.history[-1].timestamp.ToMilliseconds() == T0 + 300  # TimerCreated
    run.wf.inbox = [engine.timer_fired(1, T0 + 1_000, T0 + 1_000)]
    fired, = deriver.spans(run.turn(T0 + 1_001))
    assert fired.name == "timer"
    assert (fired.start_ns, fired.end_ns) == (T0 * 10**6, (T0 + 1_001) * 10**6)


def test_failures_and_payloads_when_asked() -> None:
    run, deriver = Driver(), SpanDeriver(include_payloads=True)
    run.turn(T0, schedule(0, "Charge", '"card"'))
    failure = pb.TaskFailureDetails(errorType="ValueError", errorMessage="declined")
    run.wf.inbox = [engine.task_failed(0, failure, T0 + 10)]
    activity, instance = deriver.spans(run.turn(T0 + 20, complete(
        1, pb.ORCHESTRATION_STATUS_FAILED, failure=failure)))
    assert activity.error == "declined"
    assert activity.attributes["error.type"] == "ValueError"
    assert activity.attributes["durabletask.task.status"] == "Failed"
    assert activity.attributes["wfsidecar.input"] == '"card"'
    assert instance.error == "declined" and instance.attributes["error.type"] == "ValueError"
    assert instance.attributes["durabletask.runtime_status"] == "FAILED"
    assert instance.attributes["wfsidecar.input"] == '"secret input"'


def test_one_instance_span_across_continue_as_new() -> None:
    run, deriver = Driver(), SpanDeriver()
    run.turn(T0, schedule(0, "Step"))
    run.wf.inbox = [engine.task_completed(0, None, T0 + 10)]
    # The result and the continue-as-new in one turn: the ended generation's span is kept.
    activity, = deriver.spans(run.turn(T0 + 10, complete(
        1, pb.ORCHESTRATION_STATUS_CONTINUED_AS_NEW, result="1")))
    run.turn(T0 + 20, schedule(0, "Step"))
    run.wf.inbox = [engine.task_completed(0, None, T0 + 30)]
    second, instance = deriver.spans(run.turn(T0 + 40, complete(1, result='"done"')))
    assert activity.span_id != second.span_id  # task ids restart; execution ids differ
    assert instance.span_id == SPAN and instance.start_ns == T0 * 10**6
    assert {activity.parent_id, second.parent_id} == {SPAN}


def test_untraced_instances_make_no_spans() -> None:
    run, deriver = Driver(), SpanDeriver()
    run.wf.inbox = [engine.execution_started(name="Flow", instance_id="wf", execution_id="e",
                                             input=None, version=None, now_ms=T0)]
    assert deriver.spans(run.turn(T0, complete(0, result="1"))) == []


def test_zipkin_json_of_the_observer() -> None:
    memory = InMemorySpanExporter()
    settings = TracingSettings.resolve(TracingConfig(zipkin_endpoint="http://x/api/v2/spans",
                                                     service_name="wfs-test"), {})
    assert settings is not None
    observer = TracingObserver(settings, processor=SimpleSpanProcessor(memory))
    run = Driver()
    observer.workflow_committed(run.turn(T0, complete(0, pb.ORCHESTRATION_STATUS_TERMINATED)))
    spans = memory.get_finished_spans()
    encoded = json.loads(ZipkinExporter(Protocol.V2).encoder.serialize(
        spans, ZipkinExporter().local_node))
    span, = encoded
    assert span["id"] == SPAN and len(span["traceId"]) == 32 and "parentId" not in span
    assert span["kind"] == "SERVER" and span["name"] == "orchestration||Flow"
    assert spans[0].resource.attributes["service.name"] == "wfs-test"  # Zipkin's serviceName
    assert span["tags"]["durabletask.runtime_status"] == "TERMINATED"
    assert span["timestamp"] == T0 * 1000 and span["duration"] >= 1
    assert not span_problems(span)  # Zipkin's v2 model, as tests/tracing's collector checks


def test_settings_from_the_standard_variables() -> None:
    off = TracingSettings.resolve(TracingConfig(), {})
    assert off is None
    env = {"OTEL_EXPORTER_ZIPKIN_ENDPOINT": "http://z:9411/api/v2/spans",
           "OTEL_SERVICE_NAME": "svc", "OTEL_TRACES_SAMPLER": "traceidratio",
           "OTEL_TRACES_SAMPLER_ARG": "0"}
    settings = TracingSettings.resolve(TracingConfig(), env)
    assert settings is not None and settings.service_name == "svc"
    assert settings.endpoint == "http://z:9411/api/v2/spans"
    assert trace_ids.mint_instance_span(TracingObserver(settings, processor=SimpleSpanProcessor(
        InMemorySpanExporter())).sampler, "wf", "Flow", None) is None  # ratio 0
    mine = TracingSettings.resolve(TracingConfig(sampling_ratio=1.0, service_name="mine"), env)
    assert mine is not None and mine.service_name == "mine"
    observer = TracingObserver(mine, processor=SimpleSpanProcessor(InMemorySpanExporter()))
    assert trace_ids.mint_instance_span(observer.sampler, "wf", "Flow", None) is not None
    unsampled = pb.TraceContext(traceParent="00-" + "1" * 32 + "-" + "2" * 16 + "-00")
    assert trace_ids.mint_instance_span(observer.sampler, "wf", "Flow", unsampled) is None
    disabled = TracingSettings.resolve(TracingConfig(), {**env, "OTEL_SDK_DISABLED": "true"})
    assert disabled is None
