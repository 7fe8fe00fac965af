"""Command-line entry point: ``wfsidecar run | health | config check|show | version |
workflow ...`` (the last in ``wfsidecar.cli_workflow``).

This and the ``cli_*`` modules are the only ones that handle signals and choose exit codes;
library code raises ``ConfigError``/``StartupError`` instead (style.md §3.1 rule 4, §3.7,
§3.17).

Exit codes of ``wfsidecar run``:

- 0: clean stop (SIGTERM or SIGINT, drain finished);
- 1: unexpected fatal error (logged once with its traceback), or a forced stop by a second
  signal that skipped the drain;
- 2: usage or configuration error (one line on stderr);
- 3: start-up failure such as a port in use or a locked database (one line on stderr).

``wfsidecar health`` exits 0 when ``/v1.0/healthz`` answers 204 and 1 otherwise;
``config check`` and ``config show`` exit 2 on a configuration error.
"""

from __future__ import annotations

import asyncio
import logging
import os
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any, NoReturn, get_args

import click
import yaml

from wfsidecar import __version__
from wfsidecar.cli_probe import probe, probe_tls
from wfsidecar.cli_signals import ShutdownSignals, loop_factory
from wfsidecar.config import Config, LogLevel, load, mask_secrets
from wfsidecar.errors import ConfigError, StartupError

logger = logging.getLogger(__name__)

EXIT_OK = 0
EXIT_FATAL = 1
EXIT_USAGE = 2
EXIT_STARTUP = 3

_PORT = click.IntRange(0, 65535)
# CLI flag (click parameter name) → dotted config key. Only flags the user typed become
# overrides, so a flag's absence never hides a file or environment value (style.md §3.9).
_FLAG_KEYS = {
    "db": "store.sqlite.path",
    "postgres_dsn": "store.postgres.dsn",
    "dapr_grpc_port": "listeners.dapr_grpc.port",
    "durabletask_grpc_port": "listeners.durabletask_grpc.port",
    "http_port": "listeners.http.port",
    "metrics_port": "metrics.port",
    "ready_file": "listeners.ready_file",
    "log_level": "logging.level",
    "api_token_file": "security.api_token_file",
    "read_token_file": "security.read_token_file",
    "worker_token_file": "security.worker_token_file",
    "insecure": "security.insecure",
    "tls_cert_file": "security.tls.cert_file",
    "tls_key_file": "security.tls.key_file",
    "tls_client_ca_file": "security.tls.client_ca_file",
}


def _config_option(func: Callable[..., Any]) -> Callable[..., Any]:
    return click.option(
        "--config",
        "config_file",
        type=click.Path(path_type=Path),
        envvar="WFSIDECAR_CONFIG",
        show_envvar=True,
        help="YAML config file (default: none, built-in defaults).",
    )(func)


def _override_options(func: Callable[..., Any]) -> Callable[..., Any]:
    options = [
        click.option("--db", metavar="PATH", help="SQLite database file (store.sqlite.path)."),
        click.option("--postgres-dsn", metavar="DSN",
                     help="PostgreSQL connection string (store.postgres.dsn); use it with "
                          "store.backend postgres."),
        click.option(
            "--dapr-grpc-port", type=_PORT, metavar="PORT", help="listeners.dapr_grpc.port."
        ),
        click.option(
            "--durabletask-grpc-port",
            type=_PORT,
            metavar="PORT",
            help="listeners.durabletask_grpc.port.",
        ),
        click.option("--http-port", type=_PORT, metavar="PORT", help="listeners.http.port."),
        click.option("--metrics-port", type=_PORT, metavar="PORT",
                     help="metrics.port; also turns metrics on (metrics.enabled)."),
        click.option(
            "--ready-file", metavar="PATH", help="Write the bound ports here as JSON once ready."
        ),
        click.option(
            "--log-level",
            type=click.Choice(get_args(LogLevel), case_sensitive=False),
            help="logging.level.",
        ),
        click.option("--api-token-file", metavar="PATH",
                     help="Admin tokens, one per line, re-read on change "
                          "(security.api_token_file)."),
        click.option("--read-token-file", metavar="PATH",
                     help="Read-only tokens (security.read_token_file)."),
        click.option("--worker-token-file", metavar="PATH",
                     help="Worker tokens (security.worker_token_file)."),
        click.option("--insecure", is_flag=True, default=None,
                     help="Listen beyond loopback without a token (security.insecure)."),
        click.option("--tls-cert-file", metavar="PATH", help="security.tls.cert_file."),
        click.option("--tls-key-file", metavar="PATH", help="security.tls.key_file."),
        click.option("--tls-client-ca-file", metavar="PATH",
                     help="Require client certificates from these CAs "
                          "(security.tls.client_ca_file)."),
    ]
    for option in reversed(options):
        func = option(func)
    return func


def _fail(code: int, message: str) -> NoReturn:
    # One line, so container logs and shell scripts show the reason without a traceback.
    click.echo("wfsidecar: " + " ".join(message.split()), err=True)
    raise SystemExit(code)


