"""Requests per second per token: a token bucket for each caller (``security.rate_limit``)."""

from __future__ import annotations

import time
from collections.abc import Callable

_MAX_BUCKETS = 10_000  # callers remembered; the idlest are dropped beyond it


class RateLimiter:
    def __init__(self, rate: float, burst: int,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.rate = rate
        self.burst = burst
        self._clock = clock
        self._buckets: dict[bytes | str, tuple[float, float]] = {}  # key -> (tokens, at)

    def allow(self, key: bytes | str) -> bool:
        now = self._clock()
        tokens, at = self._buckets.pop(key, (float(self.burst), now))
        tokens = min(float(self.burst), tokens + (now - at) * self.rate)
        allowed = tokens >= 1.0
        self._buckets[key] = (tokens - 1.0 if allowed else tokens, now)  # newest last
        if len(self._buckets) > _MAX_BUCKETS:
            del self._buckets[next(iter(self._buckets))]
        return allowed
