"""The retention sweeper (issue #13 item 5): purges finished instances past their limit.

One periodic sweep, not a reminder per instance (Dapr's ``retentioner``, and the purge
loops of dapr/dapr#10052): for each finished status with a limit it asks the read model's
one query for the instances of that status that completed before ``now - limit``, oldest
first (the ``(status, completed_ms)`` index), and purges them through the service's purge
(recursive: children go with their parent), a batch at a time. Between instances nothing
is held, and between batches it yields, so live turns interleave with a backlog of any
size. Because it selects from the index, it applies to instances that finished before the
policy was set (unlike Dapr's, dapr/docs#5074).

An instance is never purged while it runs: only finished statuses are selected, and the
purge refuses (skips) an instance that a restart made live again in the meantime.

With ``archive_path``, every instance about to be purged (and each child going with it)
is first appended to that file as one JSON line (its summary and whole history), and the
file is fsynced before the purge. Each sweep then packs a bounded number of finished
instances an upgraded file left loose (``StateStore.compact``) and gives up to
``vacuum_pages`` free pages back to the file system (``StateStore.reclaim_space``).
"""

from __future__ import annotations

import asyncio
import dataclasses
import json
import logging
import os
from dataclasses import dataclass
from pathlib import Path

from google.protobuf.json_format import MessageToDict

from wfsidecar.clock import Clock
from wfsidecar.config import RetentionConfig
from wfsidecar.engine import RuntimeStatus
from wfsidecar.errors import WfSidecarError
from wfsidecar.store.base import StateStore
from wfsidecar.store.instances import InstanceFilter, InstanceQuery, InstanceRow
from wfsidecar.workflow.requests import PurgeRequest, RunningPurge
from wfsidecar.workflow.service import WorkflowService

logger = logging.getLogger(__name__)

_KEYS = {RuntimeStatus.COMPLETED: "completed", RuntimeStatus.FAILED: "failed",
         RuntimeStatus.TERMINATED: "terminated"}


def limits(config: RetentionConfig) -> dict[RuntimeStatus, float]:
    """Seconds each finished status is kept: its own key, else ``anyTerminal``; a status
    with neither is kept until purged by hand (absent here)."""
    out: dict[RuntimeStatus, float] = {}
    for status, key in _KEYS.items():
        own: float | None = getattr(config, key)
        limit = own if own is not None else config.anyTerminal
        if limit is not None:
            out[status] = limit
    return out


@dataclass(slots=True)
class SweepResult:
    """What one sweep did."""

    purged: int = 0  # instances deleted, children included
    purged_bytes: int = 0  # their stored bytes, from the index
    archived: int = 0  # JSON lines appended
    skipped: int = 0  # selected but not purged (live again, or already gone)
    packed: int = 0  # finished instances re-encoded compactly
    reclaimed_pages: int = 0  # free pages given back to the file system


