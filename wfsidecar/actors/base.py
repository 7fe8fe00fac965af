"""The contracts between the actor runtime and the actors it hosts."""

from __future__ import annotations

import enum
from collections.abc import Callable
from typing import TYPE_CHECKING, Protocol, runtime_checkable

from wfsidecar.types import ActorRef

if TYPE_CHECKING:
    from wfsidecar.actors.turn import TurnContext


class ReminderResult(enum.Enum):
    """What a reminder firing asks the runtime to do with the reminder.

    ``DONE`` deletes a one-shot reminder or re-arms a periodic one; ``RETRY`` keeps it and
    fires it again after a capped exponential backoff; ``PARK`` keeps it as it is. The
    outcome commits in the same transaction as the turn's own state changes, so a crash
    cannot separate them.
    """

    DONE = "done"
    RETRY = "retry"
    # Leave the reminder in the store untouched (so a restart fires it again) but do not
    # fire it again in this process until it is re-set or the actor is reset. For work
    # handed to something outside the turn (a worker) whose answer arrives as a later turn.
    PARK = "park"


class Actor(Protocol):
    """One actor instance. The runtime calls it one turn at a time.

    An actor keeps durable data only through the ``TurnContext`` it is handed; anything it
    keeps on ``self`` is a cache that the runtime throws away after a failed turn (the
    runtime builds a fresh instance from the factory), so it never outlives a rollback.
    """

    async def on_invoke(self, ctx: TurnContext, method: str, payload: object) -> object:
        """Handle a call. Raising rolls back every change made through ``ctx``.

        Raising NotFoundError, AlreadyExistsError, FailedPreconditionError or
        InvalidArgumentError before changing anything refuses the request and keeps the
        activation (and whatever it has in flight); any other exception, or one of those
        after ``ctx`` recorded changes, makes the runtime rebuild the actor from the store.
        """
        ...

    async def on_reminder(self, ctx: TurnContext, name: str, data: bytes) -> ReminderResult:
        """Handle a reminder firing. Raising rolls the turn back and counts as RETRY."""
        ...


@runtime_checkable
class Discardable(Protocol):
    """An actor that holds something outside the store (e.g. a work item out with a
    worker) and must let go of it when the runtime throws the instance away after a
    failed turn; the rebuilt instance does not know about it."""

    def on_discard(self) -> None: ...


class ActorHost(Protocol):
    """What actors (and the layers above) may ask of the runtime."""

    async def invoke(self, ref: ActorRef, method: str, payload: object = None) -> object:
        """Run one turn on ``ref`` and return its result.

        Raises:
            NotFoundError: no factory is registered for ``ref.type``.
            ActorCallCycleError: ``ref`` is already in the current call chain (the call
                would deadlock waiting for its own turn).
            ShuttingDownError: the runtime is draining.
            StoreError: the turn's changes could not be committed; nothing was applied.
        """
        ...


ActorFactory = Callable[[ActorRef, ActorHost], Actor]
"""Builds the actor for ``ref``; called on activation and again after a failed turn."""
