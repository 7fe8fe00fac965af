"""An OrchestratorRequest assembled from bytes: the turn's head plus the framed past events.

A request is mostly its past, and the past only grows: serializing or copying every past
event into a new message each turn made the daemon's cost per turn grow with the history.
Protobuf messages are concatenations of fields, so the actor keeps each history event's
bytes framed as a ``pastEvents`` entry (field 3) once, and a request is the head (the
request without its past) followed by the entries it carries — all of them, or with
stateful history (history_marks.py) only those after the ones the worker holds, plus
``cachedHistory`` (field 9) saying how many that is.
"""

from __future__ import annotations

from collections.abc import Sequence

_PAST_EVENTS = 3  # OrchestratorRequest.pastEvents
_CACHED_HISTORY = 9  # OrchestratorRequest.cachedHistory (Dapr 1.19)
_EVENT_COUNT = 1  # CachedHistory.eventCount


def varint(value: int) -> bytes:
    """``value`` as a protobuf varint (a negative one as its ten-byte two's complement)."""
    value &= (1 << 64) - 1
    out = bytearray()
    while value > 0x7F:
        out.append(value & 0x7F | 0x80)
        value >>= 7
    out.append(value)
    return bytes(out)


def delimited(number: int, data: bytes) -> bytes:
    """Field ``number`` holding ``data`` (a message, string or bytes) on the wire."""
    return varint(number << 3 | 2) + varint(len(data)) + data


def past_event(raw: bytes) -> bytes:
    """A serialized HistoryEvent framed as one ``pastEvents`` entry."""
    return delimited(_PAST_EVENTS, raw)


def request_bytes(head: bytes, past: Sequence[bytes], past_len: int, cached: int = 0) -> bytes:
    """The request: ``head`` with entries ``cached`` up to ``past_len`` of ``past``, and,
    when ``cached``, the count the worker holds."""
    parts = [head, *past[cached:past_len]]
    if cached:
        parts.append(delimited(_CACHED_HISTORY, varint(_EVENT_COUNT << 3) + varint(cached)))
    return b"".join(parts)
