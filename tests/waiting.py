"""The one way tests wait for something the daemon does: poll a probe until a condition
holds, and fail with the last value seen after a deadline (never sleep, then assert)."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from typing import TypeVar

T = TypeVar("T")


async def eventually(probe: Callable[[], Awaitable[T]], ok: Callable[[T], bool],
                     deadline: float = 10, what: str = "condition never held") -> T:
    """Poll ``probe`` until ``ok`` holds; fail with ``what`` and the last value after
    ``deadline`` s."""
    loop = asyncio.get_running_loop()
    end = loop.time() + deadline
    while True:
        value = await probe()
        if ok(value):
            return value
        if loop.time() > end:
            raise AssertionError(f"{what}; last value: {value!r}")
        await asyncio.sleep(0.02)


def eventually_sync(probe: Callable[[], T], ok: Callable[[T], bool], deadline: float = 10) -> T:
    """``eventually`` for synchronous tests (a browser driven by Playwright's sync API,
    which cannot run inside an event loop)."""
    end = time.monotonic() + deadline
    while True:
        value = probe()
        if ok(value):
            return value
        if time.monotonic() > end:
            raise AssertionError(f"condition never held; last value: {value!r}")
        time.sleep(0.02)
