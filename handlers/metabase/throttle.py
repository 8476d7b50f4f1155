"""Metabase's throttling of sign-ins (its `throttle` library): per key (a username, a client
address), failed attempts are remembered for an hour; past `threshold` of them, an attempt is
refused without checking anything, until a delay that grows with each one (15 s x n^1.5) has
passed since the last, and the refusal counts as an attempt too. Kept per server process."""

from __future__ import annotations

import time
from collections import deque


class Throttle:
    def __init__(self, threshold: int, ttl: float = 3600.0, initial_delay: float = 15.0, exponent: float = 1.5):
        self.threshold, self.ttl, self.initial_delay, self.exponent = threshold, ttl, initial_delay, exponent
        self._attempts: dict[str, deque[float]] = {}

    def _recent(self, key: str, now: float) -> deque[float]:
        attempts = self._attempts.setdefault(key, deque())
        while attempts and now - attempts[0] > self.ttl:
            attempts.popleft()
        return attempts

    def refusal(self, key: str) -> str | None:
        """Metabase's message when an attempt for `key` is refused now (recorded as one), else None."""
        now = time.time()
        attempts = self._recent(key, now)
        if len(attempts) < self.threshold:
            return None
        delay = self.initial_delay * (len(attempts) + 1 - self.threshold) ** self.exponent - (now - attempts[-1])
        attempts.append(now)
        if delay > 0:
            return f"Too many attempts! You must wait {round(delay)} seconds before trying again."
        return "Too many attempts! Please try again later."

    def failed(self, key: str) -> None:
        now = time.time()
        self._recent(key, now).append(now)
        if len(self._attempts) > 100_000:  # keys of long-gone attempts
            self._attempts = {k: v for k, v in self._attempts.items() if v and now - v[-1] <= self.ttl}
