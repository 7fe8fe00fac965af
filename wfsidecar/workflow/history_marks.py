"""Stateful-history delivery (Dapr 1.19 ``WORKER_CAPABILITY_STATEFUL_HISTORY``).

A worker that advertises the capability keeps, per instance, the committed history it
replayed in its last turn on that stream (not the turn's new events, and nothing once the
turn ended the execution). The next request may then carry only the events committed
since, with ``cachedHistory.eventCount`` saying how many the worker already holds. A wrong
count is never harmless-looking: the worker would replay a history with a hole in it, so a
delta goes out only when the daemon can prove what the worker holds, and a full send (always
valid) otherwise.

Two halves prove it:
- ``Lineage`` (one per workflow actor) names a history that has only grown by appends. Any
  rewrite — a new generation (create, re-creation, continue-as-new), a rewind, a purge, an
  actor rebuilt after a failed turn or reloaded from the store — starts a new lineage, so
  a prefix recorded under the old one can never be taken for the new history.
- ``HistoryMarks`` (owned by the dispatcher) records, per instance, which stream holds how
  many events of which lineage: set only when that stream's answer to a turn was applied,
  taken away the moment another dispatch of the instance goes out (its worker's cache
  changes when it runs that dispatch, whatever becomes of the answer), and forgotten when
  the stream ends, a completion is refused or fails to commit.
"""

from __future__ import annotations

import itertools
from collections.abc import Sequence
from dataclasses import dataclass

from wfsidecar._proto.internal import orchestrator_service_pb2 as pb

_lineages = itertools.count(1)


class Lineage:
    """Tracks whether each dispatched past extends the previous one by appends only."""

    __slots__ = ("_past", "current")

    def __init__(self) -> None:
        self._past: Sequence[pb.HistoryEvent] = ()
        self.current = next(_lineages)

    def of(self, past: Sequence[pb.HistoryEvent]) -> int:
        """The lineage of ``past``, the committed history a new dispatch shows.

        History events are kept as the same objects for as long as they are history and
        are never mutated (turns append to the list; rewrites parse or build new events),
        so the same first and last objects at the same places prove the earlier past is
        still the prefix.
        """
        old = self._past
        if old and (len(past) < len(old) or past[0] is not old[0]
                    or past[len(old) - 1] is not old[-1]):
            self.current = next(_lineages)
        self._past = past
        return self.current


@dataclass(frozen=True, slots=True)
class _Mark:
    stream: int
    lineage: int
    count: int  # committed events that stream's worker holds for the instance


class HistoryMarks:
    """Which stream's worker holds which prefix of each instance's history."""

    def __init__(self) -> None:
        self._marks: dict[str, _Mark] = {}
        self._stateful: set[int] = set()

    def open_stream(self, stream: int, stateful: bool) -> None:
        if stateful:
            self._stateful.add(stream)

    def close_stream(self, stream: int) -> None:
        """The stream ended: its worker starts cold on the next one."""
        if stream in self._stateful:
            self._stateful.discard(stream)
            self._marks = {k: m for k, m in self._marks.items() if m.stream != stream}

    def take(self, instance_id: str, stream: int, lineage: int, past_len: int) -> int:
        """How many of the ``past_len`` events about to go to ``stream`` its worker holds
        already (0: send them all). The mark is used up either way: once the worker runs
        this dispatch its cache holds this past, or is cleared."""
        mark = self._marks.pop(instance_id, None)
        if (mark is None or mark.stream != stream or mark.lineage != lineage
                or mark.count > past_len):
            return 0
        return mark.count

    def applied(self, instance_id: str, stream: int | None, lineage: int, past_len: int,
                kept: bool) -> None:
        """The worker's answer to a dispatch of ``past_len`` past events was applied; it
        keeps that past unless the answer ended the execution (``kept`` False)."""
        if kept and stream in self._stateful and stream is not None and past_len:
            self._marks[instance_id] = _Mark(stream, lineage, past_len)
        else:
            self._marks.pop(instance_id, None)

    def forget(self, instance_id: str) -> None:
        self._marks.pop(instance_id, None)

    def clear(self) -> None:
        self._marks.clear()

    def __len__(self) -> int:
        return len(self._marks)
