"""The strict loader behind ``wfsidecar.config.load``: file, environment and overrides.

Every layer is validated on its own into a flat ``{dotted.path: value}`` dict, so a bad
value is reported against the layer that holds it even when a higher layer would have
replaced it. Unknown keys are refused, never ignored (hypercorn ignores them; style.md
§3.9 and §3.17).
"""

from __future__ import annotations

import difflib
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

import yaml

from wfsidecar._config_fields import Leaf, Schema, coerce, describe_value, schema
from wfsidecar._config_values import format_duration
from wfsidecar.errors import ConfigError

if TYPE_CHECKING:
    from _typeshed import DataclassInstance

_D = TypeVar("_D", bound="DataclassInstance")


def read_yaml(path: Path) -> Mapping[str, object]:
    """Read a YAML config file; an empty file is an empty mapping.

    Raises:
        ConfigError: unreadable file, YAML syntax error, duplicate key, or a top level that
            is not a mapping. ``path`` of the error is the file name.
    """
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        reason = exc.strerror if isinstance(exc, OSError) and exc.strerror else str(exc)
        raise ConfigError(str(path), f"cannot read config file: {reason}") from exc
    try:
        data = yaml.load(text, Loader=_StrictLoader)  # noqa: S506 - a SafeLoader subclass
    except yaml.YAMLError as exc:
        detail = " ".join(str(exc).split())
        raise ConfigError(str(path), f"invalid YAML: {detail}") from exc
    if data is None:
        return {}
    if not isinstance(data, Mapping):
        found = describe_value(data)
        raise ConfigError(str(path), f"expected a mapping of sections, found {found}")
    return data


class _StrictLoader(yaml.SafeLoader):
    """SafeLoader that rejects duplicate keys, which PyYAML silently lets the last one win."""

    def construct_mapping(self, node: yaml.MappingNode, deep: bool = False) -> dict[Any, Any]:
        seen: set[object] = set()
        for key_node, _ in node.value:
            key = self.construct_object(key_node, deep=True)
            if key in seen:
                raise yaml.constructor.ConstructorError(
                    None, None, f"duplicate key {key!r}", key_node.start_mark
                )
            seen.add(key)
        return super().construct_mapping(node, deep=deep)


def flatten(
    cls: type[DataclassInstance], data: object, *, source: str, prefix: str = ""
) -> dict[str, object]:
    """Validate a nested mapping (a parsed file) against ``cls``; return its leaves."""
    out: dict[str, object] = {}
    if data is None:  # a section whose keys are all commented out
        return out
    if not isinstance(data, Mapping):
        raise ConfigError(prefix, f"expected a mapping, found {describe_value(data)} ({source})")
    fields = schema(cls)
    for key, value in data.items():
        path = f"{prefix}.{key}" if prefix else str(key)
        if not isinstance(key, str) or key not in fields:
            raise ConfigError(path, _unknown(key, fields) + f" ({source})")
        spec = fields[key]
        if isinstance(spec, Leaf):
            out[path] = _checked(spec, value, path, source, text=False)
        else:
            out.update(flatten(spec, value, source=source, prefix=path))
    return out


def _checked(leaf: Leaf, value: object, path: str, source: str, *, text: bool) -> object:
    try:
        return coerce(leaf, value, text=text)
    except ValueError as exc:
        raise ConfigError(path, f"{exc} ({source})") from None


def _unknown(key: object, fields: Schema) -> str:
    message = f"unknown key {key!r}"
    close = difflib.get_close_matches(str(key), list(fields), n=1)
    if close:
        message += f" (did you mean {close[0]!r}?)"
    return message + "; expected one of " + ", ".join(fields)