class RetentionSweeper:
    """Owned by the composition root: ``run`` until ``stop``, which drains (the instance
    being purged is finished, nothing new starts)."""

    def __init__(self, service: WorkflowService, store: StateStore, config: RetentionConfig,
                 clock: Clock) -> None:
        self._service = service
        self._store = store
        self._config = config
        self._clock = clock
        self.limits = limits(config)
        self._archive = Path(config.archive_path) if config.archive_path else None
        self._stopping = asyncio.Event()
        self.last: SweepResult | None = None  # the last finished sweep, for the report

    def filters(self, now_ms: int) -> list[InstanceFilter]:
        """What is past its limit at ``now_ms``: one filter per limited status (the
        retention backlog, the dry run and the sweep all select with these)."""
        return [InstanceFilter(statuses=frozenset({int(status)}),
                               completed_to_ms=now_ms - int(limit * 1000))
                for status, limit in self.limits.items()]

    def stop(self) -> None:
        self._stopping.set()

    async def run(self) -> None:
        """Sweep every ``sweep_interval`` until ``stop``; a failed sweep is logged and
        the next one tries again."""
        while not self._stopping.is_set():
            try:
                result = await self.sweep()
            except (WfSidecarError, OSError) as exc:
                # The store cannot write now, or the archive cannot be written (then
                # nothing of that batch was purged): next time.
                logger.warning("retention sweep failed: %s", exc)
            except Exception:
                # A sweeper bug must not take the daemon's live work down with it.
                logger.exception("retention sweep failed")
            else:
                if result.purged or result.packed or result.reclaimed_pages:
                    logger.info(
                        "retention: purged %d instances (%d bytes), archived %d, skipped %d,"
                        " packed %d, gave back %d pages", result.purged, result.purged_bytes,
                        result.archived, result.skipped, result.packed,
                        result.reclaimed_pages)
            await self._clock.wait(self._stopping, self._config.sweep_interval)

    async def sweep(self) -> SweepResult:
        """One pass: purge what is past its limit, pack, give space back."""
        result = SweepResult()
        for flt in self.filters(self._clock.now_ms()):
            await self._purge_expired(flt, result)
        if not self._stopping.is_set():
            result.packed = await self._store.compact(self._config.batch_size)
        if not self._stopping.is_set() and self._config.vacuum_pages:
            result.reclaimed_pages = await self._store.reclaim_space(self._config.vacuum_pages)
        self.last = result
        return result

    async def _purge_expired(self, flt: InstanceFilter, result: SweepResult) -> None:
        query = InstanceQuery(flt, "completed", descending=False, limit=self._config.batch_size)
        while not self._stopping.is_set():
            page = await self._service.list_instances(query)
            if page.rows:
                await self._purge_batch(page.rows, result)
            if page.next_cursor is None:
                return
            # Purged rows are gone; the cursor steps over the ones that were skipped.
            query = dataclasses.replace(query, cursor=page.next_cursor)
            await asyncio.sleep(0)  # between batches, live work goes first

    async def _purge_batch(self, rows: list[InstanceRow], result: SweepResult) -> None:
        if self._archive is not None:
            lines = [line for row in rows for line in await self._archive_lines(row)]
            await asyncio.to_thread(_append_synced, self._archive, lines)
            result.archived += len(lines)
        for row in rows:
            if self._stopping.is_set():
                return
            try:
                purged = await self._service.purge(
                    PurgeRequest(row.instance_id, recursive=True, running=RunningPurge.SKIP))
            except WfSidecarError as exc:  # restarted meanwhile, or a fault of its own
                logger.debug("retention skipped %s: %s", row.instance_id, exc)
                purged = 0
            if purged:
                result.purged += purged
                result.purged_bytes += row.stored_bytes
            else:
                result.skipped += 1

    async def _archive_lines(self, row: InstanceRow) -> list[str]:
        """The JSON lines of an instance and of every child its purge takes along."""
        lines: list[str] = []
        pending = [row.instance_id]
        while pending:
            instance_id = pending.pop()
            snapshot = await self._service.get(instance_id)
            if snapshot is None:
                continue
            view = snapshot.view
            summary = {
                "instanceId": instance_id, "name": view.name, "version": view.version,
                "executionId": view.execution_id, "status": view.status.name,
                "createdMs": view.created_ms, "lastUpdatedMs": view.last_updated_ms,
                "completedMs": view.completed_ms, "parentInstanceId": view.parent_instance_id,
                "input": view.input, "output": view.output,
                "failure": MessageToDict(view.failure) if view.failure is not None else None,
                "customStatus": snapshot.custom_status,
                "childInstanceIds": list(view.child_instance_ids),
            }
            lines.append(json.dumps({
                "instance": summary,
                "history": [MessageToDict(event) for event in snapshot.history],
            }, separators=(",", ":")))
            pending.extend(view.child_instance_ids)
        return lines


def _append_synced(path: Path, lines: list[str]) -> None:
    """Append ``lines`` and fsync before returning (runs off the event loop)."""
    if not lines:
        return
    with open(path, "a", encoding="utf-8") as archive:
        archive.write("".join(line + "\n" for line in lines))
        archive.flush()
        os.fsync(archive.fileno())
