"""The daemon's lifecycle phase and any fault that keeps it from serving, shared by every
edge that reports readiness."""

from __future__ import annotations

import enum
from collections.abc import Callable


class Phase(enum.Enum):
    STARTING = "starting"
    READY = "ready"
    DRAINING = "draining"


FaultSource = Callable[[], str | None]


class Readiness:
    """Current lifecycle phase plus fault sources; health endpoints read it per request.

    A fault (e.g. the store cannot write: disk full, read-only) makes the daemon not ready
    while it lasts; the source clears it itself once the fault is gone, so readiness comes
    back without a restart.
    """

    def __init__(self) -> None:
        self.phase = Phase.STARTING
        self._fault_sources: list[FaultSource] = []

    def add_fault_source(self, source: FaultSource) -> None:
        """``source()`` returns why the daemon cannot serve right now, or None."""
        self._fault_sources.append(source)

    @property
    def fault(self) -> str | None:
        for source in self._fault_sources:
            reason = source()
            if reason is not None:
                return reason
        return None

    @property
    def ready(self) -> bool:
        return self.phase is Phase.READY and self.fault is None

    def describe(self) -> str:
        """Why the daemon is not ready, in words for a health response."""
        fault = self.fault
        if self.phase is Phase.READY and fault is not None:
            return f"wfsidecar cannot serve: {fault}"
        return f"wfsidecar is {self.phase.value}"
