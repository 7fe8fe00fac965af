"""The typed requests of the workflow service: what every edge (gRPC of both dialects, the
HTTP API, the CLI through it) asks of it, with no protobuf or wire strings in sight.

Rules live in the service, not in an edge: what purge refuses or skips, what a start may
replace. An edge only translates its wire form into these values.
"""

from __future__ import annotations

import enum
from collections.abc import Mapping
from dataclasses import dataclass, field

from wfsidecar.store.instances import InstanceFilter


class Dialect(enum.StrEnum):
    """Which SDK family started an instance: work goes only to workers of the same one
    (its value is what the workflow state's metadata records)."""

    DAPR = "dapr"
    MICROSOFT = "ms"


@dataclass(frozen=True, slots=True)
class TraceContext:
    """W3C trace context handed in by a client, parent of the instance's own span."""

    trace_parent: str
    span_id: str = ""
    trace_state: str | None = None


@dataclass(frozen=True, slots=True)
class StartRequest:
    """Create (or, for a terminal instance, replace) a workflow instance."""

    name: str
    instance_id: str = ""
    input: str | None = None
    version: str | None = None
    scheduled_start_ms: int | None = None
    execution_id: str | None = None
    tags: Mapping[str, str] = field(default_factory=dict)
    parent_trace_context: TraceContext | None = None
    enforce_unique: bool = False
    dialect: Dialect = Dialect.DAPR
    # Microsoft reuse policy: existing statuses that may be replaced (None = default rule).
    replaceable: frozenset[int] | None = None


class RunningPurge(enum.Enum):
    """What purging an instance that has not finished does."""

    REFUSE = "refuse"  # FailedPreconditionError (Dapr, the HTTP API)
    SKIP = "skip"  # counts 0, no error (Microsoft's clients expect this)
    FORCE = "force"  # purged all the same (Dapr's force flag)


@dataclass(frozen=True, slots=True)
class PurgeRequest:
    """Delete one instance's whole state; with ``recursive`` its children too."""

    instance_id: str
    recursive: bool = False
    running: RunningPurge = RunningPurge.REFUSE


@dataclass(frozen=True, slots=True)
class BulkRequest:
    """Purge or terminate every instance the filter selects (terminal ones for purge,
    unfinished ones for terminate); ``dry_run`` only counts them."""

    filter: InstanceFilter
    recursive: bool = False
    dry_run: bool = False
    output: str | None = None  # terminate's output


@dataclass(frozen=True, slots=True)
class BulkResult:
    matched: int
    done: int  # 0 for a dry run
    stored_bytes: int  # of the matched instances, from the index
