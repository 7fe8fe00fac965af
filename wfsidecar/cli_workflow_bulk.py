"""``wfsidecar workflow purge`` and ``terminate``: by instance id, or in bulk by filter.

Bulk runs as ``dapr workflow purge --all`` reads, with the list filters on top:

1. a dry run on the daemon counts what the filters select and the bytes it holds;
2. ``--dry-run`` stops there; otherwise the operator confirms (``--yes`` skips it);
3. the daemon does the whole job in one call (``POST /v1.0/workflows/dapr/purge``) and
   answers how many it did.

The progress indicator is therefore a pulsing bar with the count and elapsed time, not a
filling one: the daemon reports nothing until it is done. That is chosen over purging id
by id from the client, which would show a filling bar but cost a round trip per instance
and select by a different rule (a client-side page walk) than the dry run that was
confirmed. It is drawn on stderr, and only when stderr is a terminal.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace
from datetime import datetime
from typing import Any

import click
from rich.console import Console
from rich.progress import BarColumn, Progress, SpinnerColumn, TextColumn, TimeElapsedColumn

from wfsidecar.cli_daemon import EXIT_FAILED, fail, talks_to_daemon
from wfsidecar.cli_filters import When, filter_options, parse_statuses
from wfsidecar.cli_output import size
from wfsidecar.client import (
    TERMINAL_STATUSES,
    ApiError,
    BulkResult,
    ListFilter,
    WorkflowClient,
)


def _bulk_options(verb: str, which: str) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    def decorate(func: Callable[..., Any]) -> Callable[..., Any]:
        options: list[Callable[[Callable[..., Any]], Callable[..., Any]]] = [
            click.argument("instance_ids", nargs=-1, metavar="[ID]..."),
            click.option("--all", "all_", is_flag=True,
                         help=f"{verb.capitalize()} every {which} instance the filters select "
                              f"(every one, without filters). Asks first unless --yes."),
            click.option("--all-older-than", type=When(),
                         help=f"{verb.capitalize()} {which} instances created before this "
                              f"time, or this long ago (24h, 7d)."),
            click.option("--all-filter-status", "all_statuses", multiple=True,
                         callback=lambda ctx, param, values: parse_statuses(values),
                         metavar="STATUS", help="dapr's name for --filter-status."),
            filter_options,
            click.option("--yes", "-y", is_flag=True, help="Do not ask for confirmation."),
            click.option("--dry-run", is_flag=True,
                         help=f"Only show how many instances (and bytes) would be {verb}d."),
            talks_to_daemon,
        ]
        for option in reversed(options):
            func = option(func)
        return func

    return decorate


@click.command()
@_bulk_options("purge", "finished")
@click.option("--force", is_flag=True, hidden=True)  # dapr's: no worker is ever needed here
def purge(client: WorkflowClient, instance_ids: tuple[str, ...], **flags: Any) -> None:
    """Delete finished instances (and their children) with all their state.

    Give instance IDs, or --all / --all-older-than with any list filters; unfinished
    instances are never purged (terminate them first).
    """
    flags.pop("force")
    _run(client, "purge", instance_ids, flags, output=None)


@click.command()
@_bulk_options("terminate", "unfinished")
@click.option("--output", "output", metavar="JSON",
              help="The terminated instances' output (dapr's flag; not a display format).")
def terminate(client: WorkflowClient, instance_ids: tuple[str, ...], output: str | None,
              **flags: Any) -> None:
    """Terminate instances (and their children): they stop where they are, TERMINATED.

    Give instance IDs, or --all / --all-older-than with any list filters; finished
    instances are left as they are.
    """
    _run(client, "terminate", instance_ids, flags, output=output)


def _run(client: WorkflowClient, verb: str, ids: tuple[str, ...], flags: dict[str, Any],
         output: str | None) -> None:
    where: ListFilter = flags["where"]
    older: datetime | None = flags["all_older_than"]
    bulk = flags["all_"] or older is not None
    narrowed = not where.empty or bool(flags["all_statuses"])
    if ids and (bulk or narrowed):
        raise click.UsageError("give instance IDs or --all/--all-older-than with filters, "
                               "not both")
    if not ids and not bulk:
        raise click.UsageError(
            f"add --all to {verb} every instance the filters select" if narrowed
            else f"give instance IDs to {verb}, or --all / --all-older-than")
    if ids:
        _each(client, verb, ids, flags["dry_run"], output)
        return
    if older is not None:
        # dapr's --all-older-than compares creation times; it narrows any --created-to.
        cut = older if where.created_to is None else min(older, where.created_to)
        where = replace(where, created_to=cut)
    if flags["all_statuses"]:
        where = replace(where, statuses=tuple(dict.fromkeys(
            (*where.statuses, *flags["all_statuses"]))))
    _bulk(client, verb, where, yes=flags["yes"], dry_run=flags["dry_run"])


def _bulk(client: WorkflowClient, verb: str, where: ListFilter, *, yes: bool,
          dry_run: bool) -> None:
    call = client.bulk_purge if verb == "purge" else client.bulk_terminate
    which = "finished" if verb == "purge" else "unfinished"
    preview = call(where, dry_run=True)
    what = f"{preview.matched} {which} instance(s), {size(preview.stored_bytes)} stored"
    if dry_run:
        click.echo(f"Would {verb} {what}")
        return
    if preview.matched == 0:
        click.echo(f"No {which} workflow instances match: nothing to {verb}")
        return
    if not yes:
        click.confirm(f"{verb.capitalize()} {what}? This cannot be undone", abort=True,
                      err=True)
    doing, past = ("Purging", "purged") if verb == "purge" else ("Terminating", "terminated")
    result = _with_progress(f"{doing} {preview.matched} instance(s)", lambda: call(where))
    click.echo(f"{past.capitalize()} {result.done} of {result.matched} matching workflow "
               f"instance(s) ({size(result.stored_bytes)})")
    if result.done < result.matched:
        fail(EXIT_FAILED, f"{result.matched - result.done} instance(s) were not {past}")


def _with_progress(label: str, job: Callable[[], BulkResult]) -> BulkResult:
    console = Console(stderr=True)
    columns = (SpinnerColumn(), TextColumn("{task.description}"), BarColumn(),
               TimeElapsedColumn())
    with Progress(*columns, console=console, transient=True,
                  disable=not console.is_terminal) as progress:
        task = progress.add_task(label, total=None)  # None: a pulsing, not a filling, bar
        result = job()
        progress.update(task, total=1, completed=1)
    return result


def _each(client: WorkflowClient, verb: str, ids: tuple[str, ...], dry_run: bool,
          output: str | None) -> None:
    """One call per id, in order; a refusal is reported and the rest still go (an
    unreachable daemon stops it all: exit 3 from ``talks_to_daemon``)."""
    failed = 0
    total_bytes = would = 0
    for instance_id in ids:
        try:
            if dry_run:
                found = _lookup(client, instance_id)
                status = found["runtimeStatus"]
                if (status in TERMINAL_STATUSES) != (verb == "purge"):
                    state = "finished" if status in TERMINAL_STATUSES else "not finished"
                    click.echo(f"{instance_id!r} is {status} ({state}): {verb} would refuse "
                               f"or skip it")
                    continue
                would += 1
                total_bytes += int(found.get("storedBytes") or 0)
                click.echo(f"Would {verb} {instance_id!r} ({status}, "
                           f"{size(int(found.get('storedBytes') or 0))})")
            elif verb == "purge":
                client.purge(instance_id)
                click.echo(f"Purged workflow instance {instance_id!r}")
            else:
                client.terminate(instance_id, output)
                click.echo(f"Terminated workflow instance {instance_id!r}")
        except ApiError as exc:
            failed += 1
            click.echo(f"wfsidecar: {instance_id}: {exc} (HTTP {exc.status})", err=True)
    if dry_run:
        click.echo(f"Would {verb} {would} instance(s), {size(total_bytes)} stored")
    if failed:
        raise SystemExit(EXIT_FAILED)


def _lookup(client: WorkflowClient, instance_id: str) -> Any:
    # Sorted by id, the id itself is the first entry of its own prefix if it exists.
    page = client.list(ListFilter(id_prefix=instance_id), sort="id", order="asc",
                       page_size=1)
    if not page.instances or page.instances[0]["instanceID"] != instance_id:
        raise ApiError(404, "ERR_INSTANCE_ID_NOT_FOUND",
                       f"no workflow instance with ID '{instance_id}'")
    return page.instances[0]
