"""The storage report (issue #13 item 5): where the store's bytes are, and what retention
would purge now.

Everything comes from the store's size figures and the instance index (counts and stored
bytes per status, the largest instances, the retention backlog as the sweeper's own
filters select it): no history is loaded. ``storedBytes`` are an instance's history,
inbox and custom status as written (the index's figure); the file adds the tables'
layout, indexes and free pages.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from wfsidecar.engine import RuntimeStatus
from wfsidecar.store.base import StateStore
from wfsidecar.store.instances import InstanceFilter, InstanceRow
from wfsidecar.workflow.read_model import ReadModel
from wfsidecar.workflow.retention import RetentionSweeper, SweepResult

MAX_LARGEST = 100


@dataclass(frozen=True, slots=True)
class Measure:
    count: int
    stored_bytes: int


@dataclass(frozen=True, slots=True)
class StorageReport:
    file_bytes: int  # the database file with its WAL (0: a store in memory)
    free_bytes: int  # free pages in it: reused by later writes or given back by the sweeper
    by_status: dict[str, Measure]  # every status, zeros included
    largest: list[InstanceRow]
    retention_limits: dict[str, float]  # seconds per limited finished status
    backlog: dict[str, Measure]  # past its limit now, per limited status
    last_sweep: SweepResult | None = None
    total: Measure = field(init=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "total", Measure(
            sum(m.count for m in self.by_status.values()),
            sum(m.stored_bytes for m in self.by_status.values())))


async def storage_report(read_model: ReadModel, store: StateStore,
                         sweeper: RetentionSweeper | None, *, now_ms: int,
                         largest: int = 10) -> StorageReport:
    """Measure the store now; ``largest`` instances by stored bytes (at most 100)."""
    by_status: dict[str, Measure] = {}
    for status in RuntimeStatus:
        count, stored = await read_model.measure(InstanceFilter(statuses=frozenset({status})))
        by_status[status.name] = Measure(count, stored)
    backlog: dict[str, Measure] = {}
    policy: dict[str, float] = {}
    if sweeper is not None:
        policy = {status.name: seconds for status, seconds in sweeper.limits.items()}
        for flt in sweeper.filters(now_ms):
            (number,) = flt.statuses
            count, stored = await read_model.measure(flt)
            backlog[RuntimeStatus(number).name] = Measure(count, stored)
    return StorageReport(
        file_bytes=await store.size_bytes(), free_bytes=await store.free_bytes(),
        by_status=by_status,
        largest=await store.largest_instances(min(max(largest, 0), MAX_LARGEST)),
        retention_limits=policy, backlog=backlog,
        last_sweep=sweeper.last if sweeper is not None else None)

