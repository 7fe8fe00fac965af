"""Time as a seam: the system clock in production, a fake one in tests.

Reminders and idle deactivation read time only through a ``Clock`` so tests advance time
instead of sleeping (hypercorn's fixed-time fixture, temporal's time-skipping env).
"""

from __future__ import annotations

import asyncio
import time
from typing import Protocol


class Clock(Protocol):
    """Wall time, monotonic time and waiting."""

    def now_ms(self) -> int:
        """Wall-clock time in milliseconds since the Unix epoch (reminder due times)."""
        ...

    def monotonic(self) -> float:
        """Seconds on a clock that never goes backwards (idle timers, deadlines)."""
        ...

    async def sleep(self, seconds: float) -> None:
        """Wait ``seconds`` of this clock's time."""
        ...

    async def wait(self, event: asyncio.Event, max_wait: float | None) -> bool:
        """Wait until ``event`` is set or ``max_wait`` seconds pass; True if the event was set."""
        ...


class SystemClock:
    """The real clock."""

    def now_ms(self) -> int:
        return time.time_ns() // 1_000_000

    def monotonic(self) -> float:
        return time.monotonic()

    async def sleep(self, seconds: float) -> None:
        await asyncio.sleep(seconds)

    async def wait(self, event: asyncio.Event, max_wait: float | None) -> bool:
        if event.is_set():
            return True  # no timer to arm and cancel (the reminder loop's common case)
        if max_wait is None:
            await event.wait()
            return True
        try:
            async with asyncio.timeout(max(max_wait, 0.0)):
                await event.wait()
        except TimeoutError:
            return event.is_set()
        return True
