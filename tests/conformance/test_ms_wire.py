"""Our Microsoft-dialect messages against durabletask 1.12.0's own descriptors; the internal
superset against both dialects.

``protos/ms`` is printed from the FileDescriptorProto the ``durabletask`` 1.12.0 wheel embeds,
so unlike the Dapr union it must match the SDK *exactly*: the walk (``tests/conformance/wire``)
runs both ways and with ``names=True``, and every message and enum of the SDK file, reachable
from an rpc or not, is compared too. Exceptions would go in ``ALLOWED`` with a reason; there
are none.

``wfsidecar._proto.internal`` is what the store keeps. It must hold every Dapr field at the
same number, name and type (history stored in the Dapr format parses unchanged), and every
Microsoft field where ``wfsidecar/_proto/internal/ms_fields.py`` says it is.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from google.protobuf import descriptor_pb2, json_format
from google.protobuf.descriptor import Descriptor, FieldDescriptor, ServiceDescriptor

from tests.conformance.wire import (
    SERVICE,
    Comparison,
    compare_enum,
    compare_message,
    compare_service,
    field_problems,
    file_proto,
    pool_from,
    real_oneof,
    report,
    sdk_files,
    wkt_files,
)
from wfsidecar._proto.dapr import orchestrator_service_pb2 as dapr
from wfsidecar._proto.internal import ms_fields
from wfsidecar._proto.internal import orchestrator_service_pb2 as internal
from wfsidecar._proto.ms import orchestrator_service_pb2 as ours

SDK = "durabletask-112"
OUR_SERVICE: ServiceDescriptor = ours.DESCRIPTOR.services_by_name[SERVICE]
GOLDEN = Path(__file__).resolve().parents[1] / "engine" / "data"

# (SDK message or enum full name, field or value number) -> why the difference is intended.
ALLOWED: dict[tuple[str, int], str] = {}


@pytest.fixture(scope="module")
def sdk_pool() -> tuple[ServiceDescriptor, descriptor_pb2.FileDescriptorProto]:
    files, roots = sdk_files(SDK)
    assert len(roots) == 1, roots
    root = next(f for f in files if f.name == roots[0])
    return pool_from(files).FindServiceByName(SERVICE), root


def _check(result: Comparison, what: str) -> None:
    unexpected = [d for d in result.differences if (d.message, d.number) not in ALLOWED]
    assert not unexpected, f"{what}:\n{report(unexpected)}"


@pytest.mark.timeout(900)  # first run builds the SDK venv
def test_sdk_wire_messages_match_ours(
    sdk_pool: tuple[ServiceDescriptor, descriptor_pb2.FileDescriptorProto],
) -> None:
    sdk_service, _ = sdk_pool
    result = compare_service(sdk_service, OUR_SERVICE, names=True)

    sdk_messages = {s for s, _ in result.messages}
    assert {"HistoryEvent", "WorkItem", "ActivityRequest", "RewindOrchestrationAction",
            "ExecutionRewoundEvent", "WorkItemFilters"} <= sdk_messages, sdk_messages
    assert len(sdk_messages) >= 60 and result.fields >= 300, (len(sdk_messages), result.fields)
    assert [m.name for m in sdk_service.methods] == [m.name for m in OUR_SERVICE.methods]
    _check(result, "wire differences from our Microsoft proto")
    seen = {(d.message, d.number) for d in result.differences}
    assert not set(ALLOWED) - seen, f"stale ALLOWED entries: {sorted(set(ALLOWED) - seen)}"


def test_ours_has_nothing_the_sdk_lacks(
    sdk_pool: tuple[ServiceDescriptor, descriptor_pb2.FileDescriptorProto],
) -> None:
    """The reverse walk: our proto is the SDK's, not a superset of it."""
    sdk_service, _ = sdk_pool
    result = compare_service(OUR_SERVICE, sdk_service, names=True)
    assert not result.differences, report(result.differences)


