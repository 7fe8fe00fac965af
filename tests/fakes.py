"""Test doubles below the component under test: a controllable clock."""

from __future__ import annotations

import asyncio


class FakeClock:
    """A Clock whose time moves only when a test calls ``advance``."""

    def __init__(self, start_ms: int = 1_700_000_000_000) -> None:
        self._now_ms = start_ms
        self._start_ms = start_ms
        self._sleepers: list[tuple[int, asyncio.Future[None]]] = []

    def now_ms(self) -> int:
        return self._now_ms

    def monotonic(self) -> float:
        return (self._now_ms - self._start_ms) / 1000

    async def sleep(self, seconds: float) -> None:
        future = self._timer(seconds)
        await future

    async def wait(self, event: asyncio.Event, max_wait: float | None) -> bool:
        if max_wait is None:
            await event.wait()
            return True
        timer = self._timer(max_wait)
        waiter = asyncio.ensure_future(event.wait())
        try:
            await asyncio.wait({timer, waiter}, return_when=asyncio.FIRST_COMPLETED)
        finally:
            waiter.cancel()
            timer.cancel()
        return event.is_set()

    def advance(self, seconds: float) -> None:
        self._now_ms += round(seconds * 1000)
        due = [s for s in self._sleepers if s[0] <= self._now_ms]
        self._sleepers = [s for s in self._sleepers if s[0] > self._now_ms]
        for _, future in due:
            if not future.done():
                future.set_result(None)

    def _timer(self, seconds: float) -> asyncio.Future[None]:
        future: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        deadline = self._now_ms + max(round(seconds * 1000), 0)
        if deadline <= self._now_ms:
            future.set_result(None)
        else:
            self._sleepers.append((deadline, future))
        return future


async def settle(rounds: int = 30) -> None:
    """Let every ready callback run (tasks woken by ``advance`` and what they trigger)."""
    for _ in range(rounds):
        await asyncio.sleep(0)
