"""Print the project's protos from the SDK wheels' descriptors, then compile them.

Usage (from the repo root, with the project venv)::

    .venv/bin/python scripts/gen_protos.py            # regenerate protos/ + wfsidecar/_proto
    .venv/bin/python scripts/gen_protos.py --check    # exit 1 if anything would change

Steps:

1. Build (or reuse) one venv per SDK under ``.sdk-venvs/`` (``tests/sdk_envs.py``).
2. Run ``scripts/dump_descriptors.py`` inside each; it prints the FileDescriptorProtos that
   the SDK's ``*_pb2`` modules embed.
3. ``protos/dapr/orchestrator_service.proto`` (package ``wfsidecar.dapr``): the union of
   the Dapr dialect over durabletask-dapr 0.17.4, dapr-ext-workflow 1.18.3 and dapr 1.19.0.
   Names come from 0.17.4; messages renamed in 1.18 are matched through ``MESSAGE_RENAMES``
   and checked field by field; anything only a later version has is added under that
   version's name. A field number that means two different things fails the run unless
   ``FIELD_RESOLUTIONS`` says what to do.
4. ``protos/ms/orchestrator_service.proto`` (package ``wfsidecar.ms``): the Microsoft
   dialect exactly as durabletask 1.12.0 ships it (its names, numbers and service).
5. ``protos/internal/orchestrator_service.proto`` (package ``wfsidecar.internal``): the
   storage/engine superset. The Dapr union unchanged, plus everything only Microsoft has;
   a Microsoft field whose number (or name) Dapr already uses moves to
   ``MS_NUMBER_OFFSET + number`` (and ``ms_<name>``), see ``build_internal``. The moves
   are also written as ``wfsidecar/_proto/internal/ms_fields.py`` for the transcoder.
6. ``protos/dapr_runtime/dapr_runtime.proto`` (package ``wfsidecar.dapr_runtime``): the
   workflow RPCs of Dapr's runtime API ``dapr.proto.runtime.v1.Dapr`` and their messages,
   from the dapr 1.14.0 and 1.19.0 wheels (``scripts/dapr_runtime_proto.py``).
7. Compile each with ``grpc_tools.protoc`` (``--python_out``, ``--pyi_out``) into
   ``wfsidecar/_proto/{dapr,ms,internal,dapr_runtime}/``; imports between generated
   modules become package-relative.

The output depends only on the pinned SDK wheels and the grpcio-tools version, so running
it twice gives identical files.
"""

from __future__ import annotations

import argparse
import base64
import copy
import json
import re
import subprocess
import sys
import tempfile
import textwrap
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path

from google.protobuf import descriptor_pb2

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from scripts import dapr_runtime_proto  # noqa: E402
from tests.sdk_envs import SDK_PB2_MODULES, sdk_python  # noqa: E402

DUMPER = REPO / "scripts" / "dump_descriptors.py"
PROTO_ROOT = REPO / "protos"
PROTO_REL = "dapr/orchestrator_service.proto"
OUT_PKG = REPO / "wfsidecar" / "_proto"
PACKAGE = "wfsidecar.dapr"

# The Microsoft dialect: one SDK, printed as its wheel ships it (names, numbers, service).
MS_VENV = "durabletask-112"
MS_LABEL = "1.12.0"
MS_PROTO_REL = "ms/orchestrator_service.proto"
MS_PACKAGE = "wfsidecar.ms"

# The internal superset both dialects map onto (see build_internal).
INTERNAL_PROTO_REL = "internal/orchestrator_service.proto"
INTERNAL_PACKAGE = "wfsidecar.internal"
MS_FIELDS_REL = "internal/ms_fields.py"  # under OUT_PKG
MS_NUMBER_OFFSET = 1000  # a Microsoft field whose number Dapr uses sits at 1000 + its number
MS_NAME_PREFIX = "ms_"  # ... and under ms_<name> if Dapr also uses its name

# (sdk venv, label used in comments). The first one is the base: its names win.
VERSIONS: tuple[tuple[str, str], ...] = (
    ("dt-dapr-017", "0.17.4"),
    ("dapr-ext-118", "1.18.3"),
    ("dapr-119", "1.19.0"),
)
LEGEND = "0.17.4 = durabletask-dapr, 1.18.3 = dapr-ext-workflow, 1.19.0 = dapr (core wheel)"

# Files in these proto packages are the sidecar<->backend protos of dapr 1.18+, not the
# client wire; they are left out.
SKIP_PACKAGES = frozenset({"durabletask.protos.backend.v1"})