def resolve(cls: type[DataclassInstance], path: str, *, source: str) -> Leaf:
    """Find the leaf a dotted path names.

    Raises:
        ConfigError: the path is unknown or names a whole section rather than a key.
    """
    spec: Leaf | type[DataclassInstance] = cls
    walked: list[str] = []
    for part in path.split("."):
        walked.append(part)
        if isinstance(spec, Leaf):
            parent = ".".join(walked[:-1])
            raise ConfigError(".".join(walked), f"unknown key: {parent} is a value ({source})")
        fields = schema(spec)
        if part not in fields:
            raise ConfigError(".".join(walked), _unknown(part, fields) + f" ({source})")
        spec = fields[part]
    if not isinstance(spec, Leaf):
        raise ConfigError(path, f"names a section, not a key; set its keys instead ({source})")
    return spec


def flat_layer(
    cls: type[DataclassInstance],
    values: Mapping[str, object],
    *,
    text: bool,
    sources: Callable[[str], str],
) -> dict[str, object]:
    """Validate ``{dotted.path: value}``; ``sources(path)`` says where each value came from."""
    out: dict[str, object] = {}
    for path, value in values.items():
        source = sources(path)
        out[path] = _checked(resolve(cls, path, source=source), value, path, source, text=text)
    return out


def build(default: _D, values: Mapping[str, object], prefix: str = "") -> _D:
    """Rebuild ``default`` with ``values`` (flat, validated) replacing its leaves."""
    kwargs: dict[str, object] = {}
    for name, spec in schema(type(default)).items():
        path = prefix + name
        current = getattr(default, name)
        if isinstance(spec, Leaf):
            kwargs[name] = values.get(path, current)
        else:
            kwargs[name] = build(current, values, path + ".")
    return type(default)(**kwargs)


def dump(obj: DataclassInstance, *, mask_secrets: bool) -> dict[str, Any]:
    """Plain nested dict of ``obj`` that loads back to an equal object (durations as text)."""
    out: dict[str, Any] = {}
    for name, spec in schema(type(obj)).items():
        value = getattr(obj, name)
        if not isinstance(spec, Leaf):
            out[name] = dump(value, mask_secrets=mask_secrets)
        elif spec.secret and mask_secrets and value is not None:
            out[name] = "***"
        elif spec.duration and value is not None:
            out[name] = format_duration(value)
        elif spec.kind is tuple:
            out[name] = list(value)  # YAML has lists, not tuples
        else:
            out[name] = value
    return out


def _env_path(cls: type[DataclassInstance], parts: list[str]) -> str:
    """The dotted path an environment variable's parts name: each part matched to a field
    whatever its case (``ANYTERMINAL`` is ``retention.anyTerminal``), else lower-cased."""
    spec: Leaf | type[DataclassInstance] = cls
    out: list[str] = []
    for part in parts:
        name = part.lower()
        if not isinstance(spec, Leaf):
            fields = schema(spec)
            name = next((f for f in fields if f.lower() == name), name)
            spec = fields.get(name, Leaf(kind=str))
        out.append(name)
    return ".".join(out)


def env_layer(
    cls: type[DataclassInstance],
    env: Mapping[str, str],
    *,
    prefix: str,
    aliases: Mapping[str, str],
) -> dict[str, object]:
    """Validate ``<prefix><SECTION>__<KEY>`` variables (``__`` = one nesting level).

    ``aliases`` maps compatibility variable names to dotted paths; they rank below the
    prefixed spelling of the same key. Names with the prefix but no ``__`` are not settings
    (``WFSIDECAR_CONFIG`` names the file) and are left alone.
    """
    raw: dict[str, object] = {}
    names: dict[str, str] = {}
    for name, path in aliases.items():
        if name in env:
            raw[path], names[path] = env[name], name
    for name in sorted(env):
        rest = name[len(prefix) :]
        if name.startswith(prefix) and "__" in rest:
            path = _env_path(cls, rest.split("__"))
            raw[path], names[path] = env[name], name
    return flat_layer(
        cls, raw, text=True, sources=lambda path: f"from environment variable {names[path]}"
    )
