"""How ``wfsidecar workflow`` prints what the daemon answered: ``-o table|wide|json|yaml``.

Tables follow ``dapr workflow list`` (plain kubectl-style columns, AGE as Kubernetes'
``HumanDuration``) and are for people: long cells are cut in ``table`` mode only. ``wide``
adds columns and cuts nothing; ``json`` and ``yaml`` print the API's objects unchanged so
scripts see exactly what the HTTP API documents (docs/http-api.md).
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping, Sequence
from datetime import UTC, datetime
from typing import Any

import click
import yaml
from tabulate import tabulate

from wfsidecar.client.wire import InstanceMetadata, InstanceSummary, parse_time

FORMATS = ("table", "wide", "json", "yaml")
# `dapr workflow list -o short` is our `table`; accepted so dapr habits keep working.
FORMAT_ALIASES = {"short": "table"}

_CELL = 40  # widest text cell in table mode
_NONE = "-"


def emit(data: Any, fmt: str, table: Callable[[bool], str]) -> None:
    """Print ``data`` as JSON or YAML, or ``table(wide)`` for the table formats."""
    if fmt == "json":
        click.echo(json.dumps(data, indent=2, ensure_ascii=False))
    elif fmt == "yaml":
        click.echo(yaml.safe_dump(data, sort_keys=False, allow_unicode=True), nl=False)
    else:
        click.echo(table(fmt == "wide"))


def human_age(seconds: float) -> str:
    """A duration the way ``kubectl`` and ``dapr workflow list`` write AGE.

    Kubernetes' ``apimachinery/pkg/util/duration.HumanDuration``: precise while short,
    coarser as it grows (``45s``, ``5m30s``, ``150m``, ``5h20m``, ``30h``, ``3d4h``,
    ``120d``, ``2y30d``).
    """
    if seconds < -1:
        return "<invalid>"
    total = max(int(seconds), 0)
    if total < 120:
        return f"{total}s"
    minutes = total // 60
    if minutes < 10:
        return f"{minutes}m" if total % 60 == 0 else f"{minutes}m{total % 60}s"
    if minutes < 180:
        return f"{minutes}m"
    hours = minutes // 60
    if hours < 8:
        return f"{hours}h" if minutes % 60 == 0 else f"{hours}h{minutes % 60}m"
    if hours < 48:
        return f"{hours}h"
    days = hours // 24
    if hours < 24 * 8:
        return f"{days}d" if hours % 24 == 0 else f"{days}d{hours % 24}h"
    if days < 365 * 2:
        return f"{days}d"
    years, rest = divmod(days, 365)
    if days < 365 * 8:
        return f"{years}y" if rest == 0 else f"{years}y{rest}d"
    return f"{years}y"


def age(stamp: str | None, now: datetime | None = None) -> str:
    moment = parse_time(stamp)
    if moment is None:
        return "<scheduled>"
    return human_age(((now or datetime.now(UTC)) - moment).total_seconds())


def cut(text: object, wide: bool, width: int = _CELL) -> str:
    """``text`` on one line; in table mode at most ``width`` characters, ending in ``…``."""
    if text is None or text == "":
        return _NONE
    flat = " ".join(str(text).split())
    if wide or len(flat) <= width:
        return flat
    return flat[: width - 1] + "…"


def table(headers: Sequence[str], rows: Sequence[Sequence[object]]) -> str:
    # tabulate's "plain" is kubectl's look: a header row, columns, no rules.
    return tabulate(rows, headers=list(headers), tablefmt="plain", disable_numparse=True)


def instances_table(instances: Sequence[InstanceSummary], wide: bool,
                    now: datetime | None = None) -> str:
    headers = ["NAME", "ID", "STATUS", "CUSTOM STATUS", "AGE"]
    if wide:
        headers += ["CREATED", "LAST UPDATE", "COMPLETED", "VERSION", "PARENT", "DIALECT",
                    "EVENTS", "BYTES", "STALLED REASON"]
    rows = []
    for item in instances:
        # The id is never cut: it is what a person copies into the next command.
        row: list[object] = [cut(item.get("workflowName"), wide), item["instanceID"],
                             item.get("runtimeStatus", _NONE),
                             cut(item.get("customStatus"), wide, 30),
                             age(item.get("createdAt"), now)]
        if wide:
            row += [_stamp(item.get("createdAt")), _stamp(item.get("lastUpdatedAt")),
                    _stamp(item.get("completedAt")), cut(item.get("version"), wide),
                    cut(item.get("parentInstanceID"), wide), item.get("dialect") or _NONE,
                    item.get("historyLength", _NONE), item.get("storedBytes", _NONE),
                    cut(item.get("stalledReason"), wide)]
        rows.append(row)
    return table(headers, rows)


def metadata_table(meta: InstanceMetadata, wide: bool) -> str:
    """One instance, a field per line (``get``)."""
    props = meta.get("properties") or {}
    fields: list[tuple[str, object]] = [
        ("ID", meta["instanceID"]), ("NAME", meta.get("workflowName")),
        ("STATUS", meta.get("runtimeStatus")), ("CREATED", _stamp(meta.get("createdAt"))),
        ("LAST UPDATE", _stamp(meta.get("lastUpdatedAt"))), ("AGE", age(meta.get("createdAt"))),
    ]
    labels = {"custom_status": "CUSTOM STATUS", "input": "INPUT", "output": "OUTPUT",
              "failure.error_type": "FAILURE TYPE", "failure.error_message": "FAILURE MESSAGE",
              "failure.stack_trace": "STACK TRACE"}
    for key, label in labels.items():
        value = props.get(f"dapr.workflow.{key}")
        if value:
            fields.append((label, cut(value, wide, 80)))
    width = max(len(label) for label, _ in fields)
    return "\n".join(f"{label + ':':<{width + 1}}  {value}" for label, value in fields)


_EVENT_COLUMNS = ("eventId", "type", "name", "timestamp")
# Identifiers that repeat on every event of a kind and crowd out the payloads in table mode.
_EVENT_NOISE = ("orchestrationInstance", "parentTraceContext", "router")


def history_table(events: Sequence[Mapping[str, Any]], wide: bool,
                  now: datetime | None = None) -> str:
    """``dapr workflow history``'s columns: ELAPSED is the time since the event before
    (the first row shows the instance's age), DETAILS every other field of the event."""
    headers = ["TYPE", "NAME", "EVENTID", "ELAPSED", "DETAILS"]
    if wide:
        headers.insert(3, "TIMESTAMP")
    rows = []
    previous: datetime | None = None
    for index, event in enumerate(events):
        moment = parse_time(event.get("timestamp"))
        if moment is None:
            elapsed = _NONE
        elif index == 0 or previous is None:
            elapsed = "Age:" + human_age(((now or datetime.now(UTC)) - moment).total_seconds())
        else:
            elapsed = human_age((moment - previous).total_seconds())
        previous = moment or previous
        details = "; ".join(f"{key}={_compact(value, wide)}" for key, value in event.items()
                            if key not in _EVENT_COLUMNS and value not in (None, "", {}, [])
                            and (wide or key not in _EVENT_NOISE))
        event_id = event.get("eventId")
        row: list[object] = [event.get("type", _NONE), cut(event.get("name"), wide, 30),
                             _NONE if event_id is None or event_id < 0 else event_id,
                             elapsed, cut(details, wide, 60)]
        if wide:
            row.insert(3, event.get("timestamp") or _NONE)
        rows.append(row)
    return table(headers, rows)


def _compact(value: object, wide: bool) -> str:
    if isinstance(value, str):
        # Proto enum names repeat their type (ORCHESTRATION_STATUS_COMPLETED); the tail
        # says it all in a narrow column.
        return value if wide else value.removeprefix("ORCHESTRATION_STATUS_")
    return json.dumps(value, separators=(",", ":"), ensure_ascii=False)


def _stamp(text: str | None) -> str:
    """A response time to the second, in UTC (``2025-07-06T19:33:22Z``)."""
    moment = parse_time(text)
    if moment is None:
        return _NONE
    return moment.astimezone(UTC).replace(microsecond=0).isoformat().replace("+00:00", "Z")


def size(count: int) -> str:
    """Bytes for a person (``52.1 kB``); SI units, as ``du --si`` and most dashboards."""
    value = float(count)
    for unit in ("B", "kB", "MB", "GB"):
        if value < 1000 or unit == "GB":
            return f"{count} B" if unit == "B" else f"{value:.1f} {unit}"
        value /= 1000
    raise AssertionError("unreachable")
