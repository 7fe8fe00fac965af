"""A read-only look into the work-item dispatcher, for diagnostics and the daemon summary.

The dispatcher hands out a ``DispatchView`` over its own queues and maps
(``WorkItemDispatcher.view``); nothing here changes them, and every answer is a copy, so
a reader can never move, drop or re-time a work item. Work waiting out a re-dispatch
backoff is in neither the queue nor a stream and shows as not queued.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Literal

from wfsidecar.workflow.work_item import Accepts, Kind, WorkItem, accept_all


@dataclass(frozen=True, slots=True)
class WorkState:
    """Where one work item of an instance is: queued for a worker or held by a stream."""

    kind: Kind
    task_id: int  # -1 for an orchestrator turn
    name: str
    version: str
    state: Literal["queued", "dispatched"]
    attempts: int  # dispatches so far (a worker that took it and went away counts)
    stream: int | None  # the worker stream holding it, when dispatched


@dataclass(frozen=True, slots=True)
class WorkerStream:
    """One connected worker stream."""

    stream: int
    dialect: str
    filtered: bool  # it sent work-item filters (Microsoft workers), so it runs only some


@dataclass(frozen=True, slots=True)
class DialectLoad:
    """How much work one dialect has, and how many workers to do it."""

    queued: int  # waiting for a worker (work waiting out a re-dispatch backoff is not)
    in_flight: int  # handed to a worker, no result applied yet
    workers: int  # connected worker streams


class DispatchView:
    """Read-only answers about the dispatcher that made it."""

    def __init__(self, queues: Mapping[str, deque[WorkItem]], pending: Mapping[str, WorkItem],
                 stream_dialect: Mapping[int, str], stream_filter: Mapping[int, Accepts],
                 given_up: Mapping[str, int] | None = None) -> None:
        self._queues = queues
        self._pending = pending
        self._stream_dialect = stream_dialect
        self._stream_filter = stream_filter
        self._given_up = given_up if given_up is not None else {}

    def load(self) -> dict[str, DialectLoad]:
        """Per dialect that has any work or worker: queued, in-flight, connected workers."""
        queued = {dialect: sum(not item.superseded for item in queue)
                  for dialect, queue in self._queues.items()}
        in_flight: dict[str, int] = {}
        for item in self._pending.values():
            if not item.superseded:
                in_flight[item.dialect] = in_flight.get(item.dialect, 0) + 1
        workers: dict[str, int] = {}
        for dialect in self._stream_dialect.values():
            workers[dialect] = workers.get(dialect, 0) + 1
        return {dialect: DialectLoad(queued.get(dialect, 0), in_flight.get(dialect, 0),
                                     workers.get(dialect, 0))
                for dialect in sorted({*queued, *in_flight, *workers})}

    def given_up(self) -> dict[str, int]:
        """Work items given up on as poison since start (workers lost ``max_attempts``
        times, or too large to send), per kind."""
        return dict(self._given_up)

    def work_of(self, instance_id: str) -> list[WorkState]:
        """Every live (not superseded) work item of ``instance_id``, queued ones first."""
        found = [_state(item, "queued") for queue in self._queues.values() for item in queue
                 if item.instance_id == instance_id and not item.superseded]
        found += [_state(item, "dispatched") for item in self._pending.values()
                  if item.instance_id == instance_id and not item.superseded]
        return found

    def streams(self) -> list[WorkerStream]:
        """The connected worker streams, oldest first."""
        return [WorkerStream(stream, dialect,
                             self._stream_filter.get(stream, accept_all) is not accept_all)
                for stream, dialect in sorted(self._stream_dialect.items())]

    def streams_accepting(self, kind: Kind, dialect: str, name: str,
                          version: str = "") -> list[int]:
        """The connected streams that would be handed a ``kind`` item of workflow or
        activity ``name``/``version`` started in ``dialect``."""
        probe = WorkItem(kind, "", b"", dialect=dialect, name=name, version=version)
        return [stream for stream, d in sorted(self._stream_dialect.items())
                if d == dialect and self._stream_filter.get(stream, accept_all)(probe)]


def _state(item: WorkItem, state: Literal["queued", "dispatched"]) -> WorkState:
    return WorkState(item.kind, item.task_id, item.name, item.version, state, item.attempts,
                     item.stream if state == "dispatched" else None)