def test_every_sdk_message_and_enum_is_ours(
    sdk_pool: tuple[ServiceDescriptor, descriptor_pb2.FileDescriptorProto],
) -> None:
    """Including the ones no rpc reaches (entity events, filters ...), by name, both ways."""
    sdk_service, root = sdk_pool
    sdk_file = sdk_service.file
    assert sdk_file.package == "" and sdk_file.name == root.name
    assert set(sdk_file.message_types_by_name) == set(ours.DESCRIPTOR.message_types_by_name)
    assert set(sdk_file.enum_types_by_name) == set(ours.DESCRIPTOR.enum_types_by_name)
    forward, backward = Comparison(names=True), Comparison(names=True)
    for name, sdk_msg in sdk_file.message_types_by_name.items():
        our_msg = ours.DESCRIPTOR.message_types_by_name[name]
        compare_message(forward, sdk_msg, our_msg, name)
        compare_message(backward, our_msg, sdk_msg, name)
    for name, sdk_enum in sdk_file.enum_types_by_name.items():
        our_enum = ours.DESCRIPTOR.enum_types_by_name[name]
        compare_enum(forward, sdk_enum, our_enum, name)
        compare_enum(backward, our_enum, sdk_enum, name)
    _check(forward, "SDK messages differing from ours")
    assert not backward.differences, report(backward.differences)


def _field(proto: descriptor_pb2.FileDescriptorProto, message: str,
           name: str) -> descriptor_pb2.FieldDescriptorProto:
    msg = next(m for m in proto.message_type if m.name == message)
    return next(f for f in msg.field if f.name == name)


def test_name_comparison_catches_a_renamed_field() -> None:
    proto = file_proto(ours)
    _field(proto, "WorkItem", "healthPing").name = "ping"
    broken = pool_from([*wkt_files(), proto]).FindServiceByName(OUR_SERVICE.full_name)

    assert not compare_service(OUR_SERVICE, broken).differences  # same wire
    diffs = compare_service(OUR_SERVICE, broken, names=True).differences
    assert {(d.message, d.number) for d in diffs} == {("wfsidecar.ms.WorkItem", 4)}, report(diffs)


# --------------------------------------------------------------------------- internal


def _internal_problems(f: FieldDescriptor, g: FieldDescriptor, *, same_number: bool) -> list[str]:
    """Differences between a dialect field and its internal counterpart (any but the name)."""
    problems = field_problems(f, g)
    if same_number and f.number != g.number:
        problems.append(f"number {f.number} != {g.number}")
    fo, go = real_oneof(f), real_oneof(g)
    if fo is not None and go is not None and fo.name != go.name:
        problems.append(f"oneof {fo.name} != {go.name}")
    for a, b in ((f.message_type, g.message_type), (f.enum_type, g.enum_type)):
        if a is not None and b is not None and a.name != b.name:
            problems.append(f"type {a.name} != {b.name}")
    if f.message_type is not None and f.message_type.GetOptions().map_entry:
        assert g.message_type is not None
        for part in ("key", "value"):
            problems += _internal_problems(f.message_type.fields_by_name[part],
                                           g.message_type.fields_by_name[part], same_number=True)
    return problems


def _internal_message(name: str) -> Descriptor:
    found = internal.DESCRIPTOR.message_types_by_name.get(name)
    assert found is not None, f"internal has no message {name}"
    return found


def test_internal_holds_every_dapr_field_at_its_number() -> None:
    problems = []
    for name, d in dapr.DESCRIPTOR.message_types_by_name.items():
        i = _internal_message(name)
        for f in d.fields:
            g = i.fields_by_number.get(f.number)
            if g is None or g.name != f.name:
                problems.append(f"{name}.{f.name} = {f.number}: internal has "
                                f"{g.name if g else 'nothing'}")
                continue
            problems += [f"{name}.{f.name}: {p}"
                         for p in _internal_problems(f, g, same_number=True)]
        reserved_d, reserved_i = descriptor_pb2.DescriptorProto(), descriptor_pb2.DescriptorProto()
        d.CopyToProto(reserved_d)
        i.CopyToProto(reserved_i)
        if list(reserved_d.reserved_range) != list(reserved_i.reserved_range):
            problems.append(f"{name}: reserved ranges differ")
    for name, e in dapr.DESCRIPTOR.enum_types_by_name.items():
        ie = internal.DESCRIPTOR.enum_types_by_name[name]
        for v in e.values:
            w = ie.values_by_number.get(v.number)
            if w is None or w.name != v.name:
                problems.append(f"{name}.{v.name} = {v.number}: internal has {w and w.name}")
    dapr_rpcs = dapr.DESCRIPTOR.services_by_name[SERVICE].methods_by_name
    internal_rpcs = internal.DESCRIPTOR.services_by_name[SERVICE].methods_by_name
    for name, m in dapr_rpcs.items():
        o = internal_rpcs[name]
        if (m.input_type.name, m.output_type.name, m.server_streaming) != (
                o.input_type.name, o.output_type.name, o.server_streaming):
            problems.append(f"rpc {name} differs")
    assert not problems, "\n".join(problems)


