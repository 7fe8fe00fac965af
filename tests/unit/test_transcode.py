"""wfsidecar.server.transcode: Dapr / Microsoft wire messages <-> the internal model."""

from __future__ import annotations

from typing import Any, cast

import pytest
from google.protobuf import struct_pb2, timestamp_pb2, wrappers_pb2
from google.protobuf.message import Message

from tests.conformance.wire import oneof_variants, populated
from wfsidecar._proto.dapr import orchestrator_service_pb2 as dapr
from wfsidecar._proto.internal import ms_fields
from wfsidecar._proto.internal import orchestrator_service_pb2 as internal
from wfsidecar._proto.ms import orchestrator_service_pb2 as ms
from wfsidecar.server.transcode import TranscodeError, to_dialect, to_internal


def _bytes(msg: Message) -> bytes:
    return msg.SerializeToString(deterministic=True)


def _classes(module: Any) -> list[type[Message]]:
    return [getattr(module, n) for n in module.DESCRIPTOR.message_types_by_name]


DAPR_CLASSES = _classes(dapr)
MS_CLASSES = _classes(ms)
SHARED = sorted(set(dapr.DESCRIPTOR.message_types_by_name)
                & set(ms.DESCRIPTOR.message_types_by_name))


def _top_level_numbers(data: bytes) -> list[int]:
    """Field numbers of the top-level fields in ``data`` (a minimal wire-format reader)."""
    numbers, i = [], 0

    def varint() -> int:
        nonlocal i
        shift = value = 0
        while True:
            b = data[i]
            i += 1
            value |= (b & 0x7F) << shift
            shift += 7
            if not b & 0x80:
                return value

    while i < len(data):
        key = varint()
        numbers.append(key >> 3)
        wire = key & 7
        if wire == 0:
            varint()
        elif wire == 1:
            i += 8
        elif wire == 2:
            length = varint()  # not `i += varint()`: that reads i before varint() moves it
            i += length
        elif wire == 5:
            i += 4
        else:
            raise AssertionError(f"wire type {wire}")
    return numbers


# --------------------------------------------------------------------------- round trips


@pytest.mark.parametrize("cls", DAPR_CLASSES, ids=lambda c: c.__name__)
def test_dapr_to_internal_to_dapr_is_byte_identical(cls: type[Message]) -> None:
    for choice in range(oneof_variants(cls)):
        msg = populated(cls, choice)
        inner = to_internal(msg)
        assert type(inner).DESCRIPTOR.full_name == f"wfsidecar.internal.{cls.__name__}"
        # Same names and numbers: the internal bytes are the Dapr bytes.
        assert _bytes(inner) == _bytes(msg), (cls.__name__, choice)
        assert _bytes(to_dialect(inner, cls)) == _bytes(msg), (cls.__name__, choice)


@pytest.mark.parametrize("cls", MS_CLASSES, ids=lambda c: c.__name__)
def test_ms_to_internal_to_ms_is_byte_identical(cls: type[Message]) -> None:
    for choice in range(oneof_variants(cls)):
        msg = populated(cls, choice)
        assert _bytes(to_dialect(to_internal(msg), cls)) == _bytes(msg), (cls.__name__, choice)


def _event_kinds(module: Any) -> list[str]:
    return [f.name for f in module.HistoryEvent.DESCRIPTOR.oneofs_by_name["eventType"].fields]


@pytest.mark.parametrize(("module", "kind"), [
    *((dapr, k) for k in _event_kinds(dapr)),
    *((ms, k) for k in _event_kinds(ms)),
], ids=lambda x: x if isinstance(x, str) else x.DESCRIPTOR.package)
def test_history_event_kinds_round_trip(module: Any, kind: str) -> None:
    kinds = _event_kinds(module)
    event = populated(module.HistoryEvent, kinds.index(kind))
    assert event.WhichOneof("eventType") == kind
    inner = to_internal(event)
    assert inner.WhichOneof("eventType") == kind  # same name internally, in both dialects
    back = to_dialect(inner, module.HistoryEvent)
    assert _bytes(back) == _bytes(event)
    assert back.timestamp == event.timestamp and back.eventId == event.eventId


# --------------------------------------------------------------------------- the conflicts


def test_ms_rewind_action_is_not_a_dapr_router() -> None:
    old = ms.HistoryEvent(eventId=3, taskScheduled=ms.TaskScheduledEvent(name="a"))
    action = ms.OrchestratorAction(
        id=7, rewindOrchestration=ms.RewindOrchestrationAction(newHistory=[old]))

    inner = to_internal(action)
    assert inner.WhichOneof("orchestratorActionType") == "rewindOrchestration"
    assert not inner.HasField("router")
    assert _top_level_numbers(_bytes(inner)) == [1, 1009]
    assert internal.OrchestratorAction.DESCRIPTOR.fields_by_name["router"].number == 9

    as_dapr = to_dialect(inner, dapr.OrchestratorAction)
    assert as_dapr.WhichOneof("orchestratorActionType") is None
    assert not as_dapr.HasField("router")
    assert _top_level_numbers(_bytes(as_dapr)) == [1]
    assert to_dialect(inner, ms.OrchestratorAction) == action


