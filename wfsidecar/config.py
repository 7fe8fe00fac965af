"""Daemon configuration: one frozen dataclass per section and a strict, pure loader.

Precedence, lowest first: built-in defaults < YAML file < environment < overrides (the CLI
flags the user actually typed). Environment names are ``WFSIDECAR_<SECTION>__<KEY>`` with
``__`` between nesting levels, e.g. ``WFSIDECAR_STORE__SQLITE__PATH``; ``DAPR_API_TOKEN``
is accepted for Dapr compatibility (features.md §0.3). Anything unknown, mistyped or out of
range raises ``ConfigError`` whose ``path`` is the dotted key (style.md §3.9).

Components receive only their own section (``RemindersConfig``, ``SqliteConfig``, ...),
never the whole ``Config``.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Annotated, Any, Literal

from wfsidecar import _config_loader as _loader
from wfsidecar._config_values import (
    DURATION,
    SECRET,
    SIZE,
    Range,
    format_duration,
    parse_duration,
    parse_size,
)
from wfsidecar.errors import ConfigError

__all__ = [
    "ENV_PREFIX",
    "ActorsConfig",
    "Config",
    "Duration",
    "LifecycleConfig",
    "ListenerConfig",
    "ListenersConfig",
    "LogFormat",
    "LogLevel",
    "LoggingConfig",
    "Port",
    "PositiveInt",
    "RemindersConfig",
    "SecurityConfig",
    "SqliteConfig",
    "SqliteSynchronous",
    "StoreBackend",
    "StoreConfig",
    "env_var_name",
    "format_duration",
    "load",
    "mask_secrets",
    "parse_duration",
    "parse_size",
]

ENV_PREFIX = "WFSIDECAR_"
# Dapr sidecars read their API token from this variable; honour it so existing deployments
# keep working, below the WFSIDECAR_ spelling of the same key.
_ENV_ALIASES = {"DAPR_API_TOKEN": "security.api_token"}

Port = Annotated[int, Range(0, 65535)]
PositiveInt = Annotated[int, Range(1, None)]
Duration = Annotated[float, DURATION]
"""Seconds as a float; files and the environment may write ``250ms``, ``30s``, ``1h30m``."""

StoreBackend = Literal["sqlite", "memory"]
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
    http: ListenerConfig = field(default_factory=lambda: ListenerConfig("127.0.0.1", 3500))
    """HTTP listener: ``/v1.0/healthz`` and the management API."""
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
class StoreConfig:
    """Durable state: actor state, workflow histories and reminders."""

    backend: StoreBackend = "sqlite"
    """``sqlite`` (durable) or ``memory`` (lost on exit; demos and tests)."""
    sqlite: SqliteConfig = field(default_factory=SqliteConfig)
    """Settings of the ``sqlite`` backend."""


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
class SecurityConfig:
    """Authentication of clients."""

    api_token: Annotated[str | None, SECRET] = None
    """Dapr-style API token clients must send (``dapr-api-token``); enforced by the gRPC and
    HTTP edges once they serve client APIs. Also read from ``DAPR_API_TOKEN``."""


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


@dataclass(frozen=True, slots=True)
class TestingConfig:
    """Switches meant only for test suites; never enable them in production."""

    allow_task_hub_reset: bool = False
    """Let the Microsoft-dialect CreateTaskHub/DeleteTaskHub RPCs wipe ALL workflow, activity
    and entity state (test isolation). Off: both answer UNIMPLEMENTED."""


@dataclass(frozen=True, slots=True)
class Config:
    """The whole daemon configuration; ``Config()`` is the built-in defaults."""

    listeners: ListenersConfig = field(default_factory=ListenersConfig)
    """Network listeners."""
    store: StoreConfig = field(default_factory=StoreConfig)
    """State store."""
    actors: ActorsConfig = field(default_factory=ActorsConfig)
    """Actor runtime."""
    reminders: RemindersConfig = field(default_factory=RemindersConfig)
    """Reminder scheduler."""
    lifecycle: LifecycleConfig = field(default_factory=LifecycleConfig)
    """Start-up and shutdown."""
    logging: LoggingConfig = field(default_factory=LoggingConfig)
    """Logging."""
    security: SecurityConfig = field(default_factory=SecurityConfig)
    """Client authentication."""
    work_items: WorkItemsConfig = field(default_factory=WorkItemsConfig)
    """Work-item dispatch to app workers."""
    testing: TestingConfig = field(default_factory=TestingConfig)
    """Test-only switches."""

    def to_dict(self, *, mask_secrets: bool = False) -> dict[str, Any]:
        """A plain nested dict, ready for ``yaml.safe_dump``, that ``load`` reads back.

        Durations are rendered as text (``"5m"``). With ``mask_secrets``, secrets that are
        set appear as ``"***"``.
        """
        return _loader.dump(self, mask_secrets=mask_secrets)


def mask_secrets(config: Config) -> dict[str, Any]:
    """``config.to_dict(mask_secrets=True)``: what ``wfsidecar config show`` prints."""
    return config.to_dict(mask_secrets=True)


def env_var_name(path: str) -> str:
    """The environment variable for a dotted key: ``store.sqlite.path`` →
    ``WFSIDECAR_STORE__SQLITE__PATH``."""
    return ENV_PREFIX + "__".join(part.upper() for part in path.split("."))


def load(path: Path | None, *, env: Mapping[str, str], overrides: Mapping[str, object]) -> Config:
    """Build the effective configuration.

    Args:
        path: YAML file, or None for no file. An empty file is valid.
        env: The environment to read (pass ``os.environ``); never read globally.
        overrides: Flat ``{"dotted.key": value}`` of the CLI flags the user typed.

    Raises:
        ConfigError: the file is unreadable or not YAML (``path`` = the file), or a key is
            unknown, mistyped or out of range in any layer (``path`` = the dotted key).
    """
    values: dict[str, object] = {}
    if path is not None:
        values.update(_loader.flatten(Config, _loader.read_yaml(path), source=f"in {path}"))
    values.update(_loader.env_layer(Config, env, prefix=ENV_PREFIX, aliases=_ENV_ALIASES))
    values.update(
        _loader.flat_layer(Config, overrides, text=False, sources=lambda _: "from the command line")
    )
    return _loader.build(Config(), values)
