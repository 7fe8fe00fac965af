"""``wfsidecar workflow ...``: the operator's verbs, mirroring ``dapr workflow``.

``list``, ``get``, ``history``, ``run``, ``raise-event``, ``suspend``, ``resume``,
``terminate``, ``purge`` and ``rerun`` take dapr's flags; ``count``, ``watch`` and
``export`` are ours. Every verb is one or a few calls to the daemon's HTTP API through
``wfsidecar.client`` (exit codes in ``wfsidecar.cli_daemon``).
"""

from __future__ import annotations

import json
import time
from datetime import datetime
from pathlib import Path
from typing import Any

import click

from wfsidecar.cli_daemon import EXIT_FAILED, output_option, talks_to_daemon
from wfsidecar.cli_filters import Later, filter_options
from wfsidecar.cli_output import emit, history_table, instances_table, metadata_table
from wfsidecar.cli_workflow_bulk import purge, terminate
from wfsidecar.cli_workflow_storage import storage
from wfsidecar.client import SORT_KEYS, TERMINAL_STATUSES, ListFilter, WorkflowClient


@click.group(name="workflow")
def workflow_group() -> None:
    """Manage workflow instances through a running daemon's HTTP API.

    The daemon is at --address (or $WFSIDECAR_ADDRESS, default http://127.0.0.1:3500).
    No worker needs to be connected and the database is never opened directly.

    \b
    Exit codes:
      0  done
      1  the daemon refused (its errorCode and message are printed), or declined
      2  usage error
      3  daemon unreachable
    """


workflow_group.add_command(purge)
workflow_group.add_command(terminate)
workflow_group.add_command(storage)


@workflow_group.command(name="list")
@filter_options
@click.option("--limit", "-l", type=click.IntRange(0), default=100, show_default=True,
              help="Show at most this many (0: all of them, a page at a time).")
@click.option("--sort", type=click.Choice(SORT_KEYS), default="created", show_default=True)
@click.option("--order", type=click.Choice(("desc", "asc")), default="desc",
              show_default=True, help="desc lists the newest first.")
@output_option
@talks_to_daemon
def list_instances(client: WorkflowClient, where: ListFilter, limit: int, sort: str,
                   order: str, fmt: str) -> None:
    """List workflow instances (newest first), filtered as the flags say."""
    page_size = 500 if limit == 0 else min(limit, 500)
    first = client.list(where, sort=sort, order=order, page_size=page_size, count=True)
    instances = list(first.instances[: limit or None])
    cursor = first.next_cursor
    while cursor and (limit == 0 or len(instances) < limit):
        size = page_size if limit == 0 else min(page_size, limit - len(instances))
        page = client.list(where, sort=sort, order=order, page_size=size, cursor=cursor)
        instances.extend(page.instances)
        cursor = page.next_cursor if page.instances else None
    if fmt in ("json", "yaml"):
        emit(instances, fmt, lambda wide: "")
        return
    if not instances:
        click.echo("No workflow instances found.", err=True)
        return
    emit(instances, fmt, lambda wide: instances_table(instances, wide))
    total = first.count
    if total is not None and total > len(instances):
        click.echo(f"(showing {len(instances)} of {total}; --limit 0 lists all)", err=True)


@workflow_group.command()
@filter_options
@output_option
@talks_to_daemon
def count(client: WorkflowClient, where: ListFilter, fmt: str) -> None:
    """Count the workflow instances the filters select."""
    total = client.count(where)
    emit({"count": total}, fmt, lambda wide: str(total))


@workflow_group.command()
@click.argument("instance_id")
@output_option
@talks_to_daemon
def get(client: WorkflowClient, instance_id: str, fmt: str) -> None:
    """Show one instance: status, times, input, output, custom status, failure."""
    meta = client.get(instance_id)
    emit(meta, fmt, lambda wide: metadata_table(meta, wide))


@workflow_group.command()
@click.argument("instance_id")
@output_option
@talks_to_daemon
def history(client: WorkflowClient, instance_id: str, fmt: str) -> None:
    """Show an instance's history events, oldest first."""
    events = client.history(instance_id)["events"]
    emit(events, fmt, lambda wide: history_table(events, wide))


@workflow_group.command()
@click.argument("instance_id")
@click.option("--file", "-f", "path", type=click.Path(dir_okay=False, path_type=Path),
              help="Write here instead of to stdout.")
@talks_to_daemon
def export(client: WorkflowClient, instance_id: str, path: Path | None) -> None:
    """Write an instance's whole history as JSON (the API's history document)."""
    document = client.history(instance_id)
    text = json.dumps(document, indent=2, ensure_ascii=False) + "\n"
    if path is None:
        click.echo(text, nl=False)
        return
    path.write_text(text, encoding="utf-8")
    click.echo(f"wrote {len(document['events'])} events of {instance_id!r} to {path}",
               err=True)


