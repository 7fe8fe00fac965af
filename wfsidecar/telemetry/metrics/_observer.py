"""``MetricsObserver``: the telemetry seam's events as Dapr's workflow metrics and the
daemon's own (``wfsidecar_``); docs/observability.md says what each one means."""

from __future__ import annotations

from collections.abc import Iterator

from prometheus_client.core import Metric

from wfsidecar._proto.internal import orchestrator_service_pb2 as pb
from wfsidecar.telemetry.metrics._gauges import Readings
from wfsidecar.telemetry.metrics._series import (
    BATCH_BUCKETS,
    DAPR_BUCKETS_MS,
    DAPR_LABELS,
    DAPR_PREFIX,
    SECONDS_BUCKETS,
    Counter,
    Histogram,
    Key,
)
from wfsidecar.telemetry.observer import RpcCall, WorkflowCommit, WorkItemEvent

SUCCESS, FAILED, TERMINATED, RECOVERABLE = "success", "failed", "terminated", "recoverable"
# How a workflow's execution ended, as Dapr counts it; CANCELED is no outcome of its own.
_OUTCOMES: dict[int, str] = {
    pb.ORCHESTRATION_STATUS_COMPLETED: SUCCESS, pb.ORCHESTRATION_STATUS_FAILED: FAILED,
    pb.ORCHESTRATION_STATUS_CANCELED: FAILED, pb.ORCHESTRATION_STATUS_TERMINATED: TERMINATED}
# Dapr counts workflow operations in its backend, whichever API asked; here they are the
# RPCs and HTTP routes that create, read, send an event to (raise, terminate, suspend,
# resume) or purge an instance, in both gRPC dialects and Dapr's runtime API.
_GRPC_OPERATIONS = {
    "StartInstance": "create_workflow", "GetInstance": "get_workflow",
    "RaiseEvent": "add_event", "TerminateInstance": "add_event",
    "SuspendInstance": "add_event", "ResumeInstance": "add_event",
    "PurgeInstances": "purge_workflow",
    **{f"{verb}Workflow{stage}": operation for stage in ("Alpha1", "Beta1")
       for verb, operation in (("Start", "create_workflow"), ("Get", "get_workflow"),
                               ("RaiseEvent", "add_event"), ("Terminate", "add_event"),
                               ("Pause", "add_event"), ("Resume", "add_event"),
                               ("Purge", "purge_workflow"))},
}
# Dapr's HTTP routes by what follows /workflows/{component} in their path (any version).
_HTTP_OPERATIONS = {
    "/{workflowName}/start": "create_workflow", "/{instanceID}": "get_workflow",
    "/{instanceID}/raiseEvent/{eventName}": "add_event", "/{instanceID}/pause": "add_event",
    "/{instanceID}/resume": "add_event", "/{instanceID}/terminate": "add_event",
    "/{instanceID}/purge": "purge_workflow",
}


