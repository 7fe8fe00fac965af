"""Transcode TaskHubSidecarService messages between a wire dialect and the internal model.

Pure (no I/O, no state beyond caches of descriptor walks). The three generated protos are
``wfsidecar._proto.dapr`` and ``wfsidecar._proto.ms`` (the two wire dialects, protocol.md
§2) and ``wfsidecar._proto.internal``, the superset the store and engine use::

    to_internal(dapr_or_ms_message[, internal_pb.X]) -> internal message of the same name
    to_dialect(internal_message, dapr_pb.X or ms_pb.X) -> that dialect's message

Both walk the descriptors and match fields **by name**, recursively (sub-messages,
repeated fields, maps, oneofs). Well-known types (``StringValue``, ``Timestamp``,
``Value`` ...) are the same message in every package and are copied as they are. The
internal proto keeps every Dapr name and number, so Dapr <-> internal is the identity on
everything both know. Microsoft fields whose internal name differs (``ms_healthPing``,
``ms_capabilities``) come from ``wfsidecar._proto.internal.ms_fields``, as do Microsoft
enum values that sit at another number internally (matched by name all the same).

What the target has no field for is dropped: Dapr's ``router`` or ``taskExecutionId``
never reach a Microsoft message, Microsoft ``tags`` or ``rewindOrchestration`` never a
Dapr one. Unknown fields are dropped too. Enum values map by name. A value the target enum
does not have is dropped from a repeated field; in a singular field it raises
:class:`TranscodeError` (e.g. ``ORCHESTRATION_STATUS_STALLED`` to a Microsoft client: the
caller must choose what to report instead). A number the source enum does not define
either is kept as that number when the target does not define it either.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, TypeVar, cast, overload

from google.protobuf import message_factory
from google.protobuf.descriptor import Descriptor, EnumDescriptor, FieldDescriptor
from google.protobuf.message import Message

from wfsidecar._proto.dapr import orchestrator_service_pb2 as dapr_pb
from wfsidecar._proto.internal import ms_fields
from wfsidecar._proto.internal import orchestrator_service_pb2 as internal_pb
from wfsidecar._proto.ms import orchestrator_service_pb2 as ms_pb

__all__ = ["DAPR", "INTERNAL", "MS", "TranscodeError", "enum_table", "field_pairs", "to_dialect",
           "to_internal"]

M = TypeVar("M", bound=Message)
D = TypeVar("D", Descriptor, EnumDescriptor)

DAPR: str = dapr_pb.DESCRIPTOR.package
MS: str = ms_pb.DESCRIPTOR.package
INTERNAL: str = internal_pb.DESCRIPTOR.package
_DIALECTS = frozenset({DAPR, MS})


class TranscodeError(ValueError):
    """A message cannot be expressed in the target dialect (or the types do not line up)."""


@overload
def to_internal(msg: Message) -> Message: ...
@overload
def to_internal(msg: Message, internal_cls: type[M]) -> M: ...


def to_internal(msg: Message, internal_cls: type[Message] | None = None) -> Message:
    """The internal message with the same name as the Dapr or Microsoft ``msg``.

    Pass ``internal_cls`` (``internal_pb.X``) for a typed result; it must be that message.
    """
    desc = msg.DESCRIPTOR
    if desc.file.package not in _DIALECTS:
        raise TypeError(f"to_internal needs a Dapr or Microsoft message, got {desc.full_name}")
    target = internal_pb.DESCRIPTOR.message_types_by_name.get(desc.name)
    if target is None:
        raise TranscodeError(f"no internal message for {desc.full_name}")
    if internal_cls is not None and internal_cls.DESCRIPTOR is not target:
        raise TranscodeError(f"{desc.full_name} is not a {internal_cls.DESCRIPTOR.full_name}")
    out: Message = (internal_cls or message_factory.GetMessageClass(target))()
    _copy(msg, out)
    return out


def to_dialect(msg: Message, target_cls: type[M]) -> M:
    """``msg`` (internal) as ``target_cls``, a Dapr or Microsoft message of the same name."""
    src, dst = msg.DESCRIPTOR, target_cls.DESCRIPTOR
    if src.file.package != INTERNAL:
        raise TypeError(f"to_dialect needs an internal message, got {src.full_name}")
    if dst.file.package not in _DIALECTS:
        raise TypeError(f"to_dialect targets a Dapr or Microsoft message, got {dst.full_name}")
    if src.name != dst.name:
        raise TranscodeError(f"{src.full_name} is not a {dst.full_name}")
    out = target_cls()
    _copy(msg, out)
    return out


# --------------------------------------------------------------------------- copying


def _copy(src: Message, dst: Message) -> None:
    plan = _plan(cast(Descriptor, src.DESCRIPTOR), cast(Descriptor, dst.DESCRIPTOR))
    for f, value in src.ListFields():
        g = plan.get(f.name)
        if g is None:
            continue  # the target dialect has no such field
        target: Any = getattr(dst, g.name)
        if _is_map(f):
            _copy_map(f, g, value, target)
        elif f.is_repeated:
            if f.message_type is not None:
                for item in value:
                    _copy_message(item, target.add())
            elif f.enum_type is not None:
                assert g.enum_type is not None
                for number in value:
                    mapped = _enum_value(f.enum_type, g.enum_type, number)
                    if mapped is not None:
                        target.append(mapped)
            else:
                target.extend(value)
        elif f.message_type is not None:
            target.SetInParent()  # presence, even for an empty sub-message
            _copy_message(value, target)
        elif f.enum_type is not None:
            assert g.enum_type is not None
            setattr(dst, g.name, _singular_enum(f, g.enum_type, value))
        else:
            setattr(dst, g.name, value)


def _copy_message(src: Message, dst: Message) -> None:
    if src.DESCRIPTOR is dst.DESCRIPTOR:  # a well-known type: one message everywhere
        dst.CopyFrom(src)
    else:
        _copy(src, dst)


def _copy_map(f: FieldDescriptor, g: FieldDescriptor, src: Mapping[Any, Any],
              dst: Any) -> None:
    assert f.message_type is not None and g.message_type is not None
    fv = f.message_type.fields_by_name["value"]
    gv = g.message_type.fields_by_name["value"]
    for key, value in src.items():
        if fv.message_type is not None:
            _copy_message(value, dst[key])  # indexing creates the entry
        elif fv.enum_type is not None:
            assert gv.enum_type is not None
            mapped = _enum_value(fv.enum_type, gv.enum_type, value)
            if mapped is not None:
                dst[key] = mapped
        else:
            dst[key] = value


def _singular_enum(f: FieldDescriptor, dst: EnumDescriptor, number: int) -> int:
    assert f.enum_type is not None
    mapped = _enum_value(f.enum_type, dst, number)
    if mapped is None:
        v = f.enum_type.values_by_number.get(number)
        shown = v.name if v is not None else str(number)
        raise TranscodeError(
            f"{f.full_name} = {shown}: {dst.full_name} has no such value"
        )
    return mapped


def _enum_value(src: EnumDescriptor, dst: EnumDescriptor, number: int) -> int | None:
    """``number`` of ``src`` as a ``dst`` number, matched by value name; None if none."""
    table = _enum_table(src, dst)
    if number in table:
        return table[number]
    if number in src.values_by_number or number in dst.values_by_number:
        return None
    return number  # unknown on both sides: stays the same unknown number


# --------------------------------------------------------------------------- plans

# (source full name, target full name) -> source field name -> target field
_PLANS: dict[tuple[str, str], dict[str, FieldDescriptor]] = {}
_ENUMS: dict[tuple[str, str], dict[int, int]] = {}


def _ms_renames(table: Mapping[str, tuple[tuple[str, str], ...]], internal: str,
                ms_to_internal: bool) -> dict[str, str]:
    """Source name -> target name for the pairs listed under ``internal``."""
    pairs = table.get(f"{INTERNAL}.{internal}", ())
    return {m: i for i, m in pairs} if ms_to_internal else {i: m for i, m in pairs}


def _renames(src: str, dst: str, name: str,
             table: Mapping[str, tuple[tuple[str, str], ...]]) -> dict[str, str]:
    """Explicit source name -> target name for one message or enum ``name``."""
    if (src, dst) == (MS, INTERNAL):
        return _ms_renames(table, name, ms_to_internal=True)
    if (src, dst) == (INTERNAL, MS):
        return _ms_renames(table, name, ms_to_internal=False)
    if {src, dst} == {DAPR, INTERNAL}:
        return {}
    raise TypeError(f"cannot transcode {src} -> {dst}; go through {INTERNAL}")


def _match(src_names: list[str], dst_names: set[str], renames: dict[str, str]) -> dict[str, str]:
    """Source name -> target name: the explicit renames, then equal names.

    A target name that an explicit pair claims is not also matched by equal name (internal
    ``capabilities`` is Dapr's field 4, not Microsoft's ``capabilities``, which is
    internal ``ms_capabilities``).
    """
    claimed = set(renames.values())
    out = {}
    for name in src_names:
        if name in renames:
            target = renames[name]
        elif name in claimed:
            continue
        else:
            target = name
        if target in dst_names:
            out[name] = target
    return out


def _plan(src: Descriptor, dst: Descriptor) -> dict[str, FieldDescriptor]:
    key = (src.full_name, dst.full_name)
    plan = _PLANS.get(key)
    if plan is None:
        renames = _renames(src.file.package, dst.file.package, _internal_side(src, dst).name,
                           ms_fields.MS_FIELDS)
        names = _match([f.name for f in src.fields], set(dst.fields_by_name), renames)
        plan = {}
        for s, d in names.items():
            f, g = src.fields_by_name[s], dst.fields_by_name[d]
            _check_compatible(f, g)
            plan[s] = g
        _PLANS[key] = plan
    return plan


def field_pairs(src: Descriptor, dst: Descriptor) -> dict[str, FieldDescriptor]:
    """Source field name -> the target field it is copied to (what has none is dropped)."""
    return _plan(src, dst)


def enum_table(src: EnumDescriptor, dst: EnumDescriptor) -> dict[int, int]:
    """Source enum number -> target number, for the values both define (by name)."""
    return _enum_table(src, dst)


def _enum_table(src: EnumDescriptor, dst: EnumDescriptor) -> dict[int, int]:
    key = (src.full_name, dst.full_name)
    table = _ENUMS.get(key)
    if table is None:
        renames = _renames(src.file.package, dst.file.package, _internal_side(src, dst).name,
                           ms_fields.MS_ENUM_VALUES)
        names = _match([v.name for v in src.values], set(dst.values_by_name), renames)
        table = {src.values_by_name[s].number: dst.values_by_name[d].number
                 for s, d in names.items()}
        _ENUMS[key] = table
    return table


def _internal_side(src: D, dst: D) -> D:
    return src if src.file.package == INTERNAL else dst


def _is_map(f: FieldDescriptor) -> bool:
    return f.message_type is not None and f.message_type.GetOptions().map_entry


def _check_compatible(f: FieldDescriptor, g: FieldDescriptor) -> None:
    """Fields paired by name must have the same shape; a mismatch is a generator bug."""
    problem = ""
    if f.type != g.type or f.is_repeated != g.is_repeated or _is_map(f) != _is_map(g):
        problem = "type or cardinality differs"
    elif f.message_type is not None and g.message_type is not None:
        if _is_map(f):
            for part in ("key", "value"):
                _check_compatible(f.message_type.fields_by_name[part],
                                  g.message_type.fields_by_name[part])
        elif _well_known(f.message_type) or _well_known(g.message_type):
            if f.message_type is not g.message_type:
                problem = f"{f.message_type.full_name} vs {g.message_type.full_name}"
        elif f.message_type.name != g.message_type.name:
            problem = f"{f.message_type.name} vs {g.message_type.name}"
    elif f.enum_type is not None and g.enum_type is not None:
        if f.enum_type.name != g.enum_type.name:
            problem = f"{f.enum_type.name} vs {g.enum_type.name}"
    if problem:
        raise TranscodeError(f"{f.full_name} -> {g.full_name}: {problem}")


def _well_known(d: Descriptor) -> bool:
    return d.file.package not in (DAPR, MS, INTERNAL)
