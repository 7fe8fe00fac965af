"""The instance filters of ``list``, ``count`` and bulk ``purge``/``terminate``, as flags.

``dapr workflow``'s own (``-w/--filter-name``, ``-s/--filter-status``,
``-m/--filter-max-age``) plus every filter the HTTP API has (id prefix, parent, stalled,
created/updated/completed ranges). A time is an RFC 3339 timestamp, a date, or a
duration that means "that long ago" (``90s``, ``1h30m``, ``7d``), as in dapr's CLI.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import click

from wfsidecar.client import STATUSES, ListFilter

# Go's time.ParseDuration units (what dapr's flags take) plus days and weeks, which a
# retention cut-off is usually written in.
_UNITS = {"ms": 0.001, "s": 1.0, "m": 60.0, "h": 3600.0, "d": 86400.0, "w": 604800.0}
_PART = re.compile(r"(\d+(?:\.\d+)?)(ms|s|m|h|d|w)")

_RANGES = ("created", "updated", "completed")


def parse_when(text: str, now: datetime | None = None) -> datetime:
    """``text`` as a moment: a duration counts back from ``now``; a time without a zone
    is UTC.

    Raises:
        ValueError: neither a duration nor a timestamp.
    """
    seconds = _duration(text.strip())
    if seconds is not None:
        return (now or datetime.now(UTC)) - timedelta(seconds=seconds)
    try:
        moment = datetime.fromisoformat(text.strip().replace("Z", "+00:00"))
    except ValueError:
        raise ValueError(f"{text!r} is neither a duration (90s, 1h30m, 7d) nor an RFC 3339 "
                         f"time (2025-01-02T15:04:05Z)") from None
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def _duration(text: str) -> float | None:
    pos, total = 0, 0.0
    for match in _PART.finditer(text):
        if match.start() != pos:
            return None
        total += float(match.group(1)) * _UNITS[match.group(2)]
        pos = match.end()
    return total if pos and pos == len(text) else None


# Not subscripted: ParamType is generic only in recent click, and pyproject allows 8.1.
class When(click.ParamType):  # type: ignore[type-arg]
    """A click type for ``parse_when`` (a bad value is a usage error, exit 2)."""

    name = "DURATION|TIME"

    def convert(self, value: Any, param: click.Parameter | None,
                ctx: click.Context | None) -> datetime:
        if isinstance(value, datetime):
            return value
        try:
            return parse_when(str(value))
        except ValueError as exc:
            self.fail(str(exc), param, ctx)


class Later(When):
    """A moment ahead: a duration counts forward from now (``run --start-time 2h``)."""

    def convert(self, value: Any, param: click.Parameter | None,
                ctx: click.Context | None) -> datetime:
        if isinstance(value, datetime):
            return value
        seconds = _duration(str(value).strip())
        if seconds is not None:
            return datetime.now(UTC) + timedelta(seconds=seconds)
        return super().convert(value, param, ctx)


def parse_statuses(values: tuple[str, ...]) -> tuple[str, ...]:
    """Status names from repeated and comma-separated values, upper-cased and checked.

    Raises:
        click.BadParameter: a name that is not a runtime status.
    """
    out: list[str] = []
    for value in values:
        for part in value.split(","):
            name = part.strip().upper()
            if not name:
                continue
            if name not in STATUSES:
                raise click.BadParameter(
                    f"{part.strip()!r} is not a runtime status; one of {', '.join(STATUSES)}",
                    param_hint="'--filter-status'")
            if name not in out:
                out.append(name)
    return tuple(out)


def filter_options(func: Callable[..., Any]) -> Callable[..., Any]:
    """Add the filter flags; the command receives them as one ``where: ListFilter``."""
    options = [
        click.option("--filter-name", "-w", "name", metavar="NAME",
                     help="Only instances of this workflow name."),
        click.option("--filter-status", "-s", "statuses", multiple=True, metavar="STATUS",
                     callback=lambda ctx, param, values: parse_statuses(values),
                     help=f"Only these runtime statuses (repeat or comma-separate): "
                          f"{', '.join(STATUSES)}."),
        click.option("--filter-max-age", "-m", "max_age", type=When(),
                     help="Only instances created within this duration or since this time."),
        click.option("--filter-id-prefix", "id_prefix", metavar="PREFIX",
                     help="Only instance ids starting with PREFIX."),
        click.option("--filter-parent", "parent_id", metavar="ID",
                     help="Only children of this instance."),
        click.option("--filter-stalled", "stalled", is_flag=True,
                     help="Only stalled instances (same as -s STALLED)."),
    ]
    for field in _RANGES:
        options += [
            click.option(f"--{field}-from", f"{field}_from", type=When(),
                         help=f"Only instances {field} at or after this time (or ago)."),
            click.option(f"--{field}-to", f"{field}_to", type=When(),
                         help=f"Only instances {field} before this time (or ago)."),
        ]

    # functools.wraps carries click's help text and already attached options over.
    @functools.wraps(func)
    def command(*args: Any, **kwargs: Any) -> Any:
        kwargs["where"] = build_filter(kwargs)
        return func(*args, **kwargs)

    for option in reversed(options):
        command = option(command)
    return command


def build_filter(kwargs: dict[str, Any]) -> ListFilter:
    """Pop the filter flags out of a command's ``kwargs`` into a ``ListFilter``."""
    statuses = kwargs.pop("statuses")
    max_age = kwargs.pop("max_age")
    created_from = kwargs.pop("created_from")
    if max_age is not None:
        # Both given: the later cut-off is the one that narrows.
        created_from = max_age if created_from is None else max(created_from, max_age)
    return ListFilter(
        statuses=statuses, name=kwargs.pop("name"), id_prefix=kwargs.pop("id_prefix"),
        parent_id=kwargs.pop("parent_id"), stalled=kwargs.pop("stalled"),
        created_from=created_from, created_to=kwargs.pop("created_to"),
        updated_from=kwargs.pop("updated_from"), updated_to=kwargs.pop("updated_to"),
        completed_from=kwargs.pop("completed_from"),
        completed_to=kwargs.pop("completed_to"))

