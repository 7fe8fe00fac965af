"""What every ``wfsidecar workflow`` command shares: where the daemon is, how its errors
become one line and an exit code, and the ``-o`` option.

Exit codes (documented in the README and in ``wfsidecar workflow --help``):

- 0: done;
- 1: the daemon refused the operation (its ``errorCode`` and ``message`` on one line), the
  operator declined a confirmation, or ``watch`` saw the instance end other than COMPLETED;
- 2: usage: a bad flag, value or address (click's own usage errors are 2 as well);
- 3: the daemon is unreachable: nothing listens at ``--address``, or it did not answer.

The commands speak HTTP only (``wfsidecar.client``), never open a database, and need no
worker connected: every verb is served by the daemon's read model and workflow service.
"""

from __future__ import annotations

import functools
import ssl
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any, NoReturn

import click

from wfsidecar.cli_output import FORMAT_ALIASES, FORMATS
from wfsidecar.client import DEFAULT_ADDRESS, ApiError, DaemonUnreachable, WorkflowClient

EXIT_OK = 0
EXIT_FAILED = 1
EXIT_USAGE = 2
EXIT_UNREACHABLE = 3

ADDRESS_ENV = "WFSIDECAR_ADDRESS"


def fail(code: int, message: str) -> NoReturn:
    # One line on stderr, so a script's log shows why without a traceback.
    click.echo("wfsidecar: " + " ".join(message.split()), err=True)
    raise SystemExit(code)


@contextmanager
def daemon_errors() -> Iterator[None]:
    """Turn the client's errors into the exit codes above."""
    try:
        yield
    except DaemonUnreachable as exc:
        fail(EXIT_UNREACHABLE, f"{exc} (is the daemon running? see --address, ${ADDRESS_ENV})")
    except ApiError as exc:
        fail(EXIT_FAILED, f"{exc} (HTTP {exc.status})")


def talks_to_daemon(func: Callable[..., Any]) -> Callable[..., Any]:
    """Give a command ``--address`` and ``--timeout`` and call it with a ``client``."""

    @click.option("--address", envvar=ADDRESS_ENV, show_envvar=True,
                  default=DEFAULT_ADDRESS, show_default=True, metavar="URL",
                  help="The daemon's HTTP API (listeners.http).")
    @click.option("--timeout", type=click.FloatRange(0, min_open=True), default=10.0,
                  show_default=True, metavar="SECONDS",
                  help="How long to wait for each answer (bulk purge/terminate wait "
                       "until the daemon is done).")
    @click.option("--api-token", envvar=["WFSIDECAR_API_TOKEN", "DAPR_API_TOKEN"],
                  show_envvar=True, metavar="TOKEN",
                  help="The token the daemon asks for (docs/security.md); a read-only "
                       "token is enough for list, get, history and count.")
    @click.option("--ca-file", envvar="WFSIDECAR_CA_FILE", show_envvar=True, metavar="PEM",
                  type=click.Path(dir_okay=False, exists=True),
                  help="CA bundle that signed the daemon's TLS certificate (an https "
                       "--address with a private CA).")
    @functools.wraps(func)
    def command(address: str, timeout: float, api_token: str | None, ca_file: str | None,
                **kwargs: Any) -> Any:
        verify: ssl.SSLContext | bool = True
        if ca_file:
            try:
                verify = ssl.create_default_context(cafile=ca_file)
            except (OSError, ssl.SSLError) as exc:
                raise click.BadParameter(str(exc), param_hint="'--ca-file'") from None
        try:
            client = WorkflowClient(address, timeout=timeout, api_token=api_token or None,
                                    verify=verify)
        except ValueError as exc:
            raise click.BadParameter(str(exc), param_hint="'--address'") from None
        with client, daemon_errors():
            return func(client, **kwargs)

    return command


def output_option(func: Callable[..., Any]) -> Callable[..., Any]:
    """``-o/--output table|wide|json|yaml`` (``short`` is accepted as dapr's ``table``)."""

    def normalize(ctx: click.Context, param: click.Parameter, value: str) -> str:
        value = value.lower()
        return FORMAT_ALIASES.get(value, value)

    return click.option(
        "--output", "-o", "fmt", default="table", show_default=True,
        type=click.Choice([*FORMATS, *FORMAT_ALIASES], case_sensitive=False),
        callback=normalize, help="table for people (long cells cut), wide (more columns, "
                                 "nothing cut), json or yaml (the API's objects).")(func)