# 1.18 renamed Orchestrator*/SubOrchestration* messages; field numbers stayed. later name ->
# 0.17 name. Every pair is checked field by field while merging (a wrong or missing entry
# shows up as a type conflict), and every entry must match a message in both versions.
MESSAGE_RENAMES: dict[str, str] = {
    "WorkflowInstance": "OrchestrationInstance",
    "WorkflowVersion": "OrchestrationVersion",
    "WorkflowState": "OrchestrationState",
    "WorkflowStartedEvent": "OrchestratorStartedEvent",
    "WorkflowCompletedEvent": "OrchestratorCompletedEvent",
    "ChildWorkflowInstanceCreatedEvent": "SubOrchestrationInstanceCreatedEvent",
    "ChildWorkflowInstanceCompletedEvent": "SubOrchestrationInstanceCompletedEvent",
    "ChildWorkflowInstanceFailedEvent": "SubOrchestrationInstanceFailedEvent",
    "CreateChildWorkflowAction": "CreateSubOrchestrationAction",
    "CompleteWorkflowAction": "CompleteOrchestrationAction",
    "TerminateWorkflowAction": "TerminateOrchestrationAction",
    "WorkflowVersionNotAvailableAction": "OrchestratorVersionNotAvailableAction",
    "WorkflowAction": "OrchestratorAction",
    "WorkflowRequest": "OrchestratorRequest",
    "WorkflowResponse": "OrchestratorResponse",
}


@dataclass(frozen=True)
class Resolution:
    """What to do with one base-version field that collides with a later version."""

    action: str  # "drop" or "rename"
    reason: str
    new_name: str = ""


# Explicit answers to the number/name conflicts between the versions (applied to the
# 0.17.4 base before merging). Anything else that conflicts fails the generator.
FIELD_RESOLUTIONS: dict[tuple[str, int], Resolution] = {
    ("WorkItem", 4): Resolution(
        "drop",
        "0.17.4 healthPing = 4 is omitted: 1.18.3 reserves 4 and crashes on it (HasField "
        "raises), 1.19.0 moved the ping to healthPing = 6. The server must never send 4 "
        "to a Dapr client.",
    ),
    ("GetWorkItemsRequest", 10): Resolution(
        "rename",
        "0.17.4 capabilities = 10, renamed so that 1.19.0 capabilities = 4 (the one the "
        "1.19 worker sends) keeps its name. 1.18.3+ reserve 10.",
        "legacyCapabilities",
    ),
}

# Extra comments on fields kept from the base although a later version reserves them.
FIELD_NOTES: dict[tuple[str, int], str] = {
    ("CreateInstanceRequest", 6): (
        "0.17.4 OrchestrationIdReusePolicy {operationStatus = 1, action = 2}, kept: "
        "the 0.17 client can send it."
    ),
}

_SCALARS = {
    getattr(descriptor_pb2.FieldDescriptorProto, f"TYPE_{n.upper()}"): n
    for n in ("double", "float", "int64", "uint64", "int32", "fixed64", "fixed32", "bool",
              "string", "bytes", "uint32", "sfixed32", "sfixed64", "sint32", "sint64")
}
_WKT_FILES = {
    "google.protobuf.Timestamp": "google/protobuf/timestamp.proto",
    "google.protobuf.Duration": "google/protobuf/duration.proto",
    "google.protobuf.Empty": "google/protobuf/empty.proto",
    "google.protobuf.Any": "google/protobuf/any.proto",
    "google.protobuf.Struct": "google/protobuf/struct.proto",
    "google.protobuf.Value": "google/protobuf/struct.proto",
    **{f"google.protobuf.{w}": "google/protobuf/wrappers.proto" for w in (
        "StringValue", "BoolValue", "Int32Value", "Int64Value", "UInt32Value",
        "UInt64Value", "DoubleValue", "FloatValue", "BytesValue")},
}


class MergeError(Exception):
    pass


# --------------------------------------------------------------------------- model


@dataclass
class Field:
    number: int
    name: str
    type: str  # scalar keyword, canonical message/enum name, or "map<k, v>"
    repeated: bool
    oneof: str | None  # real oneof only
    optional: bool  # proto3 `optional`
    deprecated: bool
    versions: list[str] = field(default_factory=list)
    aliases: dict[str, str] = field(default_factory=dict)  # other name -> first version
    notes: list[str] = field(default_factory=list)

    def shape(self) -> tuple[str, bool, bool]:
        return (self.type, self.repeated, self.optional)


@dataclass
class Message:
    name: str
    fields: dict[int, Field] = field(default_factory=dict)
    reserved: dict[int, list[str]] = field(default_factory=dict)  # number -> versions
    versions: list[str] = field(default_factory=list)
    aliases: dict[str, str] = field(default_factory=dict)
    reserved_notes: dict[int, str] = field(default_factory=dict)


@dataclass
class EnumValue:
    number: int
    name: str
    versions: list[str] = field(default_factory=list)
    aliases: dict[str, str] = field(default_factory=dict)


@dataclass
class Enum:
    name: str
    values: dict[int, EnumValue] = field(default_factory=dict)
    reserved: dict[int, list[str]] = field(default_factory=dict)
    versions: list[str] = field(default_factory=list)


@dataclass
class Rpc:
    name: str
    input: str
    output: str
    server_streaming: bool
    client_streaming: bool
    versions: list[str] = field(default_factory=list)


@dataclass
class Dialect:
    messages: dict[str, Message] = field(default_factory=dict)
    enums: dict[str, Enum] = field(default_factory=dict)
    rpcs: dict[str, Rpc] = field(default_factory=dict)


