"""The HTTP API's shapes on the client side: status names, the list filters as query
parameters, and the JSON bodies the client hands back (docs/http-api.md)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, TypedDict

# Dapr's status names plus STALLED, which this daemon reports as itself (Dapr: UNKNOWN).
STATUSES = (
    "RUNNING", "COMPLETED", "CONTINUED_AS_NEW", "FAILED", "CANCELED", "TERMINATED",
    "PENDING", "SUSPENDED", "STALLED",
)
# The statuses an instance never leaves: what purge may delete and watch waits for.
TERMINAL_STATUSES = frozenset({"COMPLETED", "FAILED", "TERMINATED", "CANCELED"})

SORT_KEYS = ("created", "updated", "completed", "id", "name")


def rfc3339(moment: datetime) -> str:
    """``moment`` in UTC with a ``Z``; a naive datetime is taken as UTC."""
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return moment.astimezone(UTC).isoformat().replace("+00:00", "Z")


def parse_time(text: str | None) -> datetime | None:
    """An RFC 3339 time from a response (``None`` and ``""`` stay ``None``)."""
    if not text:
        return None
    return datetime.fromisoformat(text.replace("Z", "+00:00").replace("z", "+00:00"))


@dataclass(frozen=True, slots=True)
class ListFilter:
    """What selects instances for list, count and the bulk operations (every field that is
    set must match; several statuses match any of them)."""

    statuses: tuple[str, ...] = ()
    name: str | None = None
    id_prefix: str | None = None
    parent_id: str | None = None
    created_from: datetime | None = None
    created_to: datetime | None = None
    updated_from: datetime | None = None
    updated_to: datetime | None = None
    completed_from: datetime | None = None
    completed_to: datetime | None = None
    stalled: bool = False

    def params(self) -> list[tuple[str, str]]:
        """The query parameters of the filter, in the API's names."""
        out = [("status", status) for status in self.statuses]
        for key, value in (("name", self.name), ("idPrefix", self.id_prefix),
                           ("parentID", self.parent_id)):
            if value is not None:
                out.append((key, value))
        for key, moment in (
            ("createdFrom", self.created_from), ("createdTo", self.created_to),
            ("updatedFrom", self.updated_from), ("updatedTo", self.updated_to),
            ("completedFrom", self.completed_from), ("completedTo", self.completed_to),
        ):
            if moment is not None:
                out.append((key, rfc3339(moment)))
        if self.stalled:
            out.append(("stalled", "true"))
        return out

    @property
    def empty(self) -> bool:
        return not self.params()


class InstanceSummary(TypedDict):
    """One entry of a list page (the daemon's instance index row)."""

    instanceID: str
    workflowName: str
    version: str | None
    runtimeStatus: str
    createdAt: str
    lastUpdatedAt: str
    completedAt: str | None
    parentInstanceID: str | None
    dialect: str
    stalledReason: str | None
    customStatus: str | None
    historyLength: int
    storedBytes: int


class InstanceMetadata(TypedDict):
    """Dapr's ``GET /v1.0/workflows/dapr/{id}`` body."""

    instanceID: str
    workflowName: str
    createdAt: str
    lastUpdatedAt: str
    runtimeStatus: str
    properties: dict[str, str]


class History(TypedDict):
    """``GET .../{id}/history``: the events in order, each a JSON object with at least
    ``eventId``, ``type`` and ``timestamp``."""

    instanceID: str
    events: list[dict[str, Any]]


@dataclass(frozen=True, slots=True)
class InstancePage:
    instances: list[InstanceSummary]
    next_cursor: str | None
    count: int | None  # of every match, when asked for


@dataclass(frozen=True, slots=True)
class BulkResult:
    matched: int
    done: int
    stored_bytes: int
    dry_run: bool