def test_internal_holds_every_ms_field_where_ms_fields_says() -> None:
    problems = []
    moved_seen = set()
    for name, m in ours.DESCRIPTOR.message_types_by_name.items():
        i = _internal_message(name)
        table = dict((ms, inner) for inner, ms in ms_fields.MS_FIELDS.get(i.full_name, ()))
        for f in m.fields:
            inner_name = table.get(f.name, f.name)
            g = i.fields_by_name.get(inner_name)
            if g is None:
                problems.append(f"{name}.{f.name}: no internal {inner_name}")
                continue
            if f.name in table:
                moved_seen.add((i.full_name, f.name))
                if g.number == f.number and g.name == f.name:
                    problems.append(f"{name}.{f.name} listed in MS_FIELDS but not moved")
            elif g.number != f.number:
                problems.append(f"{name}.{f.name}: internal {g.number}, not in MS_FIELDS")
            if g.number != f.number and g.number != 1000 + f.number:
                problems.append(f"{name}.{f.name}: internal number {g.number}")
            problems += [f"{name}.{f.name}: {p}"
                         for p in _internal_problems(f, g, same_number=False)]
        only = set(ms_fields.MS_ONLY_FIELDS.get(m.full_name, ()))
        d = dapr.DESCRIPTOR.message_types_by_name.get(name)
        expected = {f.name for f in m.fields
                    if d is None or table.get(f.name, f.name) not in d.fields_by_name}
        if only != expected:
            problems.append(f"{name}: MS_ONLY_FIELDS {sorted(only)} != {sorted(expected)}")
        if (d is None) != (m.full_name in ms_fields.MS_ONLY_MESSAGES):
            problems.append(f"{name}: MS_ONLY_MESSAGES is wrong")
    listed = {(msg, ms) for msg, pairs in ms_fields.MS_FIELDS.items() for _, ms in pairs}
    assert listed == moved_seen, listed ^ moved_seen
    for name, e in ours.DESCRIPTOR.enum_types_by_name.items():
        ie = internal.DESCRIPTOR.enum_types_by_name[name]
        table = dict((ms, inner) for inner, ms in ms_fields.MS_ENUM_VALUES.get(ie.full_name, ()))
        for v in e.values:
            w = ie.values_by_name.get(table.get(v.name, v.name))
            if w is None or w.number not in (v.number, 1000 + v.number):
                problems.append(f"enum {name}.{v.name}: internal {w and w.number}")
    ms_rpcs = ours.DESCRIPTOR.services_by_name[SERVICE].methods_by_name
    internal_rpcs = internal.DESCRIPTOR.services_by_name[SERVICE].methods_by_name
    assert set(ms_rpcs) <= set(internal_rpcs), set(ms_rpcs) - set(internal_rpcs)
    assert not problems, "\n".join(problems)


@pytest.mark.parametrize("golden", sorted(GOLDEN.glob("*.json")), ids=lambda p: p.stem)
def test_stored_dapr_history_parses_as_internal(golden: Path) -> None:
    """Bytes the daemon stored in the Dapr format read back, field for field, as internal."""
    events = [json_format.ParseDict(e, dapr.HistoryEvent())
              for e in json.loads(golden.read_text())["history"]]
    assert events
    for event in events:
        stored = event.SerializeToString(deterministic=True)
        read = internal.HistoryEvent.FromString(stored)
        read.DiscardUnknownFields()  # anything internal did not know would be lost here
        assert read.SerializeToString(deterministic=True) == stored
        assert json_format.MessageToDict(read) == json_format.MessageToDict(event)
