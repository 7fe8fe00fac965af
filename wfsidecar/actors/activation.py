"""What the actor runtime keeps per activation, and the turn-related types it shares."""

from __future__ import annotations

import asyncio
import contextvars
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import TypeVar

from wfsidecar.actors.base import Actor
from wfsidecar.actors.turn import TurnContext
from wfsidecar.errors import (
    AlreadyExistsError,
    FailedPreconditionError,
    InvalidArgumentError,
    NotFoundError,
)
from wfsidecar.store.base import Changes
from wfsidecar.types import ActorRef

T = TypeVar("T")

TurnBody = Callable[[Actor, TurnContext], Awaitable[T]]
CommitListener = Callable[[Changes], None]
ResetListener = Callable[[ActorRef], None]
KeepAlive = Callable[[ActorRef], bool]

# Errors an actor raises to refuse a request before touching its state (see runtime.py).
REJECTIONS = (NotFoundError, AlreadyExistsError, FailedPreconditionError, InvalidArgumentError)

# The actors whose turns the current task is inside of. A call back into one of them would
# wait forever for its own lock, so it fails fast instead (Dapr makes this a deadlock
# unless reentrancy is configured).
call_chain: contextvars.ContextVar[tuple[ActorRef, ...]] = contextvars.ContextVar(
    "wfsidecar_actorcall_chain", default=()
)


@dataclass(slots=True, eq=False)
class Activation:
    actor: Actor
    lock: asyncio.Lock = field(default_factory=asyncio.Lock)
    state: dict[str, bytes] | None = None
    # Bumped when another actor's turn writes into this actor; a turn that loaded state
    # under an older generation must not publish its merged view over that write.
    generation: int = 0
    users: int = 0
    last_used: float = 0.0