# --------------------------------------------------------------------------- reading


def dump(venv: str) -> dict[str, descriptor_pb2.FileDescriptorProto]:
    """Run the dumper in the SDK's venv; return its files by name."""
    python = sdk_python(venv)
    done = subprocess.run(
        [str(python), str(DUMPER), *SDK_PB2_MODULES[venv]],
        capture_output=True, text=True, check=False,
    )
    if done.returncode != 0:
        raise MergeError(f"dumper failed in {venv}:\n{done.stderr}")
    raw = json.loads(done.stdout)
    files = {
        name: descriptor_pb2.FileDescriptorProto.FromString(base64.b64decode(b64))
        for name, b64 in raw["files"].items()
    }
    return {name: files[name] for name in raw["roots"]}


def _canon(type_name: str, renames: dict[str, str] = MESSAGE_RENAMES) -> str:
    name = type_name.lstrip(".")
    if name.startswith("google.protobuf."):
        return name
    if "." in name:
        raise MergeError(f"unexpected qualified type {type_name}")
    return renames.get(name, name)


def read_version(files: dict[str, descriptor_pb2.FileDescriptorProto], label: str,
                 renames: dict[str, str] = MESSAGE_RENAMES) -> Dialect:
    """One SDK version as a Dialect, with later names already mapped to 0.17 names.

    ``renames`` maps message names to canonical ones (``{}``: keep the SDK's own names).
    """
    out = Dialect()
    fdp = descriptor_pb2.FieldDescriptorProto
    for fname in sorted(files):
        f = files[fname]
        if f.package in SKIP_PACKAGES:
            continue
        if f.package:
            raise MergeError(f"{fname}: unexpected proto package {f.package!r}")
        for m in f.message_type:
            maps = {}
            for nested in m.nested_type:
                if not nested.options.map_entry:
                    raise MergeError(f"{m.name}.{nested.name}: nested messages unsupported")
                k, v = sorted(nested.field, key=lambda x: x.number)
                maps[f".{m.name}.{nested.name}"] = (k, v)
            if m.enum_type or m.extension or m.extension_range:
                raise MergeError(f"{m.name}: nested enums/extensions unsupported")
            msg = Message(_canon(m.name, renames), versions=[label])
            if msg.name != m.name:
                msg.aliases[m.name] = label
            for r in m.reserved_range:
                for n in range(r.start, r.end):
                    msg.reserved[n] = [label]
            for fd in m.field:
                if fd.type_name in maps:
                    k, v = maps[fd.type_name]
                    ftype = f"map<{_type_of(k, renames)}, {_type_of(v, renames)}>"
                    repeated = False
                else:
                    ftype = _type_of(fd, renames)
                    repeated = fd.label == fdp.LABEL_REPEATED
                oneof = None
                if fd.HasField("oneof_index") and not fd.proto3_optional:
                    oneof = m.oneof_decl[fd.oneof_index].name
                msg.fields[fd.number] = Field(
                    fd.number, fd.name, ftype, repeated, oneof, fd.proto3_optional,
                    fd.options.deprecated, versions=[label],
                )
            out.messages[msg.name] = msg
        for e in f.enum_type:
            en = Enum(e.name, versions=[label])
            for ev in e.value:
                en.values[ev.number] = EnumValue(ev.number, ev.name, versions=[label])
            for er in e.reserved_range:
                for n in range(er.start, er.end + 1):  # enum ranges are inclusive
                    en.reserved[n] = [label]
            out.enums[en.name] = en
        for s in f.service:
            if s.name != "TaskHubSidecarService":
                raise MergeError(f"unexpected service {s.name}")
            for meth in s.method:
                out.rpcs[meth.name] = Rpc(
                    meth.name, _canon(meth.input_type, renames),
                    _canon(meth.output_type, renames),
                    meth.server_streaming, meth.client_streaming, versions=[label],
                )
    unknown = set(renames) - {a for m in out.messages.values() for a in m.aliases}
    if label != VERSIONS[0][1] and unknown:
        raise MergeError(f"{label}: MESSAGE_RENAMES entries match nothing: {sorted(unknown)}")
    return out


def _type_of(fd: descriptor_pb2.FieldDescriptorProto,
             renames: dict[str, str] = MESSAGE_RENAMES) -> str:
    if fd.type in _SCALARS:
        return _SCALARS[fd.type]
    if fd.type in (fd.TYPE_MESSAGE, fd.TYPE_ENUM):
        return _canon(fd.type_name, renames)
    raise MergeError(f"unsupported field type {fd.type} ({fd.name})")


# --------------------------------------------------------------------------- merging


def apply_resolutions(base: Dialect) -> None:
    for (mname, number), res in FIELD_RESOLUTIONS.items():
        msg = base.messages[mname]
        if number not in msg.fields:
            raise MergeError(f"resolution for missing field {mname}.{number}")
        if res.action == "drop":
            msg.fields.pop(number)
            msg.reserved.setdefault(number, [])
            msg.reserved_notes[number] = res.reason
        elif res.action == "rename":
            f = msg.fields[number]
            f.name = res.new_name
            f.notes.append(res.reason)
        else:
            raise MergeError(f"unknown resolution {res.action}")
    for (mname, number), note in FIELD_NOTES.items():
        base.messages[mname].fields[number].notes.append(note)