def test_dapr_router_is_not_an_ms_rewind() -> None:
    action = dapr.OrchestratorAction(
        id=2,
        scheduleTask=dapr.ScheduleTaskAction(
            name="act", router=dapr.TaskRouter(sourceAppID="a", targetAppID="b"),
            taskExecutionId="t-1"),
        router=dapr.TaskRouter(sourceAppID="a", targetAppID="b"),
    )
    inner = to_internal(action, internal.OrchestratorAction)
    assert inner.router.targetAppID == "b"
    assert _top_level_numbers(_bytes(inner)) == [1, 2, 9]

    as_ms = to_dialect(inner, ms.OrchestratorAction)
    assert as_ms.WhichOneof("orchestratorActionType") == "scheduleTask"
    assert _top_level_numbers(_bytes(as_ms)) == [1, 2]
    # Dapr's router = 4 and taskExecutionId = 5 would be MS tags / parentTraceContext.
    assert _bytes(as_ms.scheduleTask) == _bytes(ms.ScheduleTaskAction(name="act"))
    assert _bytes(to_dialect(inner, dapr.OrchestratorAction)) == _bytes(action)


def test_tags_maps() -> None:
    tags = {"team": "core", "env": "ci"}
    action = ms.ScheduleTaskAction(
        name="act", tags=tags, parentTraceContext=ms.TraceContext(traceParent="00-ab"))
    inner = to_internal(action, internal.ScheduleTaskAction)
    assert dict(inner.tags) == tags and inner.parentTraceContext.traceParent == "00-ab"
    assert sorted(set(_top_level_numbers(_bytes(inner)))) == [1, 1004, 1005]
    assert not inner.HasField("router") and inner.taskExecutionId == ""
    assert _bytes(to_dialect(inner, dapr.ScheduleTaskAction)) == _bytes(
        dapr.ScheduleTaskAction(name="act"))
    assert to_dialect(inner, ms.ScheduleTaskAction) == action

    # ActivityRequest.7: MS tags vs Dapr taskExecutionId, both kept apart internally.
    req = internal.ActivityRequest(name="a", taskExecutionId="t-9", tags=tags)
    assert _top_level_numbers(_bytes(req)).count(7) == 1  # the Dapr string only
    assert dict(to_dialect(req, ms.ActivityRequest).tags) == tags
    assert to_dialect(req, dapr.ActivityRequest).taskExecutionId == "t-9"

    # Tags both dialects have keep their number: CreateInstanceRequest.8, ExecutionStarted.9.
    for cls in (dapr.CreateInstanceRequest, ms.CreateInstanceRequest):
        inner_req = to_internal(cls(instanceId="i", tags=tags))
        assert sorted(set(_top_level_numbers(_bytes(inner_req)))) == [1, 8]
    started = to_internal(dapr.ExecutionStartedEvent(name="wf", tags=tags))
    assert dict(to_dialect(started, ms.ExecutionStartedEvent).tags) == tags


@pytest.mark.parametrize(("message", "ms_name", "ms_number", "internal_name", "number"), [
    ("ActivityRequest", "tags", 7, "tags", 1007),
    ("TaskScheduledEvent", "tags", 5, "tags", 1005),
    ("SubOrchestrationInstanceCreatedEvent", "tags", 6, "tags", 1006),
    ("CreateSubOrchestrationAction", "parentTraceContext", 5, "parentTraceContext", 1005),
    ("OrchestratorRequest", "orchestrationTraceContext", 8, "orchestrationTraceContext", 1008),
    ("OrchestratorResponse", "orchestrationTraceContext", 6, "orchestrationTraceContext", 1006),
    ("PurgeInstancesRequest", "instanceBatch", 4, "instanceBatch", 1004),
    ("OrchestrationIdReusePolicy", "replaceableStatus", 1, "replaceableStatus", 1001),
    ("GetWorkItemsRequest", "capabilities", 10, "ms_capabilities", 1010),
    ("WorkItem", "healthPing", 4, "ms_healthPing", 1004),
    # Microsoft fields at numbers Dapr leaves free keep them.
    ("GetWorkItemsRequest", "workItemFilters", 11, "workItemFilters", 11),
    ("OrchestratorResponse", "requiresHistory", 7, "requiresHistory", 7),
    ("CompleteOrchestrationAction", "tags", 7, "tags", 7),
])
def test_conflicting_field_lands_at_its_number(
    message: str, ms_name: str, ms_number: int, internal_name: str, number: int,
) -> None:
    ms_cls: type[Message] = getattr(ms, message)
    assert ms_cls.DESCRIPTOR.fields_by_name[ms_name].number == ms_number
    msg = next(m for c in range(oneof_variants(ms_cls))
               if (m := populated(ms_cls, c)).ListFields()
               and ms_name in {f.name for f, _ in m.ListFields()})
    for f in msg.DESCRIPTOR.fields:  # keep only the field under test
        if f.name != ms_name:
            msg.ClearField(f.name)
    inner = to_internal(msg)
    assert inner.ListFields()[0][0].name == internal_name
    assert set(_top_level_numbers(_bytes(inner))) == {number}
    assert to_dialect(inner, ms_cls) == msg


