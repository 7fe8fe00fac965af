"""Transcoding at the wire level: Microsoft <-> internal without building messages.

``transcode.py`` defines the mapping (fields and enum values paired by name, with the
Microsoft renames); this module applies the same mapping to serialized bytes. A message is
a sequence of (number, wire type, value) fields, so a Microsoft message becomes its
internal twin by renumbering, dropping what the target has no field for, and remapping enum
values — no parse, no reflection, and no copy at all below a field whose whole subtree maps
onto itself (most of a history event). The reflective copy cost ~1.3 ms of the daemon's
~10 ms of CPU per seq3 workflow behind a Microsoft worker and grew with the history; this
one costs a few field-header reads per event (issue #14).

Results match ``transcode.to_internal``/``to_dialect`` after parsing (a differential test
holds the two together), including :class:`TranscodeError` for a singular enum value the
target cannot express.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TypeVar, cast

from google.protobuf.descriptor import Descriptor, FieldDescriptor
from google.protobuf.message import DecodeError, Message

from wfsidecar.server import transcode
from wfsidecar.server.transcode import TranscodeError
from wfsidecar.workflow.request_wire import varint

__all__ = ["to_dialect", "to_internal", "transcode_bytes"]

M = TypeVar("M", bound=Message)

_LEN = 2  # wire type of messages, strings, bytes and packed repeated scalars
_U64 = 1 << 64


@dataclass(eq=False)
class _Rule:
    """What one source field becomes: its target number, and how its value changes."""
    key: bytes  # the target's field key for wire type ``_LEN`` or the field's own
    number: int
    sub: _Plan | None = None  # a message whose subtree is not the identity
    enum: dict[int, int] | None = None  # an enum whose values move (or may be dropped)
    enum_known: frozenset[int] = frozenset()  # numbers either enum defines
    repeated: bool = False
    name: str = ""


@dataclass(eq=False)
class _Plan:
    src: Descriptor
    rules: dict[int, _Rule] = field(default_factory=dict)
    identity: bool = False
    # History events are immutable and go out again on every later turn of their
    # workflow: their results are remembered (bounded; cleared whole when full).
    memo: dict[bytes, bytes] | None = None


_MEMO_ENTRIES = 8192


_PLANS: dict[tuple[str, str], _Plan] = {}


def to_internal(msg: Message, internal_cls: type[M]) -> M:
    """``transcode.to_internal`` for a Microsoft message, through its bytes."""
    data = msg.SerializeToString()
    return internal_cls.FromString(transcode_bytes(data, _descriptor(msg),
                                                   _descriptor(internal_cls)))


def to_dialect(msg: Message, target_cls: type[M]) -> M:
    """``transcode.to_dialect`` to a Microsoft message, through its bytes."""
    data = msg.SerializeToString()
    return target_cls.FromString(transcode_bytes(data, _descriptor(msg),
                                                 _descriptor(target_cls)))


def transcode_bytes(data: bytes, src: Descriptor, dst: Descriptor) -> bytes:
    """``data`` (a serialized ``src``) as a serialized ``dst`` of the same name."""
    plan = _plan_for(src, dst)
    return data if plan.identity else _apply(plan, data)


def _descriptor(msg: Message | type[Message]) -> Descriptor:
    return cast(Descriptor, msg.DESCRIPTOR)


# --------------------------------------------------------------------------- applying


def _varint(data: bytes, i: int) -> tuple[int, int]:
    value = shift = 0
    while True:
        try:
            b = data[i]
        except IndexError:
            raise DecodeError("truncated varint") from None
        i += 1
        value |= (b & 0x7F) << shift
        if b < 0x80:
            return value, i
        shift += 7


def _apply(plan: _Plan, data: bytes) -> bytes:
    memo = plan.memo
    if memo is not None:
        done = memo.get(data)
        if done is None:
            if len(memo) >= _MEMO_ENTRIES:
                memo.clear()
            done = memo[data] = _apply_fields(plan, data)
        return done
    return _apply_fields(plan, data)


def _apply_fields(plan: _Plan, data: bytes) -> bytes:
    out: list[bytes] = []
    i, end = 0, len(data)
    while i < end:
        start = i
        key = data[i]
        if key < 0x80:  # one-byte keys and lengths are the rule: no call for them
            i += 1
        else:
            key, i = _varint(data, i)
        wire = key & 7
        body = after_key = i
        if wire == 0:
            value, i = _varint(data, i)
        elif wire == _LEN:
            length = data[i] if i < end else 0x80
            if length < 0x80:
                body = i + 1
            else:
                length, body = _varint(data, i)
            i = body + length
            if i > end:
                raise DecodeError("truncated field")
        elif wire == 1:
            i += 8
        elif wire == 5:
            i += 4
        else:
            raise DecodeError(f"unsupported wire type {wire}")
        rule = plan.rules.get(key >> 3)
        if rule is None:
            continue  # the target has no such field
        if rule.enum is not None:
            if wire == 0:
                mapped = _enum(rule, value)
                if mapped is not None:
                    out.append(varint(rule.number << 3) + varint(mapped))
            elif wire == _LEN:  # packed repeated enum
                out.append(_packed_enum(rule, data, body, i))
            continue
        if rule.sub is not None and wire == _LEN:
            inner = _apply(rule.sub, data[body:i])
            out.append(rule.key + varint(len(inner)) + inner)
        elif rule.number == key >> 3:
            out.append(data[start:i])
        else:
            out.append(varint(rule.number << 3 | wire) + data[after_key:i])
    return b"".join(out)


def _enum(rule: _Rule, value: int) -> int | None:
    if value >= 1 << 63:
        value -= _U64
    assert rule.enum is not None
    mapped = rule.enum.get(value)
    if mapped is not None:
        return mapped
    if value not in rule.enum_known:
        return value  # unknown on both sides: stays the same unknown number
    if rule.repeated:
        return None
    raise TranscodeError(f"{rule.name} = {value}: the target enum has no such value")


def _packed_enum(rule: _Rule, data: bytes, i: int, end: int) -> bytes:
    values = []
    while i < end:
        value, i = _varint(data, i)
        mapped = _enum(rule, value)
        if mapped is not None:
            values.append(varint(mapped))
    packed = b"".join(values)
    return rule.key + varint(len(packed)) + packed


# --------------------------------------------------------------------------- planning


def _plan_for(src: Descriptor, dst: Descriptor) -> _Plan:
    plan = _PLANS.get((src.full_name, dst.full_name))
    if plan is None:
        made: dict[tuple[str, str], _Plan] = {}
        plan = _build(src, dst, made)
        _settle_identity(made)
        _PLANS.update(made)
    return plan


def _build(src: Descriptor, dst: Descriptor, made: dict[tuple[str, str], _Plan]) -> _Plan:
    key = (src.full_name, dst.full_name)
    known = _PLANS.get(key) or made.get(key)
    if known is not None:
        return known
    plan = made[key] = _Plan(src, memo={} if src.name == "HistoryEvent" else None)
    if src is dst:  # a well-known type: the same message everywhere
        plan.identity = True
        return plan
    for name, g in transcode.field_pairs(src, dst).items():
        f = src.fields_by_name[name]
        rule = _Rule(key=varint(g.number << 3 | _LEN), number=g.number,
                     repeated=f.is_repeated, name=f.full_name)
        if f.message_type is not None:
            assert g.message_type is not None
            rule.sub = _build(f.message_type, g.message_type, made)
        elif f.enum_type is not None:
            assert g.enum_type is not None
            table = transcode.enum_table(f.enum_type, g.enum_type)
            known_numbers = (set(f.enum_type.values_by_number)
                             | set(g.enum_type.values_by_number))
            if any(table.get(n) != n for n in known_numbers):
                rule.enum, rule.enum_known = table, frozenset(known_numbers)
        plan.rules[f.number] = rule
    return plan


def _settle_identity(made: dict[tuple[str, str], _Plan]) -> None:
    """Mark the plans that map every field onto itself, all the way down.

    The greatest fixed point, since message types can nest themselves (a failure's
    ``innerFailure``): every plan starts as the identity and loses it once a field moves,
    is dropped or changes its values, or refers to a plan that lost it.
    """
    for plan in made.values():
        plan.identity = plan.identity or _locally_identical(plan)
    changed = True
    while changed:
        changed = False
        for plan in made.values():
            if plan.identity and any(r.sub is not None and not r.sub.identity
                                     for r in plan.rules.values()):
                plan.identity = False
                changed = True
    for plan in made.values():
        for rule in plan.rules.values():
            if rule.sub is not None and rule.sub.identity:
                rule.sub = None  # copied as it is


def _locally_identical(plan: _Plan) -> bool:
    fields: list[FieldDescriptor] = list(plan.src.fields)
    return all((r := plan.rules.get(f.number)) is not None and r.number == f.number
               and r.enum is None for f in fields)
