"""A Python client of the daemon's HTTP workflow API (docs/http-api.md).

It speaks HTTP only and imports nothing of the daemon, so the CLI, tests and benchmarks
can drive any daemon they can reach, local or not, without opening its database.
"""

from wfsidecar.client.errors import ApiError, ClientError, DaemonUnreachable
from wfsidecar.client.http_client import DEFAULT_ADDRESS, WorkflowClient
from wfsidecar.client.wire import (
    SORT_KEYS,
    STATUSES,
    TERMINAL_STATUSES,
    BulkResult,
    History,
    InstanceMetadata,
    InstancePage,
    InstanceSummary,
    ListFilter,
)

__all__ = [
    "DEFAULT_ADDRESS",
    "SORT_KEYS",
    "STATUSES",
    "TERMINAL_STATUSES",
    "ApiError",
    "BulkResult",
    "ClientError",
    "DaemonUnreachable",
    "History",
    "InstanceMetadata",
    "InstancePage",
    "InstanceSummary",
    "ListFilter",
    "WorkflowClient",
]
