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

import base64
import json
import subprocess
from dataclasses import dataclass, field

import pytest
from google.protobuf import (
    descriptor_pb2,
    descriptor_pool,
    duration_pb2,
    empty_pb2,
    timestamp_pb2,
    wrappers_pb2,
)
from google.protobuf.descriptor import (
    Descriptor,
    EnumDescriptor,
    FieldDescriptor,
    OneofDescriptor,
    ServiceDescriptor,
)

from tests.sdk_envs import REPO, SDK_PB2_MODULES, sdk_python
from wfsidecar._proto.dapr import orchestrator_service_pb2 as ours

DUMPER = REPO / "scripts" / "dump_descriptors.py"
SERVICE = "TaskHubSidecarService"
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


@dataclass(frozen=True)
class Difference:
    message: str  # SDK message or enum full name
    number: int
    text: str
    via: str  # how the walk got there


@dataclass
class Comparison:
    differences: list[Difference] = field(default_factory=list)
    messages: set[tuple[str, str]] = field(default_factory=set)  # (sdk, ours) compared
    enums: set[tuple[str, str]] = field(default_factory=set)
    fields: int = 0


def compare_service(sdk: ServiceDescriptor, our: ServiceDescriptor) -> Comparison:
    """Compare everything reachable from ``sdk``'s methods with ``our`` counterparts."""
    c = Comparison()
    our_methods = {m.name: m for m in our.methods}
    for m in sdk.methods:
        o = our_methods.get(m.name)
        if o is None:
            c.differences.append(Difference(sdk.full_name, m.index, f"rpc {m.name} missing", ""))
            continue
        if (m.client_streaming, m.server_streaming) != (o.client_streaming, o.server_streaming):
            c.differences.append(
                Difference(sdk.full_name, m.index, f"rpc {m.name}: streaming differs", "")
            )
        _message(c, m.input_type, o.input_type, f"{m.name} request")
        _message(c, m.output_type, o.output_type, f"{m.name} response")
    return c


def _message(c: Comparison, sdk: Descriptor, our: Descriptor, via: str) -> None:
    if (sdk.full_name, our.full_name) in c.messages:
        return
    c.messages.add((sdk.full_name, our.full_name))
    if sdk.GetOptions().map_entry != our.GetOptions().map_entry:
        c.differences.append(Difference(sdk.full_name, 0, "map entry vs message", via))
    for f in sdk.fields:
        c.fields += 1
        g = our.fields_by_number.get(f.number)
        where = f"{via} > {sdk.name}.{f.name}"
        if g is None:
            c.differences.append(
                Difference(sdk.full_name, f.number, f"{f.name} = {f.number} missing", where)
            )
            continue
        problems = _field_problems(f, g)
        if problems:
            c.differences.append(Difference(
                sdk.full_name, f.number,
                f"{f.name} = {f.number} vs our {our.name}.{g.name}: {'; '.join(problems)}",
                where,
            ))
            continue
        if f.message_type is not None and g.message_type is not None:
            _message(c, f.message_type, g.message_type, where)
        elif f.enum_type is not None and g.enum_type is not None:
            _enum(c, f.enum_type, g.enum_type, where)
    for o in sdk.oneofs:
        members = [f for f in o.fields if not _proto3_optional(f)]
        if not members:
            continue
        mapped = {
            our_oneof.full_name for f in members
            if (g := our.fields_by_number.get(f.number)) is not None
            and (our_oneof := _real_oneof(g)) is not None
        }
        if len(mapped) > 1:  # members outside any oneof are reported per field above
            c.differences.append(Difference(
                sdk.full_name, members[0].number,
                f"oneof {o.name} members split across our oneofs {sorted(mapped)}",
                via,
            ))


def _field_problems(f: FieldDescriptor, g: FieldDescriptor) -> list[str]:
    problems = []
    if f.type != g.type:
        problems.append(f"type {f.type} != {g.type}")
    if f.is_repeated != g.is_repeated:
        problems.append(f"repeated {f.is_repeated} != {g.is_repeated}")
    if f.has_presence != g.has_presence:
        problems.append(f"presence {f.has_presence} != {g.has_presence}")
    fo, go = _real_oneof(f), _real_oneof(g)
    if (fo is None) != (go is None):
        problems.append(f"oneof {fo.name if fo else None} != {go.name if go else None}")
    return problems


