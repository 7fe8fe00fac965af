"""Identifier types shared by every layer."""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import NewType

from wfsidecar.errors import InvalidArgumentError

InstanceID = NewType("InstanceID", str)
ActorType = NewType("ActorType", str)

MAX_INSTANCE_ID_LENGTH = 64
_INSTANCE_ID_RE = re.compile(r"[A-Za-z0-9_-]+")


@dataclass(frozen=True, slots=True, order=True)
class ActorRef:
    """Address of one actor: its registered type and its id within that type."""

    type: str
    id: str

    def __str__(self) -> str:
        return f"{self.type}/{self.id}"


def validate_instance_id(value: str) -> InstanceID:
    """Return ``value`` as an InstanceID or raise InvalidArgumentError saying why not."""
    if not value:
        raise InvalidArgumentError("instance id must not be empty")
    if len(value) > MAX_INSTANCE_ID_LENGTH:
        raise InvalidArgumentError(
            f"instance id is {len(value)} characters long; the limit is {MAX_INSTANCE_ID_LENGTH}"
        )
    if not _INSTANCE_ID_RE.fullmatch(value):
        raise InvalidArgumentError(
            f"instance id {value!r} may contain only letters, digits, '_' and '-'"
        )
    return InstanceID(value)