def test_pings_and_capabilities_stay_in_their_dialect() -> None:
    ms_ping = to_internal(ms.WorkItem(healthPing=ms.HealthPing(), completionToken="c"))
    assert ms_ping.WhichOneof("request") == "ms_healthPing"
    assert to_dialect(ms_ping, dapr.WorkItem).WhichOneof("request") is None
    dapr_ping = to_internal(dapr.WorkItem(healthPing=dapr.HealthPing()))
    assert dapr_ping.WhichOneof("request") == "healthPing"
    assert _top_level_numbers(_bytes(dapr_ping)) == [6]
    assert to_dialect(dapr_ping, ms.WorkItem).WhichOneof("request") is None

    d = to_internal(dapr.GetWorkItemsRequest(capabilities=[
        dapr.WORKER_CAPABILITY_HEALTH_PING, dapr.WORKER_CAPABILITY_STATEFUL_HISTORY]))
    assert list(to_dialect(d, ms.GetWorkItemsRequest).capabilities) == []
    m = to_internal(ms.GetWorkItemsRequest(capabilities=[
        ms.WORKER_CAPABILITY_LARGE_PAYLOADS, ms.WORKER_CAPABILITY_SCHEDULED_TASKS,
        ms.WORKER_CAPABILITY_HISTORY_STREAMING]), internal.GetWorkItemsRequest)
    assert list(m.ms_capabilities) == [internal.WORKER_CAPABILITY_LARGE_PAYLOADS,
                                       internal.WORKER_CAPABILITY_SCHEDULED_TASKS,
                                       internal.WORKER_CAPABILITY_HISTORY_STREAMING]
    assert internal.WORKER_CAPABILITY_LARGE_PAYLOADS == 1003
    assert list(m.capabilities) == []
    as_dapr = to_dialect(m, dapr.GetWorkItemsRequest)
    assert list(as_dapr.capabilities) == [] and list(as_dapr.legacyCapabilities) == []
    back = to_dialect(m, ms.GetWorkItemsRequest)
    assert list(back.capabilities) == [3, 2, 1]


def _set_paths(msg: Message, prefix: str = "") -> list[tuple[str, str]]:
    """(message full name, field name) of every set field, recursively."""
    out = []
    for f, value in msg.ListFields():
        out.append((msg.DESCRIPTOR.full_name, f.name))
        if f.message_type is None:
            continue
        if f.message_type.GetOptions().map_entry:
            if f.message_type.fields_by_name["value"].message_type is not None:
                for v in value.values():
                    out += _set_paths(v)
        elif f.is_repeated:
            for v in value:
                out += _set_paths(v)
        else:
            out += _set_paths(value)
    return out


def _dapr_only() -> set[tuple[str, str]]:
    """(Dapr message full name, field) for every Dapr field Microsoft has no counterpart for."""
    out = set()
    for name, d in dapr.DESCRIPTOR.message_types_by_name.items():
        m = ms.DESCRIPTOR.message_types_by_name.get(name)
        renamed = dict(ms_fields.MS_FIELDS.get(f"wfsidecar.internal.{name}", ()))
        reachable = {renamed.get(f.name, f.name) for f in m.fields} if m else set()
        out |= {(d.full_name, f.name) for f in d.fields if f.name not in reachable}
    return out


@pytest.mark.parametrize("name", SHARED)
def test_one_dialects_fields_never_appear_in_the_other(name: str) -> None:
    ms_only = {(m, f) for m, fs in ms_fields.MS_ONLY_FIELDS.items() for f in fs}
    dapr_only = _dapr_only()
    assert ("wfsidecar.dapr.OrchestratorAction", "router") in dapr_only
    assert ("wfsidecar.ms.OrchestratorAction", "rewindOrchestration") in ms_only
    dapr_cls, ms_cls = getattr(dapr, name), getattr(ms, name)
    for choice in range(max(oneof_variants(dapr_cls), oneof_variants(ms_cls))):
        as_ms = to_dialect(to_internal(populated(dapr_cls, choice)), ms_cls)
        leaked = set(_set_paths(as_ms)) & ms_only
        assert not leaked, (choice, leaked)
        as_dapr = to_dialect(to_internal(populated(ms_cls, choice)), dapr_cls)
        leaked = set(_set_paths(as_dapr)) & dapr_only
        assert not leaked, (choice, leaked)


