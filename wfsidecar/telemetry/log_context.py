"""Which instance and trace a log line belongs to (issue #12 item 4).

Three entry points bind the instance a piece of work is about, for as long as it runs:
the gRPC interceptor and the aiohttp middleware for an RPC (the instance it names, and the
trace context it carries in), and the actor runtime for a turn (the instance its actor
belongs to). The trace id of an instance is remembered when its workflow actor loads or
commits it (publishing.py); a line logged inside a turn or an RPC looks it up by instance.
``logs.JsonFormatter`` writes both onto every line; nothing here holds a payload.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar

_instance: ContextVar[str | None] = ContextVar("wfsidecar_log_instance", default=None)
_trace: ContextVar[str | None] = ContextVar("wfsidecar_log_trace", default=None)

_MAX_REMEMBERED = 10_000
_traces: OrderedDict[str, str] = OrderedDict()  # instance id -> trace id, least recent first


@contextmanager
def bound(instance_id: str | None, trace_id: str | None = None) -> Iterator[None]:
    """Log lines inside the block name ``instance_id`` (and ``trace_id``, else the trace
    remembered for the instance). Nested blocks for another instance take over."""
    instance_token = _instance.set(instance_id or None)
    trace_token = _trace.set(trace_id or None)
    try:
        yield
    finally:
        _trace.reset(trace_token)
        _instance.reset(instance_token)


def remember(instance_id: str, trace_id: str | None) -> None:
    """The trace ``instance_id``'s work belongs to (None: none, or forget it)."""
    if trace_id is None:
        _traces.pop(instance_id, None)
        return
    _traces[instance_id] = trace_id
    _traces.move_to_end(instance_id)
    while len(_traces) > _MAX_REMEMBERED:
        _traces.popitem(last=False)


def current() -> tuple[str | None, str | None]:
    """(instance id, trace id) of the work running now; None where unknown."""
    instance_id = _instance.get()
    trace_id = _trace.get()
    if trace_id is None and instance_id is not None:
        trace_id = _traces.get(instance_id)
    return instance_id, trace_id
