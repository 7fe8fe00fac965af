"""The two wire dialects and how each maps onto the internal model.

Dapr and Microsoft SDKs dial the same method paths but give some field numbers different
meanings (protocol.md §2), so a listener serves exactly one dialect. The internal model
(``wfsidecar._proto.internal``) keeps every Dapr field at its Dapr number, so a Dapr
message and its internal twin are the same bytes; Microsoft messages go through the
name-based mapping of ``transcode.py``, applied to their bytes (``wire_transcode.py``).
"""

from __future__ import annotations

from dataclasses import dataclass
from types import ModuleType
from typing import Any, TypeVar

from google.protobuf import message

from wfsidecar._proto.dapr import orchestrator_service_pb2 as dapr_pb
from wfsidecar._proto.internal import orchestrator_service_pb2 as internal_pb
from wfsidecar._proto.ms import orchestrator_service_pb2 as ms_pb
from wfsidecar.engine import RuntimeStatus
from wfsidecar.errors import InvalidArgumentError
from wfsidecar.server import wire_transcode

M = TypeVar("M", bound=message.Message)


def reinterpret(msg: message.Message, cls: type[M]) -> M:
    """The same bytes read as ``cls`` (Dapr and internal share every Dapr field number).

    If that fails, the sender set numbers its own message does not define (kept as unknown
    fields) with a wire type the internal model reads differently; a Dapr client has no
    business setting them, so they are dropped (found by tests/fuzz).

    Raises:
        InvalidArgumentError: the message cannot be read even then.
    """
    try:
        return cls.FromString(msg.SerializeToString())
    except message.DecodeError:
        clean = type(msg)()
        clean.CopyFrom(msg)
        clean.DiscardUnknownFields()
        try:
            return cls.FromString(clean.SerializeToString())
        except message.DecodeError as exc:
            raise InvalidArgumentError(
                f"{msg.DESCRIPTOR.name} cannot be read: {exc}") from exc


@dataclass(frozen=True)
class Dialect:
    name: str
    wire: ModuleType
    transcoded: bool
    # Statuses this dialect's SDKs can parse; others are shown as the nearest one
    # (never send STALLED to a Microsoft client: OrchestrationStatus(8) raises there).
    max_status: int

    def to_internal(self, msg: message.Message, cls: type[M]) -> M:
        if self.transcoded:
            return wire_transcode.to_internal(msg, cls)
        return reinterpret(msg, cls)

    def to_wire(self, msg: message.Message, cls: type[M]) -> M:
        if self.transcoded:
            return wire_transcode.to_dialect(msg, cls)
        return reinterpret(msg, cls)

    def wire_bytes(self, name: str, data: bytes) -> bytes:
        """``data``, a serialized internal ``name`` message, as this dialect's ``name``."""
        if not self.transcoded:
            return data  # the same bytes (module docstring)
        return wire_transcode.transcode_bytes(
            data, getattr(internal_pb, name).DESCRIPTOR, getattr(self.wire, name).DESCRIPTOR)

    def status(self, status: RuntimeStatus) -> int:
        if int(status) > self.max_status:
            return int(RuntimeStatus.RUNNING)  # STALLED: still running, needs attention
        return int(status)

    def msg(self, name: str) -> Any:
        """The wire message class called ``name`` in this dialect."""
        return getattr(self.wire, name)


DAPR = Dialect("dapr", dapr_pb, transcoded=False, max_status=int(RuntimeStatus.STALLED))
MICROSOFT = Dialect("ms", ms_pb, transcoded=True, max_status=int(RuntimeStatus.SUSPENDED))
