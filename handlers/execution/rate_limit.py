"""Per-key rate limits (public links).

A token bucket per key: `rate` runs per second, in bursts of up to `rate` runs. `RateLimiter` keeps
its buckets in this process. `SharedRateLimiter` keeps them in memory shared by the worker
processes of one `switchboard serve --workers N` (`SharedBuckets`, made by the parent before it
starts them), so the limit holds for the whole server whichever worker a request reaches. Servers
started apart (several hosts on one PostgreSQL) each count on their own.
"""

from __future__ import annotations

import hashlib
import logging
import time
from dataclasses import dataclass
from multiprocessing.context import BaseContext
from typing import Any

log = logging.getLogger("switchboard")


class RateLimiter:
    """A token bucket per key, in this process: N processes let a key run up to N times `rate`
    per second."""

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


@dataclass
class SharedBuckets:
    """A table of buckets in shared memory: slot i holds a key's 64-bit digest (0: free) and its
    (tokens, as of) pair. Handed to worker processes as an argument of their start (the only way
    multiprocessing shares these)."""

    digests: Any  # RawArray of int64
    buckets: Any  # RawArray of doubles, two per slot
    lock: Any  # multiprocessing.Lock

    @classmethod
    def create(cls, context: BaseContext, slots: int = 4096) -> SharedBuckets:
        return cls(context.RawArray("q", slots), context.RawArray("d", 2 * slots), context.Lock())


# Slots looked at from a key's own: a key takes the first free one among them. A bucket back at
# capacity is as good as absent, so its slot is free again: the table holds only the keys being
# limited right now, and 4,096 slots (96 kB) hold thousands of busy links.
PROBES = 8
# A worker killed while holding the lock (within microseconds of work) would leave it held: past
# this wait, this process counts on its own (as RateLimiter) rather than stall its requests.
LOCK_SECONDS = 0.25


class SharedRateLimiter(RateLimiter):
    """RateLimiter's buckets, shared by every worker process of one server."""

    def __init__(self, rate: float, shared: SharedBuckets) -> None:
        super().__init__(rate)
        self.shared = shared
        self.slots = len(shared.digests)
        self._broken = False

    def take(self, key: str) -> float:
        digest = int.from_bytes(hashlib.blake2b(key.encode(), digest_size=8).digest(), "little", signed=True) or 1
        now = time.monotonic()  # the system's monotonic clock: the same in every process
        if not self.shared.lock.acquire(timeout=LOCK_SECONDS):
            if not self._broken:
                self._broken = True
                log.warning("the shared rate limit is unavailable: public links are limited per worker")
            return super().take(key)
        try:
            return self._take(digest, now)
        finally:
            self.shared.lock.release()

    def _take(self, digest: int, now: float) -> float:
        digests, buckets = self.shared.digests, self.shared.buckets
        first = digest % self.slots
        chosen, fullest = -1, -1.0
        for probe in range(PROBES):
            slot = (first + probe) % self.slots
            held = digests[slot]
            if held == digest:
                chosen = slot
                break
            tokens = self.capacity if held == 0 else self._refilled(slot, now)
            if tokens > fullest:  # free (refilled), or else the bucket closest to it
                chosen, fullest = slot, tokens
        if digests[chosen] != digest:
            # A new bucket, in a free slot or (every slot near busy) in place of the bucket that
            # lost the least: its key gets at most that bucket's missing tokens back.
            digests[chosen] = digest
            buckets[2 * chosen], buckets[2 * chosen + 1] = self.capacity, now
        tokens = self._refilled(chosen, now)
        if tokens < 1:
            buckets[2 * chosen], buckets[2 * chosen + 1] = tokens, now
            return (1 - tokens) / self.rate
        buckets[2 * chosen], buckets[2 * chosen + 1] = tokens - 1, now
        return 0.0

    def _refilled(self, slot: int, now: float) -> float:
        tokens, since = self.shared.buckets[2 * slot], self.shared.buckets[2 * slot + 1]
        return float(min(self.capacity, tokens + max(0.0, now - since) * self.rate))
