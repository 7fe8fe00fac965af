"""The one exception hierarchy of wfsidecar.

Domain words only: no gRPC or HTTP imports here. The edges map these classes to wire
statuses in exactly one table each (``server/status.py``, ``http/status.py``).
"""

from __future__ import annotations


class WfSidecarError(Exception):
    """Base class of every error wfsidecar raises on purpose."""


class NotFoundError(WfSidecarError):
    """The named instance, actor or record does not exist."""


class AlreadyExistsError(WfSidecarError):
    """A create request collided with an existing, still active record."""


class FailedPreconditionError(WfSidecarError):
    """The request is valid but the target is in the wrong state for it."""


class InvalidArgumentError(WfSidecarError):
    """The request itself is malformed (bad id, missing name, bad filter)."""


class ShuttingDownError(WfSidecarError):
    """The daemon is draining and accepts no new work."""


class LimitExceededError(WfSidecarError):
    """A configured limit was reached (the message names its config key)."""


class StoreError(WfSidecarError):
    """The state store failed to load or commit."""


class StoreConflictError(StoreError):
    """A conditional write lost a race (etag mismatch, lease lost)."""


class StoreUnavailable(StoreError):
    """The store cannot serve requests right now (disk full, read-only, connection lost)."""


class StoreLockedError(StoreError):
    """Another daemon already owns this database file."""

    def __init__(self, path: str) -> None:
        super().__init__(f"database {path} is in use by another wfsidecar process")
        self.path = path


class SchemaTooNewError(StoreError):
    """The database was written by a newer wfsidecar with a schema this build cannot read."""

    def __init__(self, path: str, found: int, supported: int) -> None:
        super().__init__(
            f"database {path} has schema version {found}, newer than the {supported} "
            "this wfsidecar supports; upgrade wfsidecar"
        )
        self.path = path
        self.found = found
        self.supported = supported


class ActorCallCycleError(WfSidecarError):
    """An actor call would re-enter an actor already in the current call chain."""


class ConfigError(WfSidecarError):
    """The configuration is invalid; ``path`` names the offending dotted key."""

    def __init__(self, path: str, message: str) -> None:
        super().__init__(f"{path}: {message}" if path else message)
        self.path = path


class StartupError(WfSidecarError):
    """The daemon could not start (port taken, database locked, schema too new)."""
