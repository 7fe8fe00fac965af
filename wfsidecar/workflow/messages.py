"""Values passed between the workflow service, the dispatcher and the workflow actors."""

from __future__ import annotations

from dataclasses import dataclass

from wfsidecar._proto.internal import orchestrator_service_pb2 as pb
from wfsidecar.engine import InstanceView
from wfsidecar.types import ActorRef
from wfsidecar.workflow.dispatch import WorkItem


@dataclass(frozen=True, slots=True)
class CreateCommand:
    started: pb.HistoryEvent
    start_at_ms: int | None
    enforce_unique: bool = False
    dialect: str = "dapr"
    # Existing statuses that may be replaced (Microsoft reuse policy); None = dialect default.
    replaceable: frozenset[int] | None = None


@dataclass(frozen=True, slots=True)
class CloneCommand:
    """Create an instance whose first inbox replays another's history (Dapr rerun)."""

    inbox: tuple[pb.HistoryEvent, ...]


@dataclass(frozen=True, slots=True)
class PurgeCommand:
    force: bool


@dataclass(frozen=True, slots=True)
class PurgeOutcome:
    purged: bool
    children: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class Completion:
    item: WorkItem
    response: bytes


@dataclass(frozen=True, slots=True)
class ActivityResult:
    generation: int
    event: pb.HistoryEvent
    activity: ActorRef
    item: WorkItem


@dataclass(frozen=True, slots=True)
class InstanceSnapshot:
    """What the service reads of an instance: its projection, custom status and history."""

    view: InstanceView
    custom_status: str | None
    history: tuple[pb.HistoryEvent, ...]
    tags: tuple[tuple[str, str], ...] = ()
    dialect: str = "dapr"
    inbox_len: int = 0  # events waiting for the next turn (diagnostics)
