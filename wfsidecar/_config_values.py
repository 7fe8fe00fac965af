"""Value types of the configuration: durations, sizes and the markers that select them.

Kept apart from the loader so the schema module (``_config_sections.py``) can name the
markers in its ``Annotated`` hints without importing the loading machinery's internals.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class Range:
    """Inclusive bounds for a numeric field (``None`` = unbounded on that side)."""

    min: int | None = None
    max: int | None = None


@dataclass(frozen=True, slots=True)
class _Marker:
    name: str


DURATION = _Marker("duration")
"""``Annotated[float, DURATION]``: positive seconds, written as ``250ms``, ``1h30m`` or ``30``."""
SIZE = _Marker("size")
"""``Annotated[int, SIZE]``: positive bytes, written as ``512KiB``, ``4MiB`` or ``1024``."""
SECRET = _Marker("secret")
"""Masked as ``***`` by ``Config.to_dict(mask_secrets=True)`` and never echoed in errors."""

# Units in Go's time.ParseDuration spelling, which is what Dapr users already write.
_DURATION_UNITS = {"h": 3600.0, "m": 60.0, "s": 1.0, "ms": 0.001}
_DURATION_PART = re.compile(r"(\d+(?:\.\d+)?)(ms|h|m|s)")
_SIZE = re.compile(r"(\d+)\s*(B|KiB|MiB|GiB|KB|MB|GB)?")
_SIZE_UNITS = {
    None: 1,
    "B": 1,
    "KiB": 1 << 10,
    "MiB": 1 << 20,
    "GiB": 1 << 30,
    "KB": 10**3,
    "MB": 10**6,
    "GB": 10**9,
}


def parse_duration(text: str) -> float:
    """Parse ``250ms``, ``30s``, ``5m``, ``1h``, ``1h30m`` or a plain number into seconds.

    Raises:
        ValueError: ``text`` is not a duration. Sign and range are the caller's business.
    """
    text = text.strip()
    try:
        return float(text)
    except ValueError:
        pass
    pos = 0
    total = 0.0
    for match in _DURATION_PART.finditer(text):
        if match.start() != pos:
            break
        total += float(match.group(1)) * _DURATION_UNITS[match.group(2)]
        pos = match.end()
    if pos == 0 or pos != len(text):
        raise ValueError(f"not a duration: {text!r}")
    return total


def format_duration(seconds: float) -> str | float:
    """Render seconds the way a person would write them (``300.0`` → ``"5m"``).

    Values that are not a whole number of milliseconds stay a plain float so that
    ``parse_duration(format_duration(x)) == x`` holds for every value.
    """
    if not math.isfinite(seconds) or seconds <= 0:
        return seconds
    millis = round(seconds * 1000)
    if not math.isclose(millis / 1000, seconds, rel_tol=0, abs_tol=1e-9):
        return seconds
    parts = []
    for unit, scale in (("h", 3_600_000), ("m", 60_000), ("s", 1000), ("ms", 1)):
        count, millis = divmod(millis, scale)
        if count:
            parts.append(f"{count}{unit}")
    return "".join(parts)


def parse_size(text: str) -> int:
    """Parse ``4MiB``, ``512KiB``, ``64KB`` or a plain integer into bytes.

    Raises:
        ValueError: ``text`` is not a size.
    """
    match = _SIZE.fullmatch(text.strip())
    if match is None:
        raise ValueError(f"not a size: {text!r}")
    return int(match.group(1)) * _SIZE_UNITS[match.group(2)]
