"""The daemon's lifecycle phase, shared by every edge that reports readiness."""

from __future__ import annotations

import enum


class Phase(enum.Enum):
    STARTING = "starting"
    READY = "ready"
    DRAINING = "draining"


class Readiness:
    """Current lifecycle phase; the HTTP health endpoint reads it on every request."""

    def __init__(self) -> None:
        self.phase = Phase.STARTING

    @property
    def ready(self) -> bool:
        return self.phase is Phase.READY