# --------------------------------------------------------------------------- values


def test_well_known_types_are_copied() -> None:
    details = ms.TaskFailureDetails(
        errorType="E", stackTrace=wrappers_pb2.StringValue(value=""),
        properties={"n": struct_pb2.Value(number_value=2.5),
                    "s": struct_pb2.Value(struct_value=struct_pb2.Struct(
                        fields={"x": struct_pb2.Value(bool_value=True)}))},
    )
    inner = to_internal(details, internal.TaskFailureDetails)
    assert inner.HasField("stackTrace") and inner.stackTrace.value == ""  # presence kept
    assert inner.properties["s"].struct_value.fields["x"].bool_value is True
    assert to_dialect(inner, ms.TaskFailureDetails) == details
    assert not to_dialect(inner, dapr.TaskFailureDetails).HasField("innerFailure")

    ts = timestamp_pb2.Timestamp(seconds=1_700_000_000, nanos=10)
    event = dapr.HistoryEvent(eventId=-1, timestamp=ts,
                              orchestratorCompleted=dapr.OrchestratorCompletedEvent())
    inner_event = to_internal(event, internal.HistoryEvent)
    assert inner_event.timestamp == ts
    assert inner_event.WhichOneof("eventType") == "orchestratorCompleted"  # empty, but set
    assert to_dialect(inner_event, ms.HistoryEvent).HasField("orchestratorCompleted")


def test_explicit_presence_of_zero_values_is_kept() -> None:
    req = dapr.PurgeInstancesRequest(instanceId="i", force=False)
    inner = to_internal(req)
    assert inner.HasField("force") and inner.WhichOneof("request") == "instanceId"
    assert _bytes(to_dialect(inner, dapr.PurgeInstancesRequest)) == _bytes(req)


def test_status_ms_lacks_is_an_error_not_running() -> None:
    state = internal.OrchestrationState(
        instanceId="i", orchestrationStatus=internal.ORCHESTRATION_STATUS_STALLED)
    assert to_dialect(state, dapr.OrchestrationState).orchestrationStatus == 8
    with pytest.raises(TranscodeError, match="ORCHESTRATION_STATUS_STALLED"):
        to_dialect(state, ms.OrchestrationState)
    # In a repeated field a value the target lacks is dropped.
    query = internal.InstanceQuery(runtimeStatus=[
        internal.ORCHESTRATION_STATUS_STALLED, internal.ORCHESTRATION_STATUS_FAILED])
    assert list(to_dialect(query, ms.InstanceQuery).runtimeStatus) == [
        ms.ORCHESTRATION_STATUS_FAILED]


def test_enum_numbers_neither_side_knows_pass_through() -> None:
    state = dapr.OrchestrationState(instanceId="i", orchestrationStatus=cast(Any, 42))
    inner = to_internal(state, internal.OrchestrationState)
    assert inner.orchestrationStatus == 42
    assert to_dialect(inner, ms.OrchestrationState).orchestrationStatus == 42
    # 1003 is internal LARGE_PAYLOADS: not "unknown" any more, so a Dapr 1003 is dropped.
    caps = to_internal(dapr.GetWorkItemsRequest(capabilities=cast(Any, [1003, 77])),
                       internal.GetWorkItemsRequest)
    assert list(caps.capabilities) == [77]


def test_wrong_arguments() -> None:
    with pytest.raises(TypeError):
        to_internal(internal.WorkItem())
    with pytest.raises(TypeError):
        to_dialect(dapr.WorkItem(), ms.WorkItem)
    with pytest.raises(TypeError):
        to_dialect(internal.WorkItem(), internal.WorkItem)
    with pytest.raises(TranscodeError):
        to_dialect(internal.WorkItem(), ms.HistoryEvent)
    with pytest.raises(TranscodeError):
        to_internal(ms.WorkItem(), internal.HistoryEvent)
    typed = to_internal(ms.WorkItem(completionToken="c"), internal.WorkItem)
    assert typed.completionToken == "c"


def test_both_dialects_and_internal_load_in_one_process() -> None:
    names = {m.DESCRIPTOR.package for m in (dapr, ms, internal)}
    assert names == {"wfsidecar.dapr", "wfsidecar.ms", "wfsidecar.internal"}
    assert len({id(dapr.HistoryEvent), id(ms.HistoryEvent), id(internal.HistoryEvent)}) == 3
