"""Generic actor runtime: turn-based actors with durable state and reminders.

Knows nothing about workflows; the workflow feature is built on top of it.
"""

from wfsidecar.actors.base import Actor, ActorFactory, ActorHost, ReminderResult
from wfsidecar.actors.reminders import ReminderScheduler
from wfsidecar.actors.runtime import ActorRuntime
from wfsidecar.actors.turn import TurnContext

__all__ = [
    "Actor",
    "ActorFactory",
    "ActorHost",
    "ActorRuntime",
    "ReminderResult",
    "ReminderScheduler",
    "TurnContext",
]