@workflow_group.command()
@click.argument("instance_id")
@click.option("--interval", type=click.FloatRange(0, min_open=True), default=1.0,
              show_default=True, metavar="SECONDS", help="How often to ask.")
@output_option
@talks_to_daemon
def watch(client: WorkflowClient, instance_id: str, interval: float, fmt: str) -> None:
    """Follow an instance until it ends, printing each change of status.

    Exits 0 if it COMPLETED and 1 if it ended otherwise (FAILED, TERMINATED, ...) or
    disappeared. json and yaml print each new state as the API's object.
    """
    seen: tuple[str, str] | None = None
    while True:
        meta = client.get(instance_id)
        props = meta.get("properties") or {}
        status = meta["runtimeStatus"]
        state = (status, props.get("dapr.workflow.custom_status", ""))
        if state != seen:
            seen = state
            if fmt == "json":
                click.echo(json.dumps(meta, ensure_ascii=False))
            elif fmt == "yaml":
                emit([meta], fmt, lambda wide: "")
            else:
                line = f"{time.strftime('%H:%M:%S')}  {status}"
                if state[1]:
                    line += f"  custom status: {' '.join(state[1].split())}"
                click.echo(line)
        if status in TERMINAL_STATUSES:
            break
        time.sleep(interval)
    if status != "COMPLETED":
        failure = props.get("dapr.workflow.failure.error_message")
        reason = f": {' '.join(failure.split())}" if failure else ""
        click.echo(f"wfsidecar: {instance_id} ended {status}{reason}", err=True)
        raise SystemExit(EXIT_FAILED)


@workflow_group.command()
@click.argument("name")
@click.option("--instance-id", "-i", help="The new instance's id (default: a random UUID).")
@click.option("--input", "-x", "input_", metavar="JSON", help="The input, passed through "
                                                                "as given (usually JSON).")
@click.option("--start-time", "-s", type=Later(), metavar="WHEN",
              help="Run not before WHEN: an RFC 3339 time or a duration from now (90s, 2h).")
@output_option
@talks_to_daemon
def run(client: WorkflowClient, name: str, instance_id: str | None, input_: str | None,
        start_time: datetime | None, fmt: str) -> None:
    """Start a new instance of workflow NAME (a worker runs it when it connects)."""
    started = client.start(name, input_, instance_id=instance_id, start_time_ms=(
        int(start_time.timestamp() * 1000) if start_time is not None else None))
    emit({"instanceID": started}, fmt,
         lambda wide: f"Workflow instance started: {started}")


@workflow_group.command(name="raise-event")
@click.argument("target", metavar="ID/EVENT")
@click.argument("event", required=False)
@click.option("--input", "-x", "input_", metavar="JSON", help="The event's data, as given.")
@talks_to_daemon
def raise_event(client: WorkflowClient, target: str, event: str | None,
                input_: str | None) -> None:
    """Raise EVENT on instance ID: `raise-event ID/EVENT` (as dapr) or `raise-event ID EVENT`."""
    if event is None:
        instance_id, slash, event = target.rpartition("/")
        if not slash or not instance_id or not event:
            raise click.BadParameter("expected ID/EVENT (or ID EVENT)", param_hint="ID/EVENT")
    else:
        instance_id = target
    client.raise_event(instance_id, event, input_)
    click.echo(f"Event {event!r} raised on workflow instance {instance_id!r}")


def _reason_command(verb: str, done: str, doc: str) -> Any:
    @workflow_group.command(name=verb, help=doc)
    @click.argument("instance_id")
    @click.option("--reason", "-r", help="Recorded with the instance's history.")
    @talks_to_daemon
    def command(client: WorkflowClient, instance_id: str, reason: str | None) -> None:
        getattr(client, verb)(instance_id, reason)
        click.echo(f"Workflow instance {instance_id!r} {done}")

    return command


suspend = _reason_command("suspend", "suspended",
                          "Suspend an instance: it keeps its events and runs no more turns "
                          "until resumed.")
resume = _reason_command("resume", "resumed", "Resume a suspended instance.")


@workflow_group.command()
@click.argument("instance_id")
@click.option("--event-id", "-e", type=click.IntRange(0), required=True,
              help="Rerun from this history event (see `history`).")
@click.option("--new-instance-id", help="The copy's id (default: a random UUID).")
@click.option("--input", "-x", "input_", metavar="JSON",
              help="New input for the rerun event (JSON; other text is sent as a string).")
@talks_to_daemon
def rerun(client: WorkflowClient, instance_id: str, event_id: int,
          new_instance_id: str | None, input_: str | None) -> None:
    """Start a copy of a finished instance from one of its events."""
    kwargs: dict[str, Any] = {"new_instance_id": new_instance_id}
    if input_ is not None:
        try:
            kwargs["input"] = json.loads(input_)
        except ValueError:
            kwargs["input"] = input_
    copy = client.rerun(instance_id, event_id, **kwargs)
    click.echo(f"Workflow instance {instance_id!r} rerun from event {event_id} as {copy}")
