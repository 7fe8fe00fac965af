"""Looking back in a workflow's history from an event to what it resolves.

Pure, like spans.py, which uses it: a TaskCompleted's TaskScheduled, a TimerFired's
TimerCreated and the OrchestratorStarted of the turn that created it.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

from wfsidecar._proto.internal import orchestrator_service_pb2 as pb


def find_back(history: Sequence[pb.HistoryEvent], position: int,
              wanted: Callable[[pb.HistoryEvent], bool]) -> pb.HistoryEvent | None:
    """The last event before ``position`` that is ``wanted`` (usually just before)."""
    index = index_back(history, position, wanted)
    return None if index is None else history[index]


def index_back(history: Sequence[pb.HistoryEvent], position: int,
               wanted: Callable[[pb.HistoryEvent], bool]) -> int | None:
    """Where that event is, or None."""
    for index in range(min(position, len(history)) - 1, -1, -1):
        if wanted(history[index]):
            return index
    return None


def is_turn_start(event: pb.HistoryEvent) -> bool:
    """The first event of every orchestrator turn; its timestamp is the workflow's "now"."""
    return event.HasField("orchestratorStarted")
