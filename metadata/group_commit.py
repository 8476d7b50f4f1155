"""Group commit: many callers' writes in one transaction, each caller answered once it committed.

Whoever submits while a write is under way joins the next one, so an idle store writes each item
at once (no timer, no added latency) and a busy one writes batches as large as the load makes
them. A caller returns only after the transaction holding its item committed, so batching never
acknowledges anything that is not durable; when the transaction fails, every caller in it gets
the error (nothing in it was written).
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import Generic, TypeVar

T = TypeVar("T")
MAX_BATCH = 1000


class GroupCommit(Generic[T]):
    def __init__(self, write: Callable[[list[T]], Awaitable[None]]) -> None:
        self._write = write
        self._pending: list[tuple[T, asyncio.Future[None]]] = []
        self._writer: asyncio.Task[None] | None = None

    async def submit(self, item: T) -> None:
        """Return once `item` is committed (raise what the write raised)."""
        done = asyncio.get_running_loop().create_future()
        self._pending.append((item, done))
        if self._writer is None:
            self._writer = asyncio.create_task(self._drain())
        # A caller that goes away does not take the write down with it.
        await asyncio.shield(done)

    async def flush(self) -> None:
        """Wait until everything submitted so far is written (or failed)."""
        while self._writer is not None:
            await asyncio.gather(asyncio.shield(self._writer), return_exceptions=True)

    async def _drain(self) -> None:
        batch: list[tuple[T, asyncio.Future[None]]] = []
        try:
            while self._pending:
                batch, self._pending = self._pending[:MAX_BATCH], self._pending[MAX_BATCH:]
                try:
                    await self._write([item for item, _ in batch])
                except Exception as exc:
                    for _, done in batch:
                        done.set_exception(exc)
                else:
                    for _, done in batch:
                        done.set_result(None)
        except asyncio.CancelledError:  # the server is going away mid-write: no caller waits forever
            for _, done in batch + self._pending:
                if not done.done():
                    done.set_exception(ConnectionError("the write was interrupted"))
            self._pending = []
            raise
        finally:
            self._writer = None
