"""Print ``protos/dapr_runtime/dapr_runtime.proto`` from the ``dapr`` wheels' descriptors.

Called by ``scripts/gen_protos.py`` (``make proto``). Only the workflow part of Dapr's
runtime API is printed: the fourteen ``*WorkflowAlpha1``/``*WorkflowBeta1`` RPCs of
``dapr.proto.runtime.v1.Dapr`` (``RPCS``) and every message they take or return, with the
wheels' names, numbers and JSON names, in package ``wfsidecar.dapr_runtime``.

The base is dapr 1.14.0, the last Python SDK whose ``DaprClient`` calls these RPCs. Each
later wheel in ``VERSIONS`` is read too: a field only it has is added with a comment, a
field whose number, name or type differs fails the run, and so does an RPC whose
signature differs.
"""

from __future__ import annotations

import base64
import json
import subprocess
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path

from google.protobuf import descriptor_pb2

from tests.sdk_envs import sdk_python

PROTO_REL = "dapr_runtime/dapr_runtime.proto"
PACKAGE = "wfsidecar.dapr_runtime"
DOC = "Dapr runtime API (dapr.proto.runtime.v1.Dapr): the workflow RPCs only (generated)."

SOURCE_PACKAGE = "dapr.proto.runtime.v1"
SERVICE = "Dapr"
MODULES = ("dapr.proto.runtime.v1.dapr_pb2",)
# (sdk venv, label). The first is the base.
VERSIONS: tuple[tuple[str, str], ...] = (("dapr-114", "1.14.0"), ("dapr-119", "1.19.0"))
OPERATIONS = ("Start", "Get", "Purge", "Terminate", "Pause", "Resume", "RaiseEvent")
RPCS = tuple(f"{op}Workflow{stage}" for stage in ("Alpha1", "Beta1") for op in OPERATIONS)

_FDP = descriptor_pb2.FieldDescriptorProto
_SCALARS = {
    getattr(_FDP, f"TYPE_{n.upper()}"): n
    for n in ("double", "float", "int64", "uint64", "int32", "fixed64", "fixed32", "bool",
              "string", "bytes", "uint32", "sfixed32", "sfixed64", "sint32", "sint64")
}
_WKT_FILES = {
    "google.protobuf.Timestamp": "google/protobuf/timestamp.proto",
    "google.protobuf.Empty": "google/protobuf/empty.proto",
    "google.protobuf.Any": "google/protobuf/any.proto",
}
DUMPER = Path(__file__).resolve().parent / "dump_descriptors.py"


class RuntimeProtoError(Exception):
    pass


@dataclass
class _Field:
    number: int
    name: str
    type: str  # scalar, message name, google.protobuf.X or "map<k, v>"
    label: str  # "", "repeated " or "optional "
    json_name: str  # "" when protoc's default
    versions: list[str] = field(default_factory=list)

    def shape(self) -> tuple[str, str, str, str]:
        return (self.name, self.type, self.label, self.json_name)


@dataclass
class _Message:
    name: str
    fields: dict[int, _Field] = field(default_factory=dict)


def dump(venv: str) -> dict[str, descriptor_pb2.FileDescriptorProto]:
    """Every file the wheel's ``MODULES`` embed, imports included, by file name."""
    done = subprocess.run([str(sdk_python(venv)), str(DUMPER), *MODULES],
                          capture_output=True, text=True, check=False)
    if done.returncode != 0:
        raise RuntimeProtoError(f"dumper failed in {venv}:\n{done.stderr}")
    raw = json.loads(done.stdout)
    return {name: descriptor_pb2.FileDescriptorProto.FromString(base64.b64decode(b64))
            for name, b64 in raw["files"].items()}


def _default_json_name(name: str) -> str:
    head, *rest = name.split("_")
    return head + "".join(p[:1].upper() + p[1:] for p in rest)


def _type_name(type_name: str) -> str:
    name = type_name.lstrip(".")
    if name in _WKT_FILES:
        return name
    prefix = SOURCE_PACKAGE + "."
    if not name.startswith(prefix):
        raise RuntimeProtoError(f"unexpected type {type_name}")
    return name[len(prefix):]


def _read_message(m: descriptor_pb2.DescriptorProto, label: str) -> _Message:
    if m.enum_type or m.extension or m.extension_range:
        raise RuntimeProtoError(f"{m.name}: nested enums/extensions unsupported")
    maps = {}
    for nested in m.nested_type:
        if not nested.options.map_entry:
            raise RuntimeProtoError(f"{m.name}.{nested.name}: nested messages unsupported")
        k, v = sorted(nested.field, key=lambda x: x.number)
        maps[f"{m.name}.{nested.name}"] = f"map<{_field_type(k)}, {_field_type(v)}>"
    out = _Message(m.name)
    for fd in m.field:
        if fd.HasField("oneof_index") and not fd.proto3_optional:
            raise RuntimeProtoError(f"{m.name}.{fd.name}: oneofs unsupported")
        nested_name = _type_name(fd.type_name) if fd.type_name else ""
        if nested_name in maps:
            ftype, flabel = maps[nested_name], ""
        else:
            ftype = _field_type(fd)
            flabel = ("repeated " if fd.label == _FDP.LABEL_REPEATED
                      else "optional " if fd.proto3_optional else "")
        json_name = fd.json_name if fd.json_name != _default_json_name(fd.name) else ""
        out.fields[fd.number] = _Field(fd.number, fd.name, ftype, flabel, json_name, [label])
    return out


