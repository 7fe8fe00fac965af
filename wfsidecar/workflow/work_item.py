"""WorkItem: one unit of work handed to an app worker, as the dispatcher and actors see it.

Kept apart from the dispatcher so that the actors that build work items and the retry
timing that re-sends them share the type without importing the dispatcher's queues.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Literal

Kind = Literal["orchestrator", "activity", "entity"]


@dataclass(slots=True, eq=False)
class WorkItem:
    """One unit of work for an app worker."""

    kind: Kind
    instance_id: str
    # serialized OrchestratorRequest / ActivityRequest / EntityBatchRequest (internal model)
    payload: bytes
    task_id: int = -1
    token: str = ""
    # Applies a completion; set by the submitting actor side.
    on_complete: Callable[[WorkItem, bytes], Awaitable[None]] | None = field(
        default=None, repr=False
    )
    on_poison: Callable[[WorkItem], Awaitable[None]] | None = field(default=None, repr=False)
    # Why it was given up on, when not for lost workers (e.g. it is too large to send).
    poison_reason: str | None = None
    stream: int | None = None
    attempts: int = 0
    done: bool = False
    # Which wire dialect can run it: a worker only gets work its SDK family started.
    dialect: str = "dapr"
    # Orchestration or activity name and version, for workers' work-item filters.
    name: str = ""
    version: str = ""


# A worker stream's work-item filter: True if that worker can run the item.
Accepts = Callable[[WorkItem], bool]


def accept_all(item: WorkItem) -> bool:
    """The filter of a worker that sent none: it runs every item of its dialect."""
    return True
