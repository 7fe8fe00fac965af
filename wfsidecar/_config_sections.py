"""The configuration sections: one frozen dataclass per key of the YAML file but the root.

Each field's type hint says what it accepts (read by ``_config_fields.schema``) and the
docstring under it documents it; ``config/wfsidecar.yaml`` repeats every key with its
default and environment variable (tests hold it to these defaults). Checks that span two
fields of a section live in its ``__post_init__`` and raise ``ConfigError`` naming the
dotted key. ``wfsidecar.config`` re-exports everything here; import from there.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Annotated, Literal

from wfsidecar._config_values import DURATION, SECRET, SIZE, Range, format_duration
from wfsidecar.errors import ConfigError

Port = Annotated[int, Range(0, 65535)]
PositiveInt = Annotated[int, Range(1, None)]
Duration = Annotated[float, DURATION]
"""Seconds as a float; files and the environment may write ``250ms``, ``30s``, ``1h30m``."""

StoreBackend = Literal["sqlite", "memory", "postgres"]
SqliteSynchronous = Literal["FULL", "NORMAL", "OFF"]
LogLevel = Literal["DEBUG", "INFO", "WARNING", "ERROR"]
LogFormat = Literal["text", "json"]


@dataclass(frozen=True, slots=True)
class ListenerConfig:
    """One TCP listen address."""

    host: str
    """Interface to bind. ``127.0.0.1`` keeps the port private to this machine;
    ``0.0.0.0`` exposes it (containers)."""
    port: Port
    """TCP port, 0-65535. 0 lets the OS pick a free port (reported in the ready file)."""


@dataclass(frozen=True, slots=True)
class HttpListenerConfig:
    """The HTTP listen address and what its requests may carry."""

    host: str = "127.0.0.1"
    """Interface to bind. ``127.0.0.1`` keeps the port private to this machine;
    ``0.0.0.0`` exposes it (containers)."""
    port: Port = 3500
    """TCP port, 0-65535. 0 lets the OS pick a free port (reported in the ready file)."""
    max_body_size: Annotated[int, SIZE] = 4 * 1024 * 1024
    """Largest request body (a workflow input, event data, a JSON request); a larger one
    is refused with 413 ``ERR_BODY_TOO_LARGE`` before anything changes. Dapr's default
    ``--max-body-size`` is the same 4 MiB."""


def parse_listener(spec: str) -> tuple[str, str, int]:
    """``"<dialect>@<host>:<port>"`` → (dialect, host, port); ValueError says what is wrong."""
    dialect, at, address = spec.partition("@")
    host, colon, port_text = address.rpartition(":")
    if not at or not colon or dialect not in ("dapr", "ms") or not host:
        raise ValueError(f"expected '<dapr|ms>@<host>:<port>', found {spec!r}")
    if not port_text.isdigit() or int(port_text) > 65535:
        raise ValueError(f"port must be 0-65535 in {spec!r}")
    return dialect, host.strip("[]"), int(port_text)


@dataclass(frozen=True, slots=True)
class ListenersConfig:
    """Where the daemon accepts connections."""

    dapr_grpc: ListenerConfig = field(default_factory=lambda: ListenerConfig("127.0.0.1", 50001))
    """gRPC listener for the Dapr SDK dialect of the workflow API."""
    durabletask_grpc: ListenerConfig = field(
        default_factory=lambda: ListenerConfig("127.0.0.1", 4001)
    )
    """gRPC listener for the plain durabletask sidecar protocol."""
    http: HttpListenerConfig = field(default_factory=HttpListenerConfig)
    """HTTP listener: ``/v1.0/healthz`` and the workflow management API."""
    ready_file: str | None = None
    """If set, a JSON file with the bound ports, written once the daemon is ready."""
    extra_grpc: tuple[str, ...] = ()
    """More gRPC listeners, each ``<dialect>@<host>:<port>`` with dialect ``dapr`` or ``ms``
    (e.g. ``ms@0.0.0.0:4002``); each serves exactly one dialect of the same service."""
    max_message_size: Annotated[int, SIZE] = 64 * 1024 * 1024
    """Largest gRPC message sent or received; work items carry whole histories, so the
    gRPC default of 4 MiB is too small for long ones (protocol.md §4.5). A larger request
    or worker result is refused with RESOURCE_EXHAUSTED naming this key; a larger work item
    or result holds back only its own instance (STALLED, or failed in the Microsoft
    dialect)."""

    keepalive_interval: Duration = 20.0
    """How long a client connection may stay silent before the daemon pings it. A worker
    that does not answer the ping within ``keepalive_timeout`` (a frozen or cut-off process
    whose TCP connection still looks open) is disconnected, and the work items it held go
    to other workers (or to it again once it reconnects)."""
    keepalive_timeout: Duration = 10.0
    """How long the daemon waits for a ping's answer before closing the connection."""

    def __post_init__(self) -> None:
        for spec in self.extra_grpc:
            try:
                parse_listener(spec)
            except ValueError as exc:
                raise ConfigError("listeners.extra_grpc", str(exc)) from None


@dataclass(frozen=True, slots=True)
class SqliteConfig:
    """The SQLite state store."""

    path: str = "data/wfsidecar.db"
    """Database file; its directory is created if missing. One daemon per file."""
    synchronous: SqliteSynchronous = "FULL"
    """SQLite ``PRAGMA synchronous``: FULL survives power loss, NORMAL may lose the last
    commits on power loss (never on a process crash), OFF is for throwaway data."""
    busy_timeout: Duration = 5.0
    """How long a statement waits for a lock held by another connection."""
    max_batch: PositiveInt = 256
    """Most callers coalesced into one SQLite transaction (group commit)."""


