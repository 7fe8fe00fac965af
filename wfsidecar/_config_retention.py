"""The ``retention:`` section: how long finished workflows are kept (issue #13 item 5).

Its four limits use the keys of Dapr's ``stateRetentionPolicy`` (Dapr 1.17, dapr/dapr#9185)
exactly as Dapr spells them, so a policy can be copied from a Dapr Configuration; the
sweeper's own knobs use this file's snake_case. ``wfsidecar.config`` re-exports it.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated

from wfsidecar._config_values import DURATION, Range

_Limit = Annotated[float | None, DURATION, Range(0, None)]


@dataclass(frozen=True, slots=True)
class RetentionConfig:
    """Purging finished workflow instances after a time, and giving the space back."""

    anyTerminal: _Limit = None  # noqa: N815 (Dapr's key)
    """Keep a finished instance (completed, failed or terminated) this long after it
    finished, then purge it with its children; a status's own key below wins over this.
    Unset (and no status key): instances are kept until purged by hand. Unlike Dapr's
    policy this applies to instances that finished before it was set (dapr/docs#5074)."""
    completed: _Limit = None
    """Retention of COMPLETED instances; unset: ``anyTerminal``."""
    failed: _Limit = None
    """Retention of FAILED instances; unset: ``anyTerminal``."""
    terminated: _Limit = None
    """Retention of TERMINATED instances; unset: ``anyTerminal``."""
    sweep_interval: Annotated[float, DURATION, Range(0.01, None)] = 60.0
    """How often the sweeper looks for expired instances, packs finished instances of an
    upgraded database file and gives free pages back to the file system."""
    batch_size: Annotated[int, Range(1, 10_000)] = 100
    """Instances purged per batch; the sweeper yields to live work between batches and
    purges one instance at a time, so a backlog never stalls turns."""
    archive_path: str | None = None
    """If set, a JSON Lines file each purged instance is appended to first (its summary
    and its whole history, one line per instance), fsynced before the purge."""
    vacuum_pages: Annotated[int, Range(0, None)] = 2048
    """Most free database pages given back to the file system per sweep (SQLite
    incremental vacuum; 4 KiB each). 0: the file never shrinks by itself."""
