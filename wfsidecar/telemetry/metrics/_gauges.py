"""The daemon's state, read when scraped through read-only accessors of its components.

The accessors are described here as Protocols (this layer imports no component); the
composition root hands in the components themselves. Everything is read on the event loop.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import Protocol

from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric


class _Load(Protocol):
    @property
    def queued(self) -> int: ...
    @property
    def in_flight(self) -> int: ...
    @property
    def workers(self) -> int: ...


class DispatchSource(Protocol):
    """``WorkItemDispatcher.view()``."""

    def load(self) -> Mapping[str, _Load]: ...
    def given_up(self) -> Mapping[str, int]: ...


class _Backlog(Protocol):
    @property
    def due(self) -> int: ...
    @property
    def overdue(self) -> int: ...
    @property
    def firing(self) -> int: ...
    @property
    def parked(self) -> int: ...


class ReminderSource(Protocol):
    """``ReminderScheduler``."""

    def backlog(self) -> _Backlog: ...


class ActorSource(Protocol):
    """``ActorRuntime``."""

    def active_by_type(self) -> Mapping[str, int]: ...


class StoreSource(Protocol):
    """``StateStore``."""

    async def size_bytes(self) -> int: ...


class InstanceSource(Protocol):
    """``ReadModel``."""

    async def count_by_status(self) -> Mapping[str, int]: ...


class _Leases(Protocol):
    @property
    def owned(self) -> int: ...
    @property
    def partitions(self) -> int: ...
    @property
    def takeovers(self) -> int: ...
    @property
    def lost(self) -> int: ...
    @property
    def refused(self) -> int: ...
    @property
    def wakeups(self) -> int: ...


class ClusterSource(Protocol):
    """``ClusterNode`` (app_cluster.py): several daemons on one PostgreSQL database."""

    def lease_readings(self) -> _Leases: ...


@dataclass(frozen=True, slots=True)
class Sources:
    """The read-only accessors a scrape reads, all on the event loop."""

    dispatch: DispatchSource
    reminders: ReminderSource
    actors: ActorSource
    store: StoreSource
    instances: InstanceSource
    cluster: ClusterSource | None = None


@dataclass(frozen=True, slots=True)
class Readings:
    """The daemon's state as one scrape saw it."""

    load: Mapping[str, _Load]
    given_up: Mapping[str, int]
    backlog: _Backlog
    actors: Mapping[str, int]
    database_bytes: int | None
    instances: Mapping[str, int]
    leases: _Leases | None = None

    def families(self) -> Iterator[Metric]:
        w = "wfsidecar_"
        for name, doc, value in (
            ("work_items_queued", "Work items waiting for a worker, by dialect.", "queued"),
            ("work_items_in_flight", "Work items handed to a worker, no result applied yet, "
             "by dialect.", "in_flight"),
            ("workers_connected", "Connected worker streams (GetWorkItems), by dialect.",
             "workers"),
        ):
            gauge = GaugeMetricFamily(w + name, doc, labels=["dialect"])
            for dialect, load in self.load.items():
                gauge.add_metric([dialect], getattr(load, value))
            yield gauge
        poisoned = CounterMetricFamily(
            w + "work_items_poisoned", "Work items given up on as poison (their workers "
            "went away work_items.max_attempts times, or too large to send), by kind.",
            labels=["kind"])
        for kind, count in self.given_up.items():
            poisoned.add_metric([kind], count)
        yield poisoned
        for name, doc, number in (
            ("reminders_due", "Reminders due now and not parked: firing or waiting to.",
             self.backlog.due),
            ("reminders_overdue", "Reminders due over a second ago whose firing has not "
             "begun: the scheduler is behind.", self.backlog.overdue),
            ("reminders_firing", "Reminder firings in flight.", self.backlog.firing),
            ("reminders_parked", "Reminders fired whose actors wait for a worker's answer.",
             self.backlog.parked),
        ):
            yield GaugeMetricFamily(w + name, doc, value=number)
        actors = GaugeMetricFamily(w + "actors_active", "Actor activations held in memory, "
                                   "by actor type.", labels=["actor_type"])
        for actor_type, count in self.actors.items():
            actors.add_metric([actor_type], count)
        yield actors
        if self.database_bytes is not None:
            yield GaugeMetricFamily(w + "database_bytes", "Bytes the store occupies on disk "
                                    "(SQLite: the file, its -wal and -shm).",
                                    value=self.database_bytes)
        instances = GaugeMetricFamily(w + "instances", "Workflow instances in the instance "
                                      "index, by runtime status (counted at most every "
                                      "metrics.instances_max_age).", labels=["status"])
        for status, count in self.instances.items():
            instances.add_metric([status], count)
        yield instances
        if self.leases is not None:
            yield from _lease_families(self.leases)


def _lease_families(leases: _Leases) -> Iterator[Metric]:
    w = "wfsidecar_"
    yield GaugeMetricFamily(w + "partitions_owned", "Partitions this daemon holds the lease "
                            "of (several daemons on one PostgreSQL database).",
                            value=leases.owned)
    yield GaugeMetricFamily(w + "partitions", "Partitions the actors are hashed into.",
                            value=leases.partitions)
    for name, doc, number in (
        ("lease_takeovers", "Partitions this daemon took from a daemon whose lease had "
         "expired (dead, paused or cut off).", leases.takeovers),
        ("leases_lost", "Partitions this daemon lost to another daemon while it held them "
         "(its lease expired unrenewed).", leases.lost),
        ("stale_commits_refused", "This daemon's commits refused by the fencing check "
         "(written for a partition it no longer owned).", leases.refused),
        ("cluster_wakeups", "Commits of other daemons that woke this one's reminder "
         "scheduler (a reminder for one of its partitions).", leases.wakeups),
    ):
        yield CounterMetricFamily(w + name, doc, value=number)
