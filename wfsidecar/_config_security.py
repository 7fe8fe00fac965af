"""The ``security:`` section: API tokens and roles, TLS files, the rate limit per token.

``wfsidecar.config`` re-exports it; import from there.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Annotated

from wfsidecar._config_values import DURATION, SECRET, Range
from wfsidecar.errors import ConfigError

Port = Annotated[int, Range(0, 65535)]
PositiveInt = Annotated[int, Range(1, None)]
Duration = Annotated[float, DURATION]


@dataclass(frozen=True, slots=True)
class TlsConfig:
    """TLS on every gRPC listener and the HTTP listener (docs/security.md)."""

    cert_file: str | None = None
    """PEM certificate chain the listeners present; with ``key_file`` it turns TLS on.
    Re-read when it changes (``security.reload_interval``), so a renewal needs no restart."""
    key_file: str | None = None
    """PEM private key of ``cert_file``."""
    client_ca_file: str | None = None
    """PEM bundle of the CAs whose client certificates are accepted: mutual TLS. A client
    without a certificate signed by one of them is refused during the handshake."""

    def __post_init__(self) -> None:
        if (self.cert_file is None) != (self.key_file is None):
            missing = "key_file" if self.key_file is None else "cert_file"
            raise ConfigError(f"security.tls.{missing}",
                              "cert_file and key_file must be set together")
        if self.client_ca_file is not None and self.cert_file is None:
            raise ConfigError("security.tls.client_ca_file",
                              "mutual TLS needs security.tls.cert_file and key_file too")


@dataclass(frozen=True, slots=True)
class SecurityConfig:
    """Authentication of clients, TLS and request rates (docs/security.md)."""

    api_token: Annotated[str | None, SECRET] = None
    """The admin token: every RPC and route. Clients send it as ``dapr-api-token`` (what
    the Dapr SDKs send from ``DAPR_API_TOKEN``) or ``authorization: Bearer``. Also read
    from ``DAPR_API_TOKEN``. Health checks never need a token."""
    api_token_file: str | None = None
    """A file of admin tokens, one per line (blank lines and ``#`` comments skipped), all
    valid at once, so a rotation can hold the old and the new token; re-read when it
    changes (a Kubernetes Secret's update needs no restart)."""
    read_token: Annotated[str | None, SECRET] = None
    """The read-only token: get, list, history, diagnostics, metadata (dashboards). It can
    never start, change or delete an instance, nor pull work items."""
    read_token_file: str | None = None
    """A file of read-only tokens, as ``api_token_file``."""
    worker_token: Annotated[str | None, SECRET] = None
    """The worker token: what SDK workers call (GetWorkItems, the Complete and Abandon
    RPCs, histories), nothing that manages instances."""
    worker_token_file: str | None = None
    """A file of worker tokens, as ``api_token_file``."""
    insecure: bool = False
    """Start even with a listener on a non-loopback address and no token (a loud warning
    at start and every hour). Without it such a daemon refuses to start."""
    reload_interval: Duration = 2.0
    """How often token files and TLS certificate files are checked for changes."""
    rate_limit: Annotated[float | None, Range(0.001, None)] = None
    """Requests per second allowed per token (per client address without tokens) on every
    listener; over it a call gets RESOURCE_EXHAUSTED / 429. Unset: no limit."""
    rate_burst: PositiveInt = 50
    """How many requests above ``rate_limit`` a token may make at once."""
    tls: TlsConfig = field(default_factory=TlsConfig)
    """Server TLS and optional mutual TLS."""

    def __post_init__(self) -> None:
        if self.api_token is None and self.api_token_file is None:
            for name in ("read_token", "worker_token"):
                if getattr(self, name) is not None or getattr(self, name + "_file"):
                    raise ConfigError(f"security.{name}", "needs an admin token too: set "
                                      "security.api_token or security.api_token_file")