def merge(union: Dialect, other: Dialect, label: str) -> None:
    for name, om in other.messages.items():
        um = union.messages.get(name)
        if um is None:
            union.messages[name] = om
            continue
        um.versions.append(label)
        for alias, first in om.aliases.items():
            um.aliases.setdefault(alias, first)
        for number, versions in om.reserved.items():
            um.reserved.setdefault(number, []).extend(versions)
        for _, of in sorted(om.fields.items()):
            _merge_field(um, of, label)
    for name, oe in other.enums.items():
        ue = union.enums.get(name)
        if ue is None:
            union.enums[name] = oe
            continue
        ue.versions.append(label)
        for number, versions in oe.reserved.items():
            ue.reserved.setdefault(number, []).extend(versions)
        for number, ov in oe.values.items():
            uv = ue.values.get(number)
            if uv is None:
                if any(v.name == ov.name for v in ue.values.values()):
                    raise MergeError(f"enum {name}: value name {ov.name} reused")
                ue.values[number] = ov
            else:
                uv.versions.append(label)
                if ov.name != uv.name:
                    uv.aliases.setdefault(ov.name, label)
    for name, orpc in other.rpcs.items():
        urpc = union.rpcs.get(name)
        if urpc is None:
            union.rpcs[name] = orpc
            continue
        if (urpc.input, urpc.output, urpc.server_streaming, urpc.client_streaming) != (
            orpc.input, orpc.output, orpc.server_streaming, orpc.client_streaming
        ):
            raise MergeError(f"rpc {name}: signature differs in {label}")
        urpc.versions.append(label)


def _merge_field(um: Message, of: Field, label: str) -> None:
    where = f"{um.name}.{of.number} ({label} {of.name})"
    uf = um.fields.get(of.number)
    oneof = _map_oneof(um, of, label)
    if uf is not None:
        if uf.shape() != of.shape() or uf.oneof != oneof:
            raise MergeError(
                f"{where}: {of.shape()} oneof={oneof} conflicts with {uf.name} "
                f"{uf.shape()} oneof={uf.oneof}; add a FIELD_RESOLUTIONS entry"
            )
        uf.versions.append(label)
        if of.name != uf.name:
            uf.aliases.setdefault(of.name, label)
        return
    if any(f.name == of.name for f in um.fields.values()):
        raise MergeError(f"{where}: name already used at another number; resolve it")
    of.oneof = oneof
    um.fields[of.number] = of


def _map_oneof(um: Message, of: Field, label: str) -> str | None:
    """The union's name for the real oneof that ``of`` belongs to in its own version."""
    if of.oneof is None:
        return None
    return _ONEOF_MAP.get((um.name, label, of.oneof), of.oneof)


# (message, version label, that version's oneof name) -> union oneof name; filled by
# _collect_oneof_map from fields present in both the union and the later version.
_ONEOF_MAP: dict[tuple[str, str, str], str] = {}


def _collect_oneof_map(union: Dialect, other: Dialect, label: str) -> None:
    for name, om in other.messages.items():
        um = union.messages.get(name)
        if um is None:
            continue
        for number, of in om.fields.items():
            uf = um.fields.get(number)
            if of.oneof is None or uf is None or uf.oneof is None:
                continue
            key = (name, label, of.oneof)
            if _ONEOF_MAP.setdefault(key, uf.oneof) != uf.oneof:
                raise MergeError(f"{name}: oneof {of.oneof} ({label}) maps to two oneofs")


def build(dumps: dict[str, dict[str, descriptor_pb2.FileDescriptorProto]]) -> Dialect:
    (base_venv, base_label), *later = VERSIONS
    _ONEOF_MAP.clear()
    union = read_version(dumps[base_venv], base_label)
    apply_resolutions(union)
    for venv, label in later:
        other = read_version(dumps[venv], label)
        _collect_oneof_map(union, other, label)
        merge(union, other, label)
    _check_references(union)
    return union


def _check_references(d: Dialect) -> None:
    known = set(d.messages) | set(d.enums) | set(_WKT_FILES)
    for m in d.messages.values():
        for f in m.fields.values():
            for t in re.findall(r"[A-Za-z_][\w.]*", f.type):
                if t not in known and t != "map" and t not in _SCALARS.values():
                    raise MergeError(f"{m.name}.{f.name}: unknown type {t}")
    for r in d.rpcs.values():
        for t in (r.input, r.output):
            if t not in known:
                raise MergeError(f"rpc {r.name}: unknown type {t}")


# --------------------------------------------------------------------------- printing

ALL = [label for _, label in VERSIONS]


