"""What each configuration field accepts, read from its type hint, and value checking.

``schema(cls)`` turns a section dataclass into ``{field: Leaf | section class}`` once
(``typing.get_type_hints``), so adding a field to a section in ``_config_sections.py``
needs no loader code.
Supported hints: ``bool``, ``int``, ``float``, ``str``, ``Literal[...]`` choices,
``X | None``, nested dataclasses, and ``Annotated`` with ``Range``/``DURATION``/``SIZE``/
``SECRET`` from ``_config_values``.
"""

from __future__ import annotations

import dataclasses
import functools
import math
import types
from collections.abc import Mapping
from typing import (
    TYPE_CHECKING,
    Annotated,
    Any,
    Literal,
    Union,
    get_args,
    get_origin,
    get_type_hints,
)

from wfsidecar._config_values import DURATION, SECRET, SIZE, Range, parse_duration, parse_size

if TYPE_CHECKING:
    from _typeshed import DataclassInstance


@dataclasses.dataclass(frozen=True, slots=True)
class Leaf:
    """What one scalar field accepts, distilled from its type hint."""

    kind: type  # bool, int, float, str, or tuple (a list of strings)
    optional: bool = False
    choices: tuple[str, ...] = ()
    range: Range | None = None
    duration: bool = False
    size: bool = False
    secret: bool = False

    def expected(self) -> str:
        if self.choices:
            text = "one of " + ", ".join(self.choices)
        elif self.duration:
            text = "a positive duration such as 250ms, 30s, 5m, 1h30m or a number of seconds"
        elif self.size:
            text = "a positive size such as 512KiB, 4MiB or a number of bytes"
        elif self.kind is bool:
            text = "a boolean (true/false, or 1/0 in the environment)"
        elif self.kind is str:
            text = "a non-empty string"
        elif self.kind is tuple:
            text = "a list of strings (comma-separated in the environment)"
        else:
            text = "an integer" if self.kind is int else "a number"
            low, high = (self.range.min, self.range.max) if self.range else (None, None)
            if low is not None and high is not None:
                text += f" from {low} to {high}"
            elif low is not None:
                text += f" >= {low}"
            elif high is not None:
                text += f" <= {high}"
        return text + (" or null" if self.optional else "")


Schema = dict[str, "Leaf | type[DataclassInstance]"]


@functools.cache
def schema(cls: type[DataclassInstance]) -> Schema:
    """Map each field of a section dataclass to its ``Leaf`` or nested section class."""
    hints = get_type_hints(cls, include_extras=True)
    return {f.name: _describe(hints[f.name]) for f in dataclasses.fields(cls)}


def _describe(hint: Any) -> Leaf | type[DataclassInstance]:
    meta: tuple[object, ...] = ()
    if get_origin(hint) is Annotated:
        hint, *extra = get_args(hint)
        meta = tuple(extra)
    optional = False
    if get_origin(hint) in (Union, types.UnionType):
        args = [a for a in get_args(hint) if a is not type(None)]
        optional = len(args) < len(get_args(hint))
        if len(args) != 1:
            raise TypeError(f"unsupported config type {hint!r}")
        hint = args[0]
    if isinstance(hint, type) and dataclasses.is_dataclass(hint):
        return hint
    if get_origin(hint) is tuple and get_args(hint) == (str, Ellipsis):
        return Leaf(kind=tuple, optional=optional)
    choices: tuple[str, ...] = ()
    if get_origin(hint) is Literal:
        choices, hint = get_args(hint), str
    if hint not in (bool, int, float, str):
        raise TypeError(f"unsupported config type {hint!r}")
    ranges = [m for m in meta if isinstance(m, Range)]
    return Leaf(
        kind=hint,
        optional=optional,
        choices=choices,
        range=ranges[0] if ranges else None,
        duration=DURATION in meta,
        size=SIZE in meta,
        secret=SECRET in meta,
    )


def describe_value(value: object) -> str:
    """Name a parsed value the way YAML users think of it: ``string '80'``, ``a list``."""
    if value is None:
        return "null"
    kind = {bool: "boolean", int: "integer", float: "number", str: "string"}.get(type(value))
    if kind is not None:
        return f"{kind} {value!r}"
    if isinstance(value, Mapping):
        return "a mapping"
    return "a list" if isinstance(value, list) else f"a {type(value).__name__}"


def _found(leaf: Leaf, value: object, *, text: bool) -> str:
    if leaf.secret:
        return "a value that is not shown because the field is secret"
    return repr(value) if text else describe_value(value)


def coerce(leaf: Leaf, value: object, *, text: bool) -> object:
    """Validate one value for ``leaf``; ``text=True`` parses an environment string.

    Raises:
        ValueError: with "expected ..., found ..." wording; the caller adds path and source.
    """
    result = _convert(leaf, value, text=text)
    if result is _INVALID:
        raise ValueError(f"expected {leaf.expected()}, found {_found(leaf, value, text=text)}")
    return result


_INVALID = object()


def _convert(leaf: Leaf, value: object, *, text: bool) -> object:
    if leaf.kind is tuple:
        return _string_list(value, text=text)
    # An empty value means "unset" for optional fields: that is how an environment
    # variable says null, and DAPR_API_TOKEN="" means "no token" in Dapr too.
    if value is None or value == "":
        return None if leaf.optional else _INVALID
    if leaf.choices:
        if not isinstance(value, str):
            return _INVALID
        folded = {c.casefold(): c for c in leaf.choices}
        return folded.get(value.strip().casefold(), _INVALID)
    if leaf.duration or leaf.size:
        return _quantity(leaf, value)
    if leaf.kind is str:
        return value if isinstance(value, str) else _INVALID
    if text and isinstance(value, str):
        return _parse_text(leaf, value)
    if isinstance(value, bool) or leaf.kind is bool:
        # bool is an int in Python, but `port: true` is a mistake, not port 1.
        return value if leaf.kind is bool and isinstance(value, bool) else _INVALID
    if leaf.kind is int and isinstance(value, int):
        return _in_range(leaf, value)
    if leaf.kind is float and isinstance(value, int | float) and math.isfinite(value):
        return _in_range(leaf, float(value))
    return _INVALID


def _string_list(value: object, *, text: bool) -> object:
    if value is None:
        return ()
    if text and isinstance(value, str):
        return tuple(part.strip() for part in value.split(",") if part.strip())
    if isinstance(value, list | tuple) and all(isinstance(v, str) for v in value):
        return tuple(value)
    return _INVALID


def _parse_text(leaf: Leaf, value: str) -> object:
    raw = value.strip().lower()
    if leaf.kind is bool:
        return {"true": True, "1": True, "false": False, "0": False}.get(raw, _INVALID)
    try:
        number: int | float = int(raw, 10) if leaf.kind is int else float(raw)
    except ValueError:
        return _INVALID
    return _in_range(leaf, number) if math.isfinite(number) else _INVALID


def _in_range(leaf: Leaf, value: int | float) -> object:
    low, high = (leaf.range.min, leaf.range.max) if leaf.range else (None, None)
    if (low is not None and value < low) or (high is not None and value > high):
        return _INVALID
    return value


def _quantity(leaf: Leaf, value: object) -> object:
    if isinstance(value, bool):
        return _INVALID
    number: float
    if isinstance(value, str):
        try:
            number = parse_duration(value) if leaf.duration else parse_size(value)
        except ValueError:
            return _INVALID
    elif isinstance(value, int | float):
        number = value
    else:
        return _INVALID
    if not math.isfinite(number) or number <= 0:
        return _INVALID
    if leaf.size:
        return int(number) if number == int(number) else _INVALID
    return float(number)
