"""Our Dapr-dialect messages against each Dapr SDK's own descriptors, field by field.

For each SDK (durabletask-dapr 0.17.4, dapr-ext-workflow 1.18.3, dapr 1.19.0) the dumper
runs in that SDK's venv and prints the FileDescriptorProtos its ``*_pb2`` modules embed.
They are loaded into a private DescriptorPool (never the default one: the SDK files are
un-packaged and would clash) and walked from every TaskHubSidecarService method's request
and response types. Messages are paired by *structure* (method name, then field number),
never by name, so 1.18's renames (WorkflowRequest, ChildWorkflow*, ...) need no table.

Every field the SDK has must exist in ours with the same number, type, cardinality,
presence and oneof membership, and every enum value it has must exist in ours with the same
name. Fields and values only we have are fine (another version has them). Exceptions are
listed in ``ALLOWED`` with a reason; an entry that no longer matches anything fails too.
"""

from __future__ import annotations

import pytest
from google.protobuf import descriptor_pb2
from google.protobuf.descriptor import ServiceDescriptor

from tests.conformance.wire import (
    SERVICE,
    compare_service,
    file_proto,
    pool_from,
    report,
    sdk_service,
    wkt_files,
)
from wfsidecar._proto.dapr import orchestrator_service_pb2 as ours

OUR_SERVICE: ServiceDescriptor = ours.DESCRIPTOR.services_by_name[SERVICE]
SDKS = ("dt-dapr-017", "dapr-ext-118", "dapr-119")

# (sdk venv, SDK message or enum full name, field or value number) -> why the difference
# is intended. Keep reasons specific; the test fails on entries that match nothing.
ALLOWED: dict[tuple[str, str, int], str] = {
    ("dt-dapr-017", "WorkItem", 4): (
        "healthPing = 4 is never sent to a Dapr client: dapr-ext-workflow 1.18.3 reserves 4 "
        "and its worker crashes on it; 1.19 pings on field 6 (protocol.md §0.2, §4.2)"
    ),
}


@pytest.mark.timeout(900)  # first run builds the SDK venv
@pytest.mark.parametrize("sdk", SDKS)
def test_sdk_wire_messages_match_ours(sdk: str) -> None:
    result = compare_service(sdk_service(sdk), OUR_SERVICE)

    # The walk must really have covered the protocol, not silently compared nothing.
    sdk_messages = {s for s, _ in result.messages}
    assert {"HistoryEvent", "WorkItem", "ActivityRequest"} <= sdk_messages, sdk_messages
    assert len(sdk_messages) >= 40 and result.fields >= 200, (len(sdk_messages), result.fields)

    allowed = {key: why for key, why in ALLOWED.items() if key[0] == sdk}
    unexpected = [d for d in result.differences if (sdk, d.message, d.number) not in allowed]
    assert not unexpected, f"{sdk}: wire differences from our proto:\n{report(unexpected)}"
    seen = {(sdk, d.message, d.number) for d in result.differences}
    assert not set(allowed) - seen, f"stale ALLOWED entries: {sorted(set(allowed) - seen)}"


def _field(proto: descriptor_pb2.FileDescriptorProto, message: str,
           name: str) -> descriptor_pb2.FieldDescriptorProto:
    msg = next(m for m in proto.message_type if m.name == message)
    return next(f for f in msg.field if f.name == name)


def _renumber(p: descriptor_pb2.FileDescriptorProto) -> None:
    _field(p, "ActivityResponse", "completionToken").number = 15


def _retype(p: descriptor_pb2.FileDescriptorProto) -> None:
    _field(p, "TaskRouter", "sourceAppID").type = descriptor_pb2.FieldDescriptorProto.TYPE_BYTES


def _repeat(p: descriptor_pb2.FileDescriptorProto) -> None:
    f = _field(p, "OrchestratorResponse", "customStatus")
    f.label = descriptor_pb2.FieldDescriptorProto.LABEL_REPEATED


def _leave_oneof(p: descriptor_pb2.FileDescriptorProto) -> None:
    _field(p, "WorkItem", "activityRequest").ClearField("oneof_index")


def _drop_enum_value(p: descriptor_pb2.FileDescriptorProto) -> None:
    enum = next(e for e in p.enum_type if e.name == "OrchestrationStatus")
    del enum.value[-1]


@pytest.mark.parametrize(("mutate", "message", "number"), [
    (_renumber, "ActivityResponse", 5),
    (_retype, "TaskRouter", 1),
    (_repeat, "OrchestratorResponse", 3),
    (_leave_oneof, "WorkItem", 2),
    (_drop_enum_value, "OrchestrationStatus", 8),
])
def test_comparison_catches_a_changed_field(mutate: object, message: str, number: int) -> None:
    """The check can fail: compare ours (as 'the SDK') with a broken copy of ours."""
    proto = file_proto(ours)
    assert callable(mutate)
    mutate(proto)
    broken = pool_from([*wkt_files(), proto]).FindServiceByName(OUR_SERVICE.full_name)

    assert not compare_service(OUR_SERVICE, OUR_SERVICE).differences
    diffs = compare_service(OUR_SERVICE, broken).differences
    assert {(d.message, d.number) for d in diffs} == {(f"wfsidecar.dapr.{message}", number)}, (
        report(diffs)
    )