def _load(config_file: Path | None, flags: Mapping[str, object]) -> Config:
    overrides = {_FLAG_KEYS.get(k, k): v for k, v in flags.items() if v is not None}
    if flags.get("metrics_port") is not None:
        overrides["metrics.enabled"] = True  # a port to scrape is asked for: serve it
    try:
        return load(config_file, env=os.environ, overrides=overrides)
    except ConfigError as exc:
        _fail(EXIT_USAGE, f"config error: {exc}")


class _Commands(click.Group):
    """Loads ``workflow`` only when it is asked for: ``health`` runs as a container's
    health check and ``run`` at every start, and neither needs the HTTP client, tables and
    progress bars behind it (about 70 ms of imports)."""

    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted([*super().list_commands(ctx), "workflow", "cluster"])

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        if cmd_name == "workflow":
            from wfsidecar.cli_workflow import workflow_group

            return workflow_group
        if cmd_name == "cluster":
            from wfsidecar.cli_cluster import cluster_group

            return cluster_group
        return super().get_command(ctx, cmd_name)


@click.group(cls=_Commands)
def main() -> None:
    """wfsidecar: durable workflows next to your application."""


@main.command()
@_config_option
@_override_options
def run(config_file: Path | None, **flags: object) -> None:
    """Run the daemon until SIGTERM or SIGINT (a second signal stops without draining).

    Settings come from built-in defaults < --config file < WFSIDECAR_* environment < flags.

    \b
    Exit codes:
      0  clean stop
      1  unexpected fatal error (logged with traceback), or forced stop by a second signal
      2  usage or configuration error
      3  start-up failure (port in use, database locked, schema too new)
    """
    config = _load(config_file, flags)
    # Imported here so `config` and `health` stay fast and work without the server stack.
    from wfsidecar.app import App

    signals = ShutdownSignals()

    async def serve() -> None:
        signals.install(asyncio.get_running_loop())
        try:
            await App(config).serve(signals.wait)
        finally:
            signals.remove()

    try:
        with asyncio.Runner(loop_factory=loop_factory(config.lifecycle.uvloop)) as runner:
            runner.run(serve())
    except ConfigError as exc:
        _fail(EXIT_USAGE, f"config error: {exc}")
    except StartupError as exc:
        _fail(EXIT_STARTUP, f"startup failed: {exc}")
    except asyncio.CancelledError:
        if not signals.forced:
            logger.critical("wfsidecar stopped: main task cancelled unexpectedly", exc_info=True)
        raise SystemExit(EXIT_FATAL) from None
    except Exception:
        logger.critical("wfsidecar stopped by an unexpected error", exc_info=True)
        raise SystemExit(EXIT_FATAL) from None
    if signals.forced:
        raise SystemExit(EXIT_FATAL)


@main.command()
@_config_option
@click.option("--host", help="Host to ask (default: listeners.http.host).")
@click.option(
    "--http-port", type=_PORT, metavar="PORT", help="Port to ask (default: listeners.http.port)."
)
@click.option(
    "--timeout",
    type=click.FloatRange(0, min_open=True),
    default=5.0,
    show_default=True,
    help="Seconds to wait for the answer.",
)
def health(
    config_file: Path | None, host: str | None, http_port: int | None, timeout: float
) -> None:
    """Exit 0 if GET /v1.0/healthz answers 204, else 1 (for container health checks).

    The address comes from the same configuration `run` uses (file, environment), so a bare
    `wfsidecar health` checks the daemon's own HTTP listener.
    """
    flags = {"listeners.http.host": host, "listeners.http.port": http_port}
    config = _load(config_file, flags)
    listener = config.listeners.http
    try:
        tls = probe_tls(config)
    except click.ClickException as exc:
        _fail(EXIT_FATAL, exc.message)
    healthy, message = probe(listener.host, listener.port, timeout, tls)
    if not healthy:
        _fail(EXIT_FATAL, message)
    click.echo(message)


@main.group(name="config")
def config_group() -> None:
    """Validate or print the configuration."""


@config_group.command()
@_config_option
def check(config_file: Path | None) -> None:
    """Validate the file and WFSIDECAR_* environment; print `config ok` or the error (exit 2).

    Also refuses what `run` would: a listener beyond loopback with no token (docs/security.md).
    """
    config = _load(config_file, {})
    from wfsidecar.security import exposure
    from wfsidecar.security.tokens import Credentials

    try:
        exposure.check(config, Credentials(config.security).enabled)
    except ConfigError as exc:
        _fail(EXIT_USAGE, f"config error: {exc}")
    click.echo("config ok")


@config_group.command()
@_config_option
@_override_options
def show(config_file: Path | None, **flags: object) -> None:
    """Print the effective configuration (takes the same flags as `run`) as YAML.

    Secrets are shown as "***".
    """
    config = _load(config_file, flags)
    click.echo(yaml.safe_dump(mask_secrets(config), sort_keys=False), nl=False)


@main.command()
def version() -> None:
    """Print the wfsidecar version."""
    click.echo(__version__)
