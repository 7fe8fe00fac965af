"""The instance index: one summary row per workflow instance, and the one query over it.

Reads of many instances (list, query, count, purge by filter, retention, the HTTP API and
the CLI) never take actor turns or load histories: the workflow actor writes its instance's
row in the same transaction as every turn that changes the summary, and this module's
``InstanceFilter`` and ``InstanceQuery`` are the only way to select instances. Every store
answers them the same way (``matches`` and ``sort_key`` are the reference semantics that
``MemoryStore`` uses and the SQL of the other stores mirrors).

Statuses are stored as their wire numbers (``engine.RuntimeStatus`` values); the store
knows nothing of what they mean.
"""

from __future__ import annotations

import base64
import binascii
import json
from dataclasses import dataclass, field
from typing import Literal

from wfsidecar.errors import InvalidArgumentError

SortField = Literal["created", "updated", "completed", "id", "name"]
SORT_FIELDS: tuple[SortField, ...] = ("created", "updated", "completed", "id", "name")
DEFAULT_PAGE = 100
MAX_PAGE = 10_000


def page_size(requested: int) -> int:
    """A client's page size: 0 means the default, larger than MAX_PAGE means MAX_PAGE.

    Raises:
        InvalidArgumentError: a negative size.
    """
    if requested < 0:
        raise InvalidArgumentError(f"page size must not be negative, got {requested}")
    return min(requested or DEFAULT_PAGE, MAX_PAGE)
CUSTOM_STATUS_PREVIEW = 256  # characters of the custom status kept in the row


@dataclass(frozen=True, slots=True)
class InstanceRow:
    """What a list shows of an instance without loading it."""

    instance_id: str
    name: str
    version: str | None
    status: int
    created_ms: int
    updated_ms: int
    completed_ms: int | None
    parent_id: str | None
    dialect: str
    stall_reason: str | None
    custom_status: str | None  # the first CUSTOM_STATUS_PREVIEW characters
    history_len: int
    stored_bytes: int


@dataclass(frozen=True, slots=True)
class InstanceFilter:
    """Which instances: every set condition must hold (empty sets and None match all).
    Time ranges are half-open, [from, to), in epoch milliseconds."""

    statuses: frozenset[int] = frozenset()
    name: str | None = None
    id_prefix: str = ""
    parent_id: str | None = None
    created_from_ms: int | None = None
    created_to_ms: int | None = None
    updated_from_ms: int | None = None
    updated_to_ms: int | None = None
    completed_from_ms: int | None = None
    completed_to_ms: int | None = None

    def matches(self, row: InstanceRow) -> bool:
        return ((not self.statuses or row.status in self.statuses)
                and (self.name is None or row.name == self.name)
                and row.instance_id.startswith(self.id_prefix)
                and (self.parent_id is None or row.parent_id == self.parent_id)
                and _within(row.created_ms, self.created_from_ms, self.created_to_ms)
                and _within(row.updated_ms, self.updated_from_ms, self.updated_to_ms)
                and _within(row.completed_ms, self.completed_from_ms, self.completed_to_ms))


def _within(value: int | None, low: int | None, high: int | None) -> bool:
    if low is None and high is None:
        return True
    if value is None:
        return False
    return (low is None or value >= low) and (high is None or value < high)


@dataclass(frozen=True, slots=True)
class InstanceQuery:
    """One page of matching instances, ordered by ``sort`` then instance id (ties)."""

    filter: InstanceFilter = field(default_factory=InstanceFilter)
    sort: SortField = "created"
    descending: bool = True
    limit: int = DEFAULT_PAGE
    cursor: str | None = None  # opaque, from the previous page's ``next_cursor``

    def __post_init__(self) -> None:
        if self.sort not in SORT_FIELDS:
            raise InvalidArgumentError(
                f"cannot sort by {self.sort!r}; choose one of {', '.join(SORT_FIELDS)}")
        if not 1 <= self.limit <= MAX_PAGE:
            raise InvalidArgumentError(
                f"page size must be between 1 and {MAX_PAGE}, got {self.limit}")

    def after(self) -> tuple[int | str, str] | None:
        """The (sort value, instance id) the page starts after, from the cursor.

        Raises:
            InvalidArgumentError: the cursor is not one this query's sort handed out.
        """
        if self.cursor is None:
            return None
        try:
            sort, descending, value, instance_id = json.loads(
                base64.urlsafe_b64decode(self.cursor.encode() + b"==="))
        except (ValueError, TypeError, binascii.Error) as exc:
            raise InvalidArgumentError(f"bad cursor {self.cursor!r}: {exc}") from exc
        if (sort, descending) != (self.sort, self.descending) or not isinstance(
                instance_id, str) or not isinstance(value, int | str):
            raise InvalidArgumentError(
                f"bad cursor {self.cursor!r}: it belongs to another sort order")
        return value, instance_id

    def cursor_after(self, row: InstanceRow) -> str:
        raw = json.dumps([self.sort, self.descending, sort_value(row, self.sort),
                          row.instance_id], separators=(",", ":"))
        return base64.urlsafe_b64encode(raw.encode()).decode().rstrip("=")


@dataclass(frozen=True, slots=True)
class InstanceTotals:
    count: int
    stored_bytes: int


@dataclass(frozen=True, slots=True)
class InstancePage:
    rows: list[InstanceRow]
    next_cursor: str | None  # None on the last page


def sort_value(row: InstanceRow, sort: SortField) -> int | str:
    """The row's value in ``sort``; an instance that has not completed sorts as -1 by
    completion time (SQL stores say ``COALESCE(completed_ms, -1)``)."""
    if sort == "created":
        return row.created_ms
    if sort == "updated":
        return row.updated_ms
    if sort == "completed":
        return -1 if row.completed_ms is None else row.completed_ms
    if sort == "name":
        return row.name
    return row.instance_id


def sort_key(row: InstanceRow, sort: SortField) -> tuple[int | str, str]:
    """The total order of a sort: its value, then the instance id for ties."""
    return sort_value(row, sort), row.instance_id
