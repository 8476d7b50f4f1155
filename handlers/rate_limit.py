"""Per-key rate limits (public links)."""

from __future__ import annotations

import time


class RateLimiter:
    """A token bucket per key: `rate` runs per second, bursts of up to `rate`."""

    def __init__(self, rate: float) -> None:
        self.rate = rate
        self._buckets: dict[str, tuple[float, float]] = {}  # key -> (tokens, as of)

    def take(self, key: str) -> float:
        """0 when a run may go now, else the seconds until it may."""
        now = time.monotonic()
        tokens, since = self._buckets.get(key, (self.rate, now))
        tokens = min(self.rate, tokens + (now - since) * self.rate)
        if tokens < 1:
            self._buckets[key] = (tokens, now)
            return (1 - tokens) / self.rate
        self._buckets[key] = (tokens - 1, now)
        return 0.0