@dataclass(frozen=True, slots=True)
class PostgresConfig:
    """The PostgreSQL state store, which several daemons may share (docs/multi-node.md)."""

    dsn: Annotated[str | None, SECRET] = None
    """Connection string, ``postgresql://user:password@host:5432/database``; required with
    ``store.backend: postgres``."""
    max_batch: PositiveInt = 256
    """Most callers coalesced into one PostgreSQL transaction (group commit)."""
    pool_size: PositiveInt = 4
    """Connections for reads (the writer has its own)."""
    partitions: PositiveInt = 64
    """Partitions the actors are hashed into; fixed by the first daemon to open the
    database (a daemon configured otherwise uses the stored count)."""
    lease_ttl: Duration = 10.0
    """How long a daemon's partition leases last without renewal; a dead daemon's
    partitions are taken over within about this long. Renewed every third of it."""

    def __post_init__(self) -> None:
        if self.lease_ttl < 0.3:
            raise ConfigError("store.postgres.lease_ttl",
                              f"expected at least 300ms, found {format_duration(self.lease_ttl)}")


@dataclass(frozen=True, slots=True)
class StoreConfig:
    """Durable state: actor state, workflow histories and reminders."""

    backend: StoreBackend = "sqlite"
    """``sqlite`` (durable), ``postgres`` (durable, shareable by several daemons) or
    ``memory`` (lost on exit; demos and tests)."""
    sqlite: SqliteConfig = field(default_factory=SqliteConfig)
    """Settings of the ``sqlite`` backend."""
    postgres: PostgresConfig = field(default_factory=PostgresConfig)
    """Settings of the ``postgres`` backend."""

    def __post_init__(self) -> None:
        if self.backend == "postgres" and not self.postgres.dsn:
            raise ConfigError("store.postgres.dsn", "required when store.backend is postgres")


@dataclass(frozen=True, slots=True)
class ActorsConfig:
    """The actor runtime that hosts workflow and activity actors."""

    idle_timeout: Duration = 300.0
    """Activations unused this long are dropped from memory (their state stays stored)."""


@dataclass(frozen=True, slots=True)
class RemindersConfig:
    """The durable reminder scheduler that drives timers and retries."""

    prefetch_window: Duration = 60.0
    """How far ahead the scheduler loads due reminders from the store into memory."""
    prefetch_limit: PositiveInt = 1000
    """Most reminders loaded per prefetch."""
    max_concurrent: PositiveInt = 256
    """Reminder firings in flight at once."""
    retry_initial: Duration = 1.0
    """First backoff after a failed firing; doubles per attempt."""
    retry_max: Duration = 300.0
    """Backoff cap; must be at least ``retry_initial``."""

    def __post_init__(self) -> None:
        if self.retry_max < self.retry_initial:
            raise ConfigError(
                "reminders.retry_max",
                f"expected at least reminders.retry_initial "
                f"({format_duration(self.retry_initial)}), "
                f"found {format_duration(self.retry_max)}",
            )


@dataclass(frozen=True, slots=True)
class LifecycleConfig:
    """Start-up and shutdown."""

    drain_timeout: Duration = 15.0
    """On SIGTERM, how long in-flight turns and work items may finish before cancellation."""
    uvloop: bool = True
    """Run on uvloop when it is installed (falls back to asyncio's loop otherwise)."""


@dataclass(frozen=True, slots=True)
class LoggingConfig:
    """Log output (stderr)."""

    level: LogLevel = "INFO"
    """Lowest level logged: DEBUG, INFO, WARNING or ERROR."""
    format: LogFormat = "text"
    """``text`` for people, ``json`` (one object per line) for log collectors."""


@dataclass(frozen=True, slots=True)
class WorkItemsConfig:
    """Work handed to app workers over GetWorkItems."""

    max_attempts: PositiveInt = 5
    """Dispatches of one work item that may end with its worker's stream (a crash) before
    it counts as poison: Dapr instances then show STALLED with the reason, Microsoft ones
    fail the task with a clear error. Abandoned (handed back) items do not count."""
    redispatch_initial: Duration = 1.0
    """Backoff before the second re-dispatch of an item whose worker went away (the first
    goes out at once); it doubles per attempt."""
    redispatch_max: Duration = 60.0
    """Cap on that backoff."""
    max_streams: Annotated[int | None, Range(1, None)] = None
    """Most GetWorkItems streams open at once over all listeners; one more is refused with
    RESOURCE_EXHAUSTED naming this key. Unset: no limit."""
    max_in_flight_per_stream: Annotated[int | None, Range(1, None)] = None
    """Most work items one stream holds unanswered; the stream gets no more until it
    completes or abandons one. Unset: no limit (the SDK's own concurrency decides)."""


@dataclass(frozen=True, slots=True)
class TestingConfig:
    """Switches meant only for test suites; never enable them in production."""

    allow_task_hub_reset: bool = False
    """Let the Microsoft-dialect CreateTaskHub/DeleteTaskHub RPCs wipe ALL workflow, activity
    and entity state (test isolation). Off: both answer UNIMPLEMENTED."""