def _provenance(versions: Iterable[str], aliases: dict[str, str],
                reserved_in: Iterable[str] = ()) -> str:
    parts = []
    vs = list(dict.fromkeys(versions))
    if vs != ALL:
        parts.append("only " + ", ".join(vs) if len(vs) == 1 else ", ".join(vs))
    res = [v for v in dict.fromkeys(reserved_in) if v not in vs]
    if res:
        parts.append("reserved in " + ", ".join(res))
    for alias, first in aliases.items():
        parts.append(f"{first}+: {alias}")
    return "; ".join(parts)


DAPR_HEADER = (
    "GENERATED by scripts/gen_protos.py from the FileDescriptorProtos embedded in the",
    "Dapr workflow SDK wheels. Do not edit by hand: run `make proto`.",
    "",
    "The Dapr wire dialect of TaskHubSidecarService: the union of",
    f"  {LEGEND}.",
    "Names are 0.17.4's; things only later versions have keep their own names. A",
    "comment lists the versions that have a field when not all do, and the later name",
    "when it was renamed (\"1.18.3+: workflowInstance\"). The proto package only keeps",
    "this dialect apart from the Microsoft one in-process; on the wire the service is",
    "/TaskHubSidecarService/<Method>.",
)

# How a message, field, enum, value or rpc is annotated: (versions, aliases, reserved in).
Provenance = Callable[[Iterable[str], dict[str, str], Iterable[str]], str]


def render(d: Dialect, header: Iterable[str] = DAPR_HEADER, package: str = PACKAGE,
           prov: Provenance = _provenance) -> str:
    lines = [f"// {h}" if h else "//" for h in header]
    lines += [
        "",
        'syntax = "proto3";',
        "",
        f"package {package};",
        "",
    ]
    used = sorted({_WKT_FILES[t] for m in d.messages.values() for f in m.fields.values()
                   for t in re.findall(r"google\.protobuf\.\w+", f.type)}
                  | {_WKT_FILES[t] for r in d.rpcs.values() for t in (r.input, r.output)
                     if t in _WKT_FILES})
    lines += [f'import "{u}";' for u in used] + [""]
    for msg in d.messages.values():
        lines += _render_message(msg, prov) + [""]
    for en in d.enums.values():
        lines += _render_enum(en, prov) + [""]
    lines.append("service TaskHubSidecarService {")
    for r in d.rpcs.values():
        rprov = prov(r.versions, {}, ())
        ins = f"stream {r.input}" if r.client_streaming else r.input
        outs = f"stream {r.output}" if r.server_streaming else r.output
        line = f"  rpc {r.name}({ins}) returns ({outs});"
        lines.append(line + (f"  // {rprov}" if rprov else ""))
    lines.append("}")
    return "\n".join(lines) + "\n"


def _comment(text: str, indent: str) -> list[str]:
    return [f"{indent}// {line}" for line in textwrap.wrap(text, 96 - len(indent))]


def _render_message(msg: Message, prov: Provenance) -> list[str]:
    mprov = prov(msg.versions, msg.aliases, ())
    out = [f"message {msg.name} {{" + (f"  // {mprov}" if mprov else "")]
    emitted_oneofs: set[str] = set()
    for number in sorted(msg.fields):
        f = msg.fields[number]
        if f.oneof is None:
            out += _render_field(msg, f, "  ", prov)
            continue
        if f.oneof in emitted_oneofs:
            continue
        emitted_oneofs.add(f.oneof)
        out.append(f"  oneof {f.oneof} {{")
        for member in sorted((g for g in msg.fields.values() if g.oneof == f.oneof),
                             key=lambda g: g.number):
            out += _render_field(msg, member, "    ", prov)
        out.append("  }")
    free = sorted(n for n in msg.reserved if n not in msg.fields)
    for n in free:
        if n in msg.reserved_notes:
            out += _comment(msg.reserved_notes[n], "  ")
            out.append(f"  reserved {n};")
    plain = [str(n) for n in free if n not in msg.reserved_notes]
    if plain:
        out.append(f"  reserved {', '.join(plain)};")
    out.append("}")
    return out


def _render_field(msg: Message, f: Field, indent: str, prov: Provenance) -> list[str]:
    out = [line for note in f.notes for line in _comment(note, indent)]
    label = "repeated " if f.repeated else "optional " if f.optional else ""
    opts = " [deprecated = true]" if f.deprecated else ""
    reserved_in = msg.reserved.get(f.number, [])
    fprov = ""
    if f.versions != msg.versions or f.aliases or reserved_in:
        fprov = prov(f.versions, f.aliases, reserved_in)
    line = f"{indent}{label}{f.type} {f.name} = {f.number}{opts};"
    out.append(line + (f"  // {fprov}" if fprov else ""))
    return out


def _render_enum(en: Enum, prov: Provenance) -> list[str]:
    eprov = prov(en.versions, {}, ())
    out = [f"enum {en.name} {{" + (f"  // {eprov}" if eprov else "")]
    for number in sorted(en.values):
        v = en.values[number]
        reserved_in = en.reserved.get(number, [])
        vprov = ""
        if v.versions != en.versions or v.aliases or reserved_in:
            vprov = prov(v.versions, v.aliases, reserved_in)
        out.append(f"  {v.name} = {number};" + (f"  // {vprov}" if vprov else ""))
    free = sorted(n for n in en.reserved if n not in en.values)
    if free:
        out.append(f"  reserved {', '.join(str(n) for n in free)};")
    out.append("}")
    return out


