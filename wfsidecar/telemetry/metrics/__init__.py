"""Prometheus metrics: an observer of the telemetry seam, and the listener that serves it.

``MetricsObserver`` counts what the seam (observer.py) reports, on the event loop, in plain
dicts: Dapr's workflow metrics under Dapr's names, label keys, units (milliseconds) and
default buckets (dapr/dapr ``pkg/diagnostics/workflow_monitoring.go`` and the default
latency distribution of ``pkg/config``), so that Dapr's dashboards and alerts read this
daemon unchanged, and the daemon's own under ``wfsidecar_``. Gauges of the daemon's state
(work queues, reminders, actors, the database, instances by status) are read when scraped,
through the read-only accessors the composition root hands in (``Sources``).

``MetricsListener`` serves ``GET /metrics`` with aiohttp on the event loop (style.md §3.17:
no admin server in a thread), so a scrape reads every value on the thread that writes it:
nothing is shared with another thread and nothing needs a lock. Only the process metrics
(``process_*``, ``python_*``, read from /proc) are gathered off the loop.

Every metric, its labels and what it means: docs/observability.md. Only the composition
root imports this module (an import-linter contract keeps the lower layers out).
"""

from wfsidecar.telemetry.metrics._gauges import Readings, Sources
from wfsidecar.telemetry.metrics._listener import MetricsListener
from wfsidecar.telemetry.metrics._observer import MetricsObserver

__all__ = ["MetricsListener", "MetricsObserver", "Readings", "Sources"]
