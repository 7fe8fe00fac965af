"""Comparing our generated protos with an SDK's own descriptors, field by field.

Shared by the per-dialect conformance tests (``test_dapr_wire``, ``test_ms_wire``). The SDK
side comes from ``scripts/dump_descriptors.py`` run in that SDK's venv (``sdk_service``):
the FileDescriptorProtos its ``*_pb2`` modules embed, loaded into a private DescriptorPool
(never the default one: the SDK files are un-packaged and would clash with each other).

``compare_service`` walks every TaskHubSidecarService method's request and response types
and pairs messages by *structure* (method name, then field number), never by name. Every
field the SDK has must exist in ours with the same number, type, cardinality, presence and
oneof membership; every enum value it has must exist in ours with the same name. Fields
and values only we have are fine. With ``names=True`` message, field and oneof names must
match as well (for a proto printed with the SDK's own names).
"""

from __future__ import annotations

import base64
import json
import subprocess
from dataclasses import dataclass, field
from types import ModuleType
from typing import Any, TypeVar, cast

from google.protobuf import (
    descriptor_pb2,
    descriptor_pool,
    duration_pb2,
    empty_pb2,
    struct_pb2,
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
from google.protobuf.message import Message

from tests.sdk_envs import REPO, SDK_PB2_MODULES, sdk_python

M = TypeVar("M", bound=Message)

DUMPER = REPO / "scripts" / "dump_descriptors.py"
SERVICE = "TaskHubSidecarService"


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
    names: bool = False  # also require equal message, field, oneof and enum names


def compare_service(sdk: ServiceDescriptor, our: ServiceDescriptor, *,
                    names: bool = False) -> Comparison:
    """Compare everything reachable from ``sdk``'s methods with ``our`` counterparts."""
    c = Comparison(names=names)
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
        compare_message(c, m.input_type, o.input_type, f"{m.name} request")
        compare_message(c, m.output_type, o.output_type, f"{m.name} response")
    return c


def compare_message(c: Comparison, sdk: Descriptor, our: Descriptor, via: str) -> None:
    if (sdk.full_name, our.full_name) in c.messages:
        return
    c.messages.add((sdk.full_name, our.full_name))
    if sdk.GetOptions().map_entry != our.GetOptions().map_entry:
        c.differences.append(Difference(sdk.full_name, 0, "map entry vs message", via))
    if c.names and sdk.name != our.name:
        c.differences.append(Difference(sdk.full_name, 0, f"is our {our.full_name}", via))
    for f in sdk.fields:
        c.fields += 1
        g = our.fields_by_number.get(f.number)
        where = f"{via} > {sdk.name}.{f.name}"
        if g is None:
            c.differences.append(
                Difference(sdk.full_name, f.number, f"{f.name} = {f.number} missing", where)
            )
            continue
        problems = field_problems(f, g, names=c.names)
        if problems:
            c.differences.append(Difference(
                sdk.full_name, f.number,
                f"{f.name} = {f.number} vs our {our.name}.{g.name}: {'; '.join(problems)}",
                where,
            ))
            continue
        if f.message_type is not None and g.message_type is not None:
            compare_message(c, f.message_type, g.message_type, where)
        elif f.enum_type is not None and g.enum_type is not None:
            compare_enum(c, f.enum_type, g.enum_type, where)
    for o in sdk.oneofs:
        members = [f for f in o.fields if not proto3_optional(f)]
        if not members:
            continue
        mapped = {
            our_oneof.full_name for f in members
            if (g := our.fields_by_number.get(f.number)) is not None
            and (our_oneof := real_oneof(g)) is not None
        }
        if len(mapped) > 1:  # members outside any oneof are reported per field above
            c.differences.append(Difference(
                sdk.full_name, members[0].number,
                f"oneof {o.name} members split across our oneofs {sorted(mapped)}",
                via,
            ))


def field_problems(f: FieldDescriptor, g: FieldDescriptor, *, names: bool = False) -> list[str]:
    problems = []
    if names and f.name != g.name:
        problems.append(f"name {f.name} != {g.name}")
    if f.type != g.type:
        problems.append(f"type {f.type} != {g.type}")
    if f.is_repeated != g.is_repeated:
        problems.append(f"repeated {f.is_repeated} != {g.is_repeated}")
    if f.has_presence != g.has_presence:
        problems.append(f"presence {f.has_presence} != {g.has_presence}")
    fo, go = real_oneof(f), real_oneof(g)
    if (fo is None) != (go is None):
        problems.append(f"oneof {fo.name if fo else None} != {go.name if go else None}")
    elif names and fo is not None and go is not None and fo.name != go.name:
        problems.append(f"oneof {fo.name} != {go.name}")
    return problems


def compare_enum(c: Comparison, sdk: EnumDescriptor, our: EnumDescriptor, via: str) -> None:
    if (sdk.full_name, our.full_name) in c.enums:
        return
    c.enums.add((sdk.full_name, our.full_name))
    if c.names and sdk.name != our.name:
        c.differences.append(Difference(sdk.full_name, -1, f"is our {our.full_name}", via))
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


def proto3_optional(f: FieldDescriptor) -> bool:
    """Whether ``f`` is proto3 ``optional`` (its oneof is synthetic, not a real oneof)."""
    owner = f.containing_type
    assert owner is not None
    proto = descriptor_pb2.DescriptorProto()
    owner.CopyToProto(proto)  # the Python descriptor API does not expose the flag
    return any(x.number == f.number and x.proto3_optional for x in proto.field)


def real_oneof(f: FieldDescriptor) -> OneofDescriptor | None:
    return None if proto3_optional(f) else f.containing_oneof


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


def sdk_files(sdk: str) -> tuple[list[descriptor_pb2.FileDescriptorProto], list[str]]:
    """The SDK's embedded files (with everything they import) and the names of its own."""
    done = subprocess.run(
        [str(sdk_python(sdk)), str(DUMPER), *SDK_PB2_MODULES[sdk]],
        capture_output=True, text=True, check=False, timeout=300,
    )
    assert done.returncode == 0, done.stderr
    raw = json.loads(done.stdout)
    files = [descriptor_pb2.FileDescriptorProto.FromString(base64.b64decode(b))
             for b in raw["files"].values()]
    return files, list(raw["roots"])


def sdk_service(sdk: str) -> ServiceDescriptor:
    files, _ = sdk_files(sdk)
    return pool_from(files).FindServiceByName(SERVICE)


def report(diffs: list[Difference]) -> str:
    return "\n".join(f"  {d.message}.{d.number}: {d.text}  [via {d.via}]" for d in diffs)


def file_proto(module: ModuleType) -> descriptor_pb2.FileDescriptorProto:
    """The FileDescriptorProto of a generated ``*_pb2`` module."""
    proto = descriptor_pb2.FileDescriptorProto()
    module.DESCRIPTOR.CopyToProto(proto)
    return proto


def wkt_files() -> list[descriptor_pb2.FileDescriptorProto]:
    """The well-known-type files our protos import, for building a private pool."""
    return [file_proto(m) for m in (duration_pb2, empty_pb2, struct_pb2, timestamp_pb2,
                                    wrappers_pb2)]


# --------------------------------------------------------------------------- sample messages


def oneof_variants(cls: type[Message]) -> int:
    """How many ``populated(cls, choice)`` variants it takes to set every top-level oneof member."""
    d = cast(Descriptor, cls.DESCRIPTOR)
    sizes = [len([f for f in o.fields if not proto3_optional(f)]) for o in d.oneofs]
    return max([1, *sizes])


def populated(cls: type[M], choice: int = 0, depth: int = 5) -> M:
    """A ``cls`` with every field set (maps and repeated fields get two entries).

    In each real oneof only member number ``choice`` (modulo its size) is set, nested ones
    included; sub-messages stop ``depth`` levels down. Enum fields get the enum's second
    value (the first when there is one), so a value both dialects share where they share
    the enum. Deterministic: the same arguments give the same bytes.
    """
    msg = cls()
    _fill(msg, choice, depth)
    return msg


def _fill(msg: Message, choice: int, depth: int) -> None:
    d = cast(Descriptor, msg.DESCRIPTOR)
    skip = set()
    for o in d.oneofs:
        members = [f for f in o.fields if not proto3_optional(f)]
        if members:
            keep = members[choice % len(members)]
            skip |= {f.name for f in members if f is not keep}
    for f in d.fields:
        if f.name in skip:
            continue
        target: Any = getattr(msg, f.name)
        if f.message_type is not None and f.message_type.GetOptions().map_entry:
            k, v = (f.message_type.fields_by_name[n] for n in ("key", "value"))
            for i in range(2):
                key = _scalar(k, i)
                if v.message_type is not None:
                    if depth > 0:
                        _fill(target[key], choice, depth - 1)
                else:
                    target[key] = _scalar(v, i)
        elif f.is_repeated:
            for i in range(2):
                if f.message_type is not None:
                    if depth > 0:
                        _fill(target.add(), choice + i, depth - 1)
                else:
                    target.append(_scalar(f, i))
        elif f.message_type is not None:
            if depth > 0:
                target.SetInParent()
                _fill(target, choice, depth - 1)
        else:
            setattr(msg, f.name, _scalar(f, 0))


def _scalar(f: FieldDescriptor, i: int) -> Any:
    if f.enum_type is not None:
        values = f.enum_type.values
        return values[min(1 + i, len(values) - 1)].number
    t = f.cpp_type
    if t == f.CPPTYPE_STRING:
        return f"{f.name}-{i}".encode() if f.type == f.TYPE_BYTES else f"{f.name}-{i}"
    if t == f.CPPTYPE_BOOL:
        return i == 0
    if t in (f.CPPTYPE_DOUBLE, f.CPPTYPE_FLOAT):
        return 1.5 + i
    return f.number + i + 1  # integers; small enough for Timestamp.nanos and every width