# --------------------------------------------------------------------------- Microsoft, internal

MS_HEADER = (
    "GENERATED by scripts/gen_protos.py from the FileDescriptorProto embedded in the",
    f"durabletask {MS_LABEL} wheel (durabletask/internal/orchestrator_service_pb2). Do not",
    "edit by hand: run `make proto`.",
    "",
    "The Microsoft wire dialect of TaskHubSidecarService, with the SDK's own message, field,",
    "enum and rpc names and numbers. The proto package only keeps this dialect apart from",
    "the Dapr one in-process; on the wire the service is /TaskHubSidecarService/<Method>.",
)

INTERNAL_HEADER = (
    "GENERATED by scripts/gen_protos.py from the Dapr and Microsoft dialects it prints",
    "(protos/dapr, protos/ms). Do not edit by hand: run `make proto`.",
    "",
    "wfsidecar's internal model of TaskHubSidecarService, used for storage and by the",
    "engine: a superset that both wire dialects map onto (wfsidecar/server/transcode.py).",
    "- Every Dapr message, field, enum value and rpc is here with the Dapr name and number,",
    "  so history stored in the Dapr format parses unchanged.",
    f"- Everything the Microsoft dialect (durabletask {MS_LABEL}) adds is here too. A",
    "  Microsoft field keeps its number and name where the Dapr message leaves both free.",
    f"  Otherwise it sits at {MS_NUMBER_OFFSET} + its number, under its own name or, if Dapr",
    f"  uses that name, {MS_NAME_PREFIX}<name>; a oneof member stays in the oneof of that",
    "  name. Enum values work the same way. A comment above each such field or value gives",
    "  the Microsoft name and number; wfsidecar/_proto/internal/ms_fields.py lists them.",
    "Comments mark what only one dialect has (\"Dapr only\", \"Microsoft only\"), and the",
    "Dapr versions that have something when not all of them do.",
)


def _no_provenance(versions: Iterable[str], aliases: dict[str, str],
                   reserved_in: Iterable[str] = ()) -> str:
    return ""


def _internal_provenance(versions: Iterable[str], aliases: dict[str, str],
                         reserved_in: Iterable[str] = ()) -> str:
    vs = list(dict.fromkeys(versions))
    dapr = [v for v in vs if v != MS_LABEL]
    parts = []
    if MS_LABEL not in vs:
        parts.append("Dapr only" + ("" if dapr == ALL else f" ({', '.join(dapr)})"))
    elif not dapr:
        parts.append("Microsoft only")
    elif dapr != ALL:
        parts.append(f"Microsoft; Dapr {', '.join(dapr)}")
    res = [v for v in dict.fromkeys(reserved_in) if v not in vs]
    if res:
        parts.append("reserved in Dapr " + ", ".join(res))
    for alias, first in aliases.items():
        parts.append(f"{first}+: {alias}")
    return "; ".join(parts)


def read_ms(files: dict[str, descriptor_pb2.FileDescriptorProto]) -> Dialect:
    """The Microsoft dialect exactly as the wheel has it (its own names, no merging)."""
    ms = read_version(files, MS_LABEL, renames={})
    _check_references(ms)
    return ms


@dataclass(frozen=True)
class Moved:
    """A Microsoft field or enum value that has another name or number internally."""

    internal_name: str
    internal_number: int
    ms_name: str
    ms_number: int
    why: str


@dataclass
class MsMapping:
    fields: dict[str, list[Moved]] = field(default_factory=dict)  # by message name
    values: dict[str, list[Moved]] = field(default_factory=dict)  # by enum name
    ms_only_fields: dict[str, list[str]] = field(default_factory=dict)  # by message name
    ms_only_messages: list[str] = field(default_factory=list)