class MetricsObserver:
    """The seam's events as Prometheus metrics; every method runs on the event loop."""

    def __init__(self, *, app_id: str = "", namespace: str = "") -> None:
        self.dapr_labels: Key = (app_id, namespace)
        d = DAPR_PREFIX
        self.operations = Counter(
            d + "operation_count",
            "The number of successful/failed workflow operation requests.",
            ("operation", "status"))
        self.operation_latency = Histogram(
            d + "operation_latency",
            "The latencies of responses for workflow operation requests (ms).",
            ("operation", "status"), DAPR_BUCKETS_MS)
        self.executions = Counter(
            d + "execution_count",
            "The number of successful/failed/terminated/recoverable workflow executions.",
            ("workflow_name", "status"))
        self.execution_latency = Histogram(
            d + "execution_latency",
            "The total time taken to run a workflow to completion (ms).",
            ("workflow_name", "status"), DAPR_BUCKETS_MS)
        self.scheduling_latency = Histogram(
            d + "scheduling_latency",
            "Interval between workflow execution request and workflow execution (ms).",
            ("workflow_name",), DAPR_BUCKETS_MS)
        self.activity_operations = Counter(
            d + "activity_operation_count",
            "The number of successful/failed activity operation requests.",
            ("activity_name", "status"))
        self.activity_operation_latency = Histogram(
            d + "activity_operation_latency",
            "The latencies of responses for activity operation requests (ms).",
            ("activity_name", "status"), DAPR_BUCKETS_MS)
        self.activity_executions = Counter(
            d + "activity_execution_count",
            "The number of successful/failed/recoverable activity executions.",
            ("activity_name", "status"))
        self.activity_execution_latency = Histogram(
            d + "activity_execution_latency",
            "The total time taken to run an activity to completion (ms).",
            ("activity_name", "status"), DAPR_BUCKETS_MS)
        w = "wfsidecar_"
        self.grpc_requests = Histogram(
            w + "grpc_request_duration_seconds",
            "gRPC calls served, by method and status code, and how long each took "
            "(a GetWorkItems stream: how long the worker stayed connected).",
            ("method", "code"), SECONDS_BUCKETS)
        self.http_requests = Histogram(
            w + "http_request_duration_seconds",
            "HTTP requests served, by route and status, and how long each took.",
            ("route", "code"), SECONDS_BUCKETS)
        self.turns = Histogram(
            w + "actor_turn_duration_seconds",
            "Actor turns (each one store transaction), by actor type and outcome.",
            ("actor_type", "status"), SECONDS_BUCKETS)
        self.commits = Histogram(
            w + "store_commit_duration_seconds",
            "Store write transactions, by outcome, and how long each took.",
            ("status",), SECONDS_BUCKETS)
        self.batches = Histogram(
            w + "store_commit_batch_size",
            "Turns whose changes one store transaction carried (group commit).",
            (), BATCH_BUCKETS)
        self.stalls = Counter(
            w + "workflow_stalls",
            "Workflow instances that became STALLED (Dapr dialect), by workflow name.",
            ("workflow_name",))

    def _dapr(self) -> tuple[Counter, ...]:
        return (self.operations, self.executions, self.activity_operations,
                self.activity_executions)

    # -- the seam ----------------------------------------------------------------------

    def rpc_finished(self, call: RpcCall) -> None:
        if call.edge == "grpc":
            self.grpc_requests.observe((call.method, call.code), call.seconds)
            operation = _GRPC_OPERATIONS.get(call.method)
            ok = call.code == "OK"
        else:
            self.http_requests.observe((call.method, call.code), call.seconds)
            _, found, rest = call.method.partition("/workflows/{component}")
            operation = _HTTP_OPERATIONS.get(rest) if found else None
            ok = call.code.startswith("2")
        if operation is not None:
            key = (operation, SUCCESS if ok else FAILED)
            self.operations.inc(key)
            if call.seconds > 0:
                self.operation_latency.observe(key, call.seconds * 1000)

    def turn_finished(self, actor_type: str, seconds: float, ok: bool) -> None:
        self.turns.observe((actor_type, SUCCESS if ok else FAILED), seconds)

    def commit_finished(self, seconds: float, callers: int, ops: int, ok: bool) -> None:
        self.commits.observe((SUCCESS if ok else FAILED,), seconds)
        self.batches.observe((), callers)

    def work_dispatched(self, event: WorkItemEvent) -> None:
        if event.kind == "activity":
            # Dapr's activity operation: handing the activity to a worker; its latency is
            # how long the activity waited for one.
            key = (event.name, SUCCESS)
            self.activity_operations.inc(key)
            if event.seconds > 0:
                self.activity_operation_latency.observe(key, event.seconds * 1000)
        if event.attempts > 1:
            # Sent again because the worker that held it went away: the earlier execution
            # failed in a way that is retried, Dapr's "recoverable".
            if event.kind == "activity":
                self.activity_executions.inc((event.name, RECOVERABLE))
            elif event.kind == "orchestrator":
                self.executions.inc((event.name, RECOVERABLE))

    def work_completed(self, event: WorkItemEvent) -> None:
        if event.kind == "activity":
            key = (event.name, FAILED if event.failed else SUCCESS)
            self.activity_executions.inc(key)
            if event.seconds > 0:
                self.activity_execution_latency.observe(key, event.seconds * 1000)

    def workflow_committed(self, commit: WorkflowCommit) -> None:
        status, previous = commit.status, commit.previous_status
        if commit.purged:
            return
        if commit.new_events and previous not in _OUTCOMES:  # not a rewind of an ended one
            self._first_run(commit)
        if status == previous:
            return
        outcome = _OUTCOMES.get(status)
        if outcome is not None:
            key = (commit.name, outcome)
            self.executions.inc(key)
            started_ms = _started_ms(commit)
            if commit.completed_ms is not None and commit.completed_ms > started_ms:
                self.execution_latency.observe(key, commit.completed_ms - started_ms)
        elif status == pb.ORCHESTRATION_STATUS_STALLED:
            self.stalls.inc((commit.name,))

    def _first_run(self, commit: WorkflowCommit) -> None:
        """If this turn was a generation's first (its history begins OrchestratorStarted,
        ExecutionStarted), the time from the request (or the scheduled start) to that
        turn is Dapr's scheduling latency."""
        head = commit.new_events[:2]
        if (len(head) < 2 or not head[1].HasField("executionStarted")
                or not head[0].HasField("orchestratorStarted")):
            return
        ran, started = head
        execution = started.executionStarted
        asked = (execution.scheduledStartTimestamp if execution.HasField(
            "scheduledStartTimestamp") else started.timestamp).ToMilliseconds()
        if ran.timestamp.ToMilliseconds() > asked:
            self.scheduling_latency.observe((commit.name,),
                                            ran.timestamp.ToMilliseconds() - asked)

    # -- exposition --------------------------------------------------------------------

    def families(self, readings: Readings | None = None) -> Iterator[Metric]:
        """Every metric as a Prometheus family, the gauges from ``readings``."""
        for counter in self._dapr():
            yield counter.dapr_family(self.dapr_labels)
        for histogram in (self.operation_latency, self.execution_latency,
                          self.scheduling_latency, self.activity_operation_latency,
                          self.activity_execution_latency):
            yield histogram.family(self.dapr_labels, DAPR_LABELS)
        for histogram in (self.grpc_requests, self.http_requests, self.turns, self.commits,
                          self.batches):
            yield histogram.family()
        yield self.stalls.family()
        if readings is not None:
            yield from readings.families()


def _started_ms(commit: WorkflowCommit) -> int:
    """When this generation started (its ExecutionStarted, else the instance's creation)."""
    if commit.started is not None and commit.started.HasField("timestamp"):
        return int(commit.started.timestamp.ToMilliseconds())
    return commit.created_ms