def _enum(c: Comparison, sdk: EnumDescriptor, our: EnumDescriptor, via: str) -> None:
    if (sdk.full_name, our.full_name) in c.enums:
        return
    c.enums.add((sdk.full_name, our.full_name))
    for v in sdk.values:
        w = our.values_by_number.get(v.number)
        if w is None:
            c.differences.append(
                Difference(sdk.full_name, v.number, f"{v.name} = {v.number} missing", via)
            )
        elif w.name != v.name:
            c.differences.append(
                Difference(sdk.full_name, v.number, f"{v.name} = {v.number} is our {w.name}", via)
            )


def _proto3_optional(f: FieldDescriptor) -> bool:
    """Whether ``f`` is proto3 ``optional`` (its oneof is synthetic, not a real oneof)."""
    owner = f.containing_type
    assert owner is not None
    proto = descriptor_pb2.DescriptorProto()
    owner.CopyToProto(proto)  # the Python descriptor API does not expose the flag
    return any(x.number == f.number and x.proto3_optional for x in proto.field)


def _real_oneof(f: FieldDescriptor) -> OneofDescriptor | None:
    return None if _proto3_optional(f) else f.containing_oneof


def pool_from(files: list[descriptor_pb2.FileDescriptorProto]) -> descriptor_pool.DescriptorPool:
    """A private pool holding ``files``, added dependencies first."""
    pool = descriptor_pool.DescriptorPool()
    by_name = {f.name: f for f in files}
    added: set[str] = set()

    def add(name: str) -> None:
        if name in added:
            return
        for dep in by_name[name].dependency:
            add(dep)
        pool.Add(by_name[name])
        added.add(name)

    for name in sorted(by_name):
        add(name)
    return pool


def sdk_service(sdk: str) -> ServiceDescriptor:
    done = subprocess.run(
        [str(sdk_python(sdk)), str(DUMPER), *SDK_PB2_MODULES[sdk]],
        capture_output=True, text=True, check=False, timeout=300,
    )
    assert done.returncode == 0, done.stderr
    raw = json.loads(done.stdout)
    files = [descriptor_pb2.FileDescriptorProto.FromString(base64.b64decode(b))
             for b in raw["files"].values()]
    return pool_from(files).FindServiceByName(SERVICE)


def _report(diffs: list[Difference]) -> str:
    return "\n".join(f"  {d.message}.{d.number}: {d.text}  [via {d.via}]" for d in diffs)


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
    assert not unexpected, f"{sdk}: wire differences from our proto:\n{_report(unexpected)}"
    seen = {(sdk, d.message, d.number) for d in result.differences}
    assert not set(allowed) - seen, f"stale ALLOWED entries: {sorted(set(allowed) - seen)}"


def _our_file() -> descriptor_pb2.FileDescriptorProto:
    proto = descriptor_pb2.FileDescriptorProto()
    ours.DESCRIPTOR.CopyToProto(proto)
    return proto


def _wkt_files() -> list[descriptor_pb2.FileDescriptorProto]:
    out = []
    for module in (duration_pb2, empty_pb2, timestamp_pb2, wrappers_pb2):
        proto = descriptor_pb2.FileDescriptorProto()
        module.DESCRIPTOR.CopyToProto(proto)
        out.append(proto)
    return out


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
    proto = _our_file()
    assert callable(mutate)
    mutate(proto)
    broken = pool_from([*_wkt_files(), proto]).FindServiceByName(OUR_SERVICE.full_name)

    assert not compare_service(OUR_SERVICE, OUR_SERVICE).differences
    diffs = compare_service(OUR_SERVICE, broken).differences
    assert {(d.message, d.number) for d in diffs} == {(f"wfsidecar.dapr.{message}", number)}, (
        _report(diffs)
    )
