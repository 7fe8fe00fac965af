"""Safe defaults: refuse to serve beyond this machine without a token unless told to.

A listener is exposed when its host is not a loopback address (``127.0.0.0/8``, ``::1``,
``localhost``). With any listener exposed and no token configured the daemon refuses to
start, naming exactly what to set; ``security.insecure`` (``--insecure``) starts it anyway
with a loud warning at start and every hour.
"""

from __future__ import annotations

import asyncio
import ipaddress
import logging

from wfsidecar.config import Config, parse_listener
from wfsidecar.errors import ConfigError

logger = logging.getLogger(__name__)

INSECURE_WARNING_INTERVAL = 3600.0


def is_loopback(host: str) -> bool:
    if host.lower() == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False  # a host name could resolve anywhere


def exposed_listeners(config: Config) -> list[str]:
    """``name host:port`` of every listener bound beyond loopback."""
    cfg = config.listeners
    listeners = [("dapr_grpc", cfg.dapr_grpc.host, cfg.dapr_grpc.port),
                 ("durabletask_grpc", cfg.durabletask_grpc.host, cfg.durabletask_grpc.port),
                 ("http", cfg.http.host, cfg.http.port)]
    for spec in cfg.extra_grpc:
        dialect, host, port = parse_listener(spec)
        listeners.append((f"extra_grpc {dialect}", host, port))
    if config.metrics.enabled:
        listeners.append(("metrics", config.metrics.host, config.metrics.port))
    return [f"{name} {host}:{port}" for name, host, port in listeners if not is_loopback(host)]


def check(config: Config, tokens_enabled: bool) -> list[str]:
    """The exposed listeners, after refusing an unprotected exposure.

    Raises:
        ConfigError: a listener is exposed, no token is set and ``security.insecure`` is off.
    """
    exposed = exposed_listeners(config)
    if exposed and not tokens_enabled and not config.security.insecure:
        raise ConfigError(
            "security.api_token",
            f"listener(s) {', '.join(exposed)} accept connections from other machines and "
            "no API token is set, so anyone who can reach them could run, read and delete "
            "workflows. Set a token: DAPR_API_TOKEN or WFSIDECAR_SECURITY__API_TOKEN, or "
            "WFSIDECAR_SECURITY__API_TOKEN_FILE / --api-token-file (a mounted secret); or "
            "bind to 127.0.0.1; or, knowingly, pass --insecure "
            "(WFSIDECAR_SECURITY__INSECURE=true)")
    return exposed


def warn_insecure(exposed: list[str]) -> None:
    logger.warning(
        "INSECURE: %s accept(s) connections from other machines WITHOUT AUTHENTICATION "
        "(--insecure): anyone who can reach them can run, read and delete workflows and "
        "pull work items. Set DAPR_API_TOKEN or security.api_token_file.", ", ".join(exposed))


async def keep_warning(exposed: list[str], interval: float = INSECURE_WARNING_INTERVAL) -> None:
    """Repeat the warning every ``interval`` seconds; runs until cancelled."""
    while True:
        await asyncio.sleep(interval)
        warn_insecure(exposed)
