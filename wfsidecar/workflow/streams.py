"""The worker streams the dispatcher hands work to: who they are, what they hold, limits.

Each GetWorkItems stream has a dialect, a work-item filter and the completion tokens of
the items it holds. ``work_items.max_streams`` caps how many are open and
``work_items.max_in_flight_per_stream`` how many unanswered items one may hold; a stream
at its cap waits (``wait_below_cap``) until an answer or a take-back frees a place.
"""

from __future__ import annotations

import asyncio
import itertools
from collections.abc import Callable

from wfsidecar.errors import LimitExceededError, ShuttingDownError
from wfsidecar.workflow.work_item import Accepts, accept_all


class Streams:
    def __init__(self, *, max_streams: int | None = None,
                 max_in_flight: int | None = None) -> None:
        self._max_streams = max_streams
        self._max_in_flight = max_in_flight
        self.dialect: dict[int, str] = {}
        self.filter: dict[int, Accepts] = {}
        self.held: dict[int, set[str]] = {}  # stream -> tokens of its unanswered items
        self._freed: dict[int, asyncio.Event] = {}  # set when a stream holds fewer
        self._ids = itertools.count(1)

    def open(self, dialect: str, accepts: Accepts | None) -> int:
        """Register a stream.

        Raises:
            LimitExceededError: ``work_items.max_streams`` streams are open already.
        """
        if self._max_streams is not None and len(self.held) >= self._max_streams:
            raise LimitExceededError(
                f"{len(self.held)} GetWorkItems streams are open, the "
                f"work_items.max_streams limit of {self._max_streams}; close a worker or "
                "raise the limit")
        stream = next(self._ids)
        self.held[stream] = set()
        self.dialect[stream] = dialect
        self.filter[stream] = accepts or accept_all
        return stream

    def close(self, stream: int) -> set[str]:
        """Forget the stream; the tokens it held."""
        self._freed.pop(stream, None)
        self.dialect.pop(stream, None)
        self.filter.pop(stream, None)
        return self.held.pop(stream, set())

    def below_cap(self, stream: int) -> bool:
        limit = self._max_in_flight
        return limit is None or len(self.held.get(stream, ())) < limit

    async def wait_below_cap(self, stream: int, closed: Callable[[], bool]) -> None:
        """Wait while ``stream`` holds ``max_in_flight`` unanswered items.

        Raises:
            ShuttingDownError: the dispatcher closed meanwhile.
        """
        limit = self._max_in_flight
        if limit is None:
            return
        while len(self.held.get(stream, ())) >= limit:
            freed = self._freed.setdefault(stream, asyncio.Event())
            freed.clear()
            await freed.wait()
            if closed():
                raise ShuttingDownError("wfsidecar is shutting down")

    def hold(self, stream: int, token: str) -> None:
        self.held.setdefault(stream, set()).add(token)

    def release_token(self, stream: int, token: str) -> None:
        self.held.get(stream, set()).discard(token)
        freed = self._freed.get(stream)
        if freed is not None:
            freed.set()

    def wake_all(self) -> None:
        """The dispatcher is closing: every stream waiting below its cap gets to see it."""
        for freed in self._freed.values():
            freed.set()
