"""Per-key rate limits (public links)."""

from __future__ import annotations

import time


class RateLimiter:
    """A token bucket per key: `rate` runs per second, in bursts of up to `rate` runs.

    The limit holds per process: N servers let a key run up to N times `rate` per second.
    """

    def __init__(self, rate: float) -> None:
        self.rate = rate
        # A bucket must hold at least one whole token, or a rate below 1 per second (0.5: a run
        # every 2 s) would never let a single run through.
        self.capacity = max(1.0, rate)
        self._buckets: dict[str, tuple[float, float]] = {}  # key -> (tokens, as of)

    def take(self, key: str) -> float:
        """0 when a run may go now (and it is counted), else the seconds until one may."""
        now = time.monotonic()
        tokens, since = self._buckets.get(key, (self.capacity, now))
        tokens = min(self.capacity, tokens + (now - since) * self.rate)
        if tokens < 1:
            self._buckets[key] = (tokens, now)
            return (1 - tokens) / self.rate
        self._buckets[key] = (tokens - 1, now)
        return 0.0
