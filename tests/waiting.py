"""The one way tests wait for something the daemon does: poll a probe until a condition
holds, and fail with the last value seen after a deadline (never sleep, then assert)."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import TypeVar

T = TypeVar("T")


async def eventually(probe: Callable[[], Awaitable[T]], ok: Callable[[T], bool],
                     deadline: float = 10) -> T:
    """Poll ``probe`` until ``ok`` holds; fail with the last value after ``deadline`` s."""
    loop = asyncio.get_running_loop()
    end = loop.time() + deadline
    while True:
        value = await probe()
        if ok(value):
            return value
        if loop.time() > end:
            raise AssertionError(f"condition never held; last value: {value!r}")
        await asyncio.sleep(0.02)
