"""What the chaos load runs, and what each workflow must end with.

The harness starts workflow ``i`` as kind ``kinds[i % len(kinds)]`` with input ``i`` (``KINDS``
for the Dapr SDK, ``KINDS_MS`` adds an entity workflow for the Microsoft SDKs); the
kind says what the harness does to it while it runs (raise an event, suspend and resume,
terminate, purge after completion) and what must hold afterwards: final status and
output, and which activity executions the worker must have logged (``chaos_app.py`` runs
the bodies; the two files describe the same workflows and change together).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from enum import Enum


class Drive(Enum):
    """What the harness does to an instance after starting it."""

    NOTHING = "nothing"
    RAISE = "raise"  # raise "go" with a payload, at a random moment (even before it runs)
    SUSPEND = "suspend"  # suspend, raise "go" while suspended, check it waits, resume
    TERMINATE = "terminate"  # terminate while it waits for an event nobody raises
    PURGE = "purge"  # purge once completed; nothing of it may remain in the store


@dataclass(frozen=True, slots=True)
class Expected:
    status: str  # OrchestrationStatus name without the prefix, e.g. "COMPLETED"
    output: object  # JSON value, None when the output must be absent
    # (instance id, activity input as JSON) lines the activity log must hold at least once
    activities: tuple[tuple[str, str], ...]
    # further instances it creates, with their own expectations (child workflows)
    children: tuple[tuple[str, Expected], ...] = ()
    # (entity id, JSON state) each entity it uses must end with
    entities: tuple[tuple[str, object], ...] = ()


@dataclass(frozen=True, slots=True)
class Kind:
    workflow: str
    drive: Drive

    def input(self, n: int) -> object:
        return [n, 0] if self.workflow == "relay" else n

    def payload(self, n: int) -> int:
        """The "go" event's payload for instance ``n`` (RAISE and SUSPEND kinds)."""
        return 1000 + n

    def expected(self, instance_id: str, n: int) -> Expected:
        def runs(*values: object, of: str = instance_id) -> tuple[tuple[str, str], ...]:
            return tuple((of, json.dumps(v)) for v in values)

        match self.workflow:
            case "chain":
                return Expected("COMPLETED", n + 3, runs(n, n + 1, n + 2))
            case "fanout":
                return Expected("COMPLETED", 5 * n + 15, runs(*(n + i for i in range(5))))
            case "timer":
                return Expected("COMPLETED", n + 1, runs(n))
            case "parent":
                child = f"{instance_id}-child"
                return Expected("COMPLETED", n + 4, (), children=(
                    (child, Expected("COMPLETED", n + 3, runs(n, n + 1, n + 2, of=child))),))
            case "event":
                return Expected("COMPLETED", self.payload(n) + n, ())
            case "relay":  # three generations, one activity each, task ids restart at 0
                return Expected("COMPLETED", n + 3, runs(n, n + 1, n + 2))
            case "hold":
                total = self.payload(n) + n
                return Expected("COMPLETED", total + 1, runs(total))
            case "forever":
                return Expected("TERMINATED", None, ())
            case "tally":  # three entity operations, each applied exactly once
                return Expected("COMPLETED", n + 2, (),
                                entities=((f"@counter@{instance_id}", n + 2),))
        raise AssertionError(self.workflow)


KINDS: tuple[Kind, ...] = (
    Kind("chain", Drive.NOTHING),
    Kind("fanout", Drive.NOTHING),
    Kind("timer", Drive.NOTHING),
    Kind("parent", Drive.NOTHING),
    Kind("event", Drive.RAISE),
    Kind("relay", Drive.NOTHING),
    Kind("hold", Drive.SUSPEND),
    Kind("forever", Drive.TERMINATE),
    Kind("chain", Drive.PURGE),
)


# The Microsoft SDKs (Python and JS) run the same kinds plus one that uses a durable entity.
KINDS_MS: tuple[Kind, ...] = (*KINDS, Kind("tally", Drive.NOTHING))


def kind_of(n: int, kinds: tuple[Kind, ...] = KINDS) -> Kind:
    return kinds[n % len(kinds)]


def instance_id(run: str, n: int, kinds: tuple[Kind, ...] = KINDS) -> str:
    return f"{run}-{n:05d}-{kind_of(n, kinds).workflow}"