def _field_type(fd: descriptor_pb2.FieldDescriptorProto) -> str:
    if fd.type in _SCALARS:
        return _SCALARS[fd.type]
    if fd.type == _FDP.TYPE_MESSAGE:
        return _type_name(fd.type_name)
    raise RuntimeProtoError(f"unsupported field type {fd.type} ({fd.name})")


def _read_version(files: dict[str, descriptor_pb2.FileDescriptorProto], label: str,
                  ) -> tuple[dict[str, tuple[str, str]], dict[str, _Message]]:
    """The RPCs (name -> (input, output)) and the messages they need, of one wheel."""
    messages = {m.name: m for f in files.values() if f.package == SOURCE_PACKAGE
                for m in f.message_type}
    services = [s for f in files.values() if f.package == SOURCE_PACKAGE
                for s in f.service if s.name == SERVICE]
    if len(services) != 1:
        raise RuntimeProtoError(f"{label}: expected one {SERVICE} service")
    methods = {m.name: m for m in services[0].method}
    missing = [r for r in RPCS if r not in methods]
    if missing:
        raise RuntimeProtoError(f"{label}: {SERVICE} lacks {missing}")
    rpcs: dict[str, tuple[str, str]] = {}
    needed: list[str] = []
    for name in RPCS:
        m = methods[name]
        if m.client_streaming or m.server_streaming:
            raise RuntimeProtoError(f"{label}: {name} streams")
        rpcs[name] = (_type_name(m.input_type), _type_name(m.output_type))
        needed += [t for t in rpcs[name] if t not in _WKT_FILES]
    read: dict[str, _Message] = {}
    while needed:
        name = needed.pop(0)
        if name in read:
            continue
        if name not in messages:
            raise RuntimeProtoError(f"{label}: no message {name}")
        read[name] = _read_message(messages[name], label)
        needed += [t for f in read[name].fields.values() for t in _references(f.type)]
    return rpcs, read


def _references(ftype: str) -> Iterable[str]:
    parts = ftype.removeprefix("map<").removesuffix(">").split(", ")
    return [p for p in parts if p not in _SCALARS.values() and p not in _WKT_FILES]


def build(dumps: dict[str, dict[str, descriptor_pb2.FileDescriptorProto]]) -> str:
    """The printed proto for ``dumps`` (venv -> its files, as ``dump`` returns them)."""
    (base_venv, base_label), *later = VERSIONS
    rpcs, messages = _read_version(dumps[base_venv], base_label)
    for venv, label in later:
        other_rpcs, other = _read_version(dumps[venv], label)
        if other_rpcs != rpcs:
            raise RuntimeProtoError(f"{label}: workflow RPC signatures differ from {base_label}")
        for name, om in other.items():
            um = messages.setdefault(name, _Message(name))
            for number, of in om.fields.items():
                uf = um.fields.get(number)
                if uf is None:
                    um.fields[number] = of
                elif uf.shape() != of.shape():
                    raise RuntimeProtoError(
                        f"{name}.{number}: {label} {of.shape()} differs from {uf.shape()}")
                else:
                    uf.versions.append(label)
    return _render(rpcs, messages)


_HEADER = (
    "GENERATED by scripts/gen_protos.py (scripts/dapr_runtime_proto.py) from the",
    "FileDescriptorProtos embedded in the dapr wheels "
    + " and ".join(label for _, label in VERSIONS) + ".",
    "Do not edit by hand: run `make proto`.",
    "",
    "The workflow part of Dapr's runtime API, dapr.proto.runtime.v1.Dapr: its fourteen",
    "*WorkflowAlpha1/*WorkflowBeta1 RPCs and the messages they use, with Dapr's names,",
    "numbers and JSON names. A comment marks a field that not every wheel has. The proto",
    "package only keeps these apart from Dapr's own in-process; on the wire the service is",
    "/dapr.proto.runtime.v1.Dapr/<Method> (wfsidecar/server/dapr_runtime_service.py).",
)


def _render(rpcs: dict[str, tuple[str, str]], messages: dict[str, _Message]) -> str:
    all_versions = [label for _, label in VERSIONS]
    used = sorted({_WKT_FILES[f.type] for m in messages.values() for f in m.fields.values()
                   if f.type in _WKT_FILES}
                  | {_WKT_FILES[t] for sig in rpcs.values() for t in sig if t in _WKT_FILES})
    lines = [f"// {h}" if h else "//" for h in _HEADER]
    lines += ["", 'syntax = "proto3";', "", f"package {PACKAGE};", ""]
    lines += [f'import "{u}";' for u in used] + [""]
    for msg in messages.values():
        lines.append(f"message {msg.name} {{")
        for number in sorted(msg.fields):
            f = msg.fields[number]
            opts = f' [json_name = "{f.json_name}"]' if f.json_name else ""
            line = f"  {f.label}{f.type} {f.name} = {number}{opts};"
            if f.versions != all_versions:
                line += "  // only " + ", ".join(f.versions)
            lines.append(line)
        lines += ["}", ""]
    lines.append(f"service {SERVICE} {{")
    lines += [f"  rpc {name}({inp}) returns ({out});" for name, (inp, out) in rpcs.items()]
    lines.append("}")
    return "\n".join(lines) + "\n"
