"""Daemon configuration: the root ``Config``, its sections and a strict, pure loader.

Precedence, lowest first: built-in defaults < YAML file < environment < overrides (the CLI
flags the user actually typed). Environment names are ``WFSIDECAR_<SECTION>__<KEY>`` with
``__`` between nesting levels, e.g. ``WFSIDECAR_STORE__SQLITE__PATH``; ``DAPR_API_TOKEN``
is accepted for Dapr compatibility (features.md §0.3). Anything unknown, mistyped or out of
range raises ``ConfigError`` whose ``path`` is the dotted key (style.md §3.9).

Components receive only their own section (``RemindersConfig``, ``SqliteConfig``, ...),
never the whole ``Config``. The sections are defined in ``_config_sections`` and
re-exported here, next to the root ``Config`` and ``load``.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from wfsidecar import _config_loader as _loader
from wfsidecar._config_retention import RetentionConfig
from wfsidecar._config_sections import (
    ActorsConfig,
    Duration,
    HttpListenerConfig,
    LifecycleConfig,
    ListenerConfig,
    ListenersConfig,
    LogFormat,
    LoggingConfig,
    LogLevel,
    Port,
    PositiveInt,
    PostgresConfig,
    RemindersConfig,
    SqliteConfig,
    SqliteSynchronous,
    StoreBackend,
    StoreConfig,
    TestingConfig,
    WorkItemsConfig,
    parse_listener,
)
from wfsidecar._config_security import SecurityConfig, TlsConfig
from wfsidecar._config_telemetry import MetricsConfig, TracingConfig
from wfsidecar._config_values import format_duration, parse_duration, parse_size

__all__ = [
    "ENV_PREFIX",
    "ActorsConfig",
    "Config",
    "Duration",
    "HttpListenerConfig",
    "LifecycleConfig",
    "ListenerConfig",
    "ListenersConfig",
    "LogFormat",
    "LogLevel",
    "LoggingConfig",
    "MetricsConfig",
    "Port",
    "PositiveInt",
    "RemindersConfig",
    "RetentionConfig",
    "SecurityConfig",
    "PostgresConfig",
    "SqliteConfig",
    "SqliteSynchronous",
    "StoreBackend",
    "StoreConfig",
    "TestingConfig",
    "TlsConfig",
    "TracingConfig",
    "WorkItemsConfig",
    "env_var_name",
    "format_duration",
    "load",
    "mask_secrets",
    "parse_duration",
    "parse_listener",
    "parse_size",
]

ENV_PREFIX = "WFSIDECAR_"
# Dapr sidecars read their API token from this variable; honour it so existing deployments
# keep working, below the WFSIDECAR_ spelling of the same key.
_ENV_ALIASES = {"DAPR_API_TOKEN": "security.api_token"}


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
    metrics: MetricsConfig = field(default_factory=MetricsConfig)
    """Prometheus metrics."""
    tracing: TracingConfig = field(default_factory=TracingConfig)
    """OpenTelemetry traces to Zipkin."""
    retention: RetentionConfig = field(default_factory=RetentionConfig)
    """Purging finished workflows after a time; giving database space back."""
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