def build_internal(dapr: Dialect, ms: Dialect) -> tuple[Dialect, MsMapping]:
    """The internal superset: ``dapr`` unchanged, plus what only ``ms`` has (see header)."""
    internal = copy.deepcopy(dapr)
    ms = copy.deepcopy(ms)
    mapping = MsMapping()
    for name, mm in ms.messages.items():
        im = internal.messages.get(name)
        if im is None:
            internal.messages[name] = mm
            mapping.ms_only_messages.append(name)
            mapping.ms_only_fields[name] = [f.name for _, f in sorted(mm.fields.items())]
            continue
        im.versions.append(MS_LABEL)
        for _, mf in sorted(mm.fields.items()):
            _add_ms_field(im, mf, mapping)
    value_names = {v.name for e in internal.enums.values() for v in e.values.values()}
    for name, me in ms.enums.items():
        ie = internal.enums.get(name)
        if ie is None:
            clash = value_names & {v.name for v in me.values.values()}
            if clash:
                raise MergeError(f"enum {name}: value names {sorted(clash)} already used")
            internal.enums[name] = me
            continue
        ie.versions.append(MS_LABEL)
        for number, mv in sorted(me.values.items()):
            iv = ie.values.get(number)
            if iv is not None and iv.name == mv.name:
                iv.versions.append(MS_LABEL)
                continue
            if mv.name in value_names:
                raise MergeError(f"enum {name}: Microsoft {mv.name} = {number} clashes by name")
            where = f"Dapr's {iv.name}" if iv else "reserved in Dapr"
            if iv is None and number not in ie.reserved:
                ie.values[number] = mv
            else:
                new = MS_NUMBER_OFFSET + number
                if new in ie.values or new in ie.reserved:
                    raise MergeError(f"enum {name}: {new} taken")
                mv.number = new
                ie.values[new] = mv
                why = f"Microsoft {mv.name} = {number} ({number} is {where})"
                mapping.values.setdefault(name, []).append(
                    Moved(mv.name, new, mv.name, number, why))
            value_names.add(mv.name)
    for name, mr in ms.rpcs.items():
        ir = internal.rpcs.get(name)
        if ir is None:
            internal.rpcs[name] = mr
        elif (ir.input, ir.output, ir.server_streaming, ir.client_streaming) != (
            mr.input, mr.output, mr.server_streaming, mr.client_streaming
        ):
            raise MergeError(f"rpc {name}: Microsoft signature differs from Dapr")
        else:
            ir.versions.append(MS_LABEL)
    _check_references(internal)
    return internal, mapping


def _add_ms_field(im: Message, mf: Field, mapping: MsMapping) -> None:
    number = mf.number
    df = im.fields.get(number)
    if df is not None and (df.name, df.shape(), df.oneof) == (mf.name, mf.shape(), mf.oneof):
        df.versions.append(MS_LABEL)  # the same field in both dialects
        return
    mapping.ms_only_fields.setdefault(im.name, []).append(mf.name)
    names = {f.name for f in im.fields.values()}
    if df is None and number not in im.reserved and mf.name not in names:
        im.fields[number] = mf
        return
    new = MS_NUMBER_OFFSET + number
    if new in im.fields or new in im.reserved:
        raise MergeError(f"{im.name}: {new} taken; cannot place Microsoft {mf.name}")
    new_name = mf.name if mf.name not in names else MS_NAME_PREFIX + mf.name
    if new_name in names:
        raise MergeError(f"{im.name}: {new_name} taken; cannot place Microsoft {mf.name}")
    if df is not None:
        where = f"Dapr's {df.name}"
    elif number in im.reserved:
        where = "reserved in Dapr"
    else:
        where = "free"
    why = f"Microsoft {mf.name} = {number} ({number} is {where}"
    why += f"; Dapr's {mf.name} is another field)" if new_name != mf.name else ")"
    mapping.fields.setdefault(im.name, []).append(Moved(new_name, new, mf.name, number, why))
    mf.notes.append(why + ".")
    mf.number, mf.name = new, new_name
    im.fields[new] = mf


def render_ms_fields(mapping: MsMapping) -> str:
    """``wfsidecar/_proto/internal/ms_fields.py``: the mapping as Python literals."""
    out = [
        '"""Where Microsoft-dialect names and numbers sit in ``wfsidecar.internal`` (generated).',
        "",
        "Written by scripts/gen_protos.py; do not edit by hand: run `make proto`. The",
        "transcoder (``wfsidecar.server.transcode``) matches fields and enum values by name and",
        "uses these tables for the Microsoft ones that have another name or number internally.",
        '"""',
        "",
        "from __future__ import annotations",
        "",
        f'INTERNAL_PACKAGE = "{INTERNAL_PACKAGE}"',
        f'MS_PACKAGE = "{MS_PACKAGE}"',
        "",
        "# internal message full name -> ((internal field name, Microsoft field name), ...): every",
        "# Microsoft field whose internal name or number differs. Every other Microsoft field has",
        "# the same name and number internally.",
        "MS_FIELDS: dict[str, tuple[tuple[str, str], ...]] = {",
    ]
    out += _moved_literal(mapping.fields)
    out += [
        "}",
        "",
        "# internal enum full name -> ((internal value name, Microsoft value name), ...): every",
        "# Microsoft enum value whose internal name or number differs.",
        "MS_ENUM_VALUES: dict[str, tuple[tuple[str, str], ...]] = {",
    ]
    out += _moved_literal(mapping.values)
    out += [
        "}",
        "",
        "# Microsoft message full name -> its fields that the Dapr dialect does not have (they",
        "# are dropped when a message goes out in the Dapr dialect).",
        "MS_ONLY_FIELDS: dict[str, tuple[str, ...]] = {",
    ]
    for msg, names in mapping.ms_only_fields.items():
        out.append(f'    "{MS_PACKAGE}.{msg}": (')
        out += [f'        "{n}",' for n in names]
        out.append("    ),")
    out += [
        "}",
        "",
        "# Microsoft messages the Dapr dialect does not have at all.",
        "MS_ONLY_MESSAGES: tuple[str, ...] = (",
    ]
    out += [f'    "{MS_PACKAGE}.{m}",' for m in mapping.ms_only_messages]
    out.append(")")
    return "\n".join(out) + "\n"


