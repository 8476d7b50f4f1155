"""Subscriptions to an asynchronous action's run, pushed the moment the run finishes.

A subscription answers at once with the run as it is (output and errors null while it runs), then
again when it finishes, and stays open, as Hasura's live queries do. Nothing polls: the worker
that finishes a run calls `RunWatch.finished`, which wakes this server's subscribers to it and,
on PostgreSQL, tells the other servers sharing the store (NOTIFY), whose listeners wake theirs.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

from handlers.graphql.errors import RequestError
from handlers.graphql.execute import Operation, finished, run_id, run_value
from metadata.store import Store


class RunWatch:
    def __init__(self, store: Store) -> None:
        self.store = store
        self._waiting: dict[str, set[asyncio.Event]] = {}

    def finished(self, run_id: str) -> None:
        """A worker of this server finished the run (Runtime.run_finished)."""
        self.wake(run_id)
        self.store.announce_finished(run_id)

    def wake(self, run_id: str) -> None:
        """The run is finished (here, or on another server): its subscribers look again."""
        for event in self._waiting.get(run_id, ()):
            event.set()

    async def results(self, op: Operation) -> AsyncIterator[dict[str, object]]:
        """The subscription's answers: the run now, and again once it has finished."""
        if op.validated.root.name != "subscription_root" or len(op.nodes) != 1:
            raise RequestError.of("subscriptions must select one top level field")
        node = op.nodes[0]
        if node.name == "__typename":
            yield {"data": {node.key: op.validated.root.name}}
            return
        ident = run_id(node, op.variables)
        event = asyncio.Event()
        # Waiting before reading: a run finishing in between is not missed.
        self._waiting.setdefault(ident, set()).add(event)
        try:
            while True:
                found = await op.runtime.runs.get(ident)
                yield {"data": {node.key: run_value(op, node, found)}}
                if finished(found):
                    break
                await event.wait()
                event.clear()
            await asyncio.Event().wait()  # it will not change again; open until the client stops
        finally:
            waiting = self._waiting[ident]
            waiting.discard(event)
            if not waiting:
                del self._waiting[ident]