def _moved_literal(table: dict[str, list[Moved]]) -> list[str]:
    out = []
    for name, moved in table.items():
        out.append(f'    "{INTERNAL_PACKAGE}.{name}": (')
        for m in moved:
            out.append(f'        ("{m.internal_name}", "{m.ms_name}"),'
                       f"  # internal {m.internal_number}, Microsoft {m.ms_number}")
        out.append("    ),")
    return out


# --------------------------------------------------------------------------- compiling


def compile_proto(proto_root: Path, proto_rel: str, doc: str) -> dict[Path, str]:
    """Run protoc on one printed proto; return {path under OUT_PKG: text}."""
    with tempfile.TemporaryDirectory() as tmp:
        done = subprocess.run(
            [sys.executable, "-m", "grpc_tools.protoc", f"-I{proto_root}",
             f"--python_out={tmp}", f"--pyi_out={tmp}", proto_rel],
            capture_output=True, text=True, check=False, cwd=REPO,
        )
        if done.returncode != 0:
            raise MergeError(f"protoc failed:\n{done.stderr}")
        result: dict[Path, str] = {}
        for p in sorted(Path(tmp).rglob("*.py*")):
            rel = p.relative_to(tmp)
            result[rel] = _relative_imports(p.read_text(), rel, proto_rel)
    result[Path("__init__.py")] = '"""Generated protobuf modules (scripts/gen_protos.py)."""\n'
    result[Path(proto_rel).parent / "__init__.py"] = f'"""{doc}"""\n'
    return result


def _relative_imports(text: str, rel: Path, proto_rel: str = PROTO_REL) -> str:
    """``from dapr import x_pb2`` -> ``from . import x_pb2`` (our modules, never google's).

    protoc writes absolute imports rooted at ``-I``; the generated tree lives inside
    ``wfsidecar._proto``, so imports between our own generated modules become relative.
    """
    ups = "." * len(rel.parts)  # from dapr/x_pb2.py, "." is dapr/ and ".." is _proto/
    ours = "|".join(sorted({p.parts[0] for p in [Path(proto_rel)]}))
    return re.sub(
        rf"^from ({ours})((?:\.\w+)*) import (\w+_pb2)",
        lambda m: f"from {ups}{m.group(1)}{m.group(2)} import {m.group(3)}",
        text, flags=re.M,
    )


# (printed proto under protos/, docstring of its generated package under wfsidecar/_proto/)
PACKAGE_DOCS: dict[str, str] = {
    PROTO_REL: "Dapr-dialect TaskHubSidecarService messages (generated).",
    MS_PROTO_REL: "Microsoft-dialect TaskHubSidecarService messages (generated).",
    INTERNAL_PROTO_REL: (
        "wfsidecar's internal superset of both dialects: storage and engine (generated)."
    ),
    dapr_runtime_proto.PROTO_REL: dapr_runtime_proto.DOC,
}


# --------------------------------------------------------------------------- main


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--check", action="store_true", help="fail if anything would change")
    args = ap.parse_args(argv)
    dumps = {venv: dump(venv) for venv, _ in VERSIONS}
    dapr = build(dumps)
    ms = read_ms(dump(MS_VENV))
    internal, mapping = build_internal(dapr, ms)
    protos = {
        PROTO_REL: render(dapr),
        MS_PROTO_REL: render(ms, MS_HEADER, MS_PACKAGE, _no_provenance),
        INTERNAL_PROTO_REL: render(internal, INTERNAL_HEADER, INTERNAL_PACKAGE,
                                   _internal_provenance),
        dapr_runtime_proto.PROTO_REL: dapr_runtime_proto.build(
            {venv: dapr_runtime_proto.dump(venv) for venv, _ in dapr_runtime_proto.VERSIONS}),
    }
    outputs: dict[Path, str] = {PROTO_ROOT / rel: text for rel, text in protos.items()}
    with tempfile.TemporaryDirectory() as tmp:
        for rel, text in protos.items():
            (Path(tmp) / rel).parent.mkdir(parents=True)
            (Path(tmp) / rel).write_text(text)
        for rel in protos:
            for out_rel, text in compile_proto(Path(tmp), rel, PACKAGE_DOCS[rel]).items():
                outputs[OUT_PKG / out_rel] = text
    outputs[OUT_PKG / MS_FIELDS_REL] = render_ms_fields(mapping)
    stale = [p for p, t in outputs.items() if not p.exists() or p.read_text() != t]
    if args.check:
        for p in stale:
            print(f"out of date: {p.relative_to(REPO)}", file=sys.stderr)
        return 1 if stale else 0
    for p in stale:
        p.parent.mkdir(parents=True, exist_ok=True)
        p.write_text(outputs[p])
        print(f"wrote {p.relative_to(REPO)}")
    if not stale:
        print("up to date")
    return 0


if __name__ == "__main__":
    sys.exit(main())
