"""Subscriptions to an asynchronous action's run, pushed the moment the run finishes.

A subscription answers at once with the run as it is (output and errors null while it runs), then
again when it finishes, and completes, as Hasura's does (one whose output type has relationships to
tables stays open, as Hasura's live queries do). Nothing polls: the worker
that finishes a run calls `RunWatch.finished` with the result, which this server's subscribers
push without reading it back. On PostgreSQL, the statement that records a batch of finishes also
notifies every server sharing the store (metadata/run_queue.py), whose subscribers read the
finished run from the store. SQLite notifies no one, and a file may be shared by several processes
(the workers of `serve --workers N`, or servers started apart): while subscriptions wait there, one
statement by primary key every POLL_SECONDS asks which of their runs have finished.
"""

from __future__ import annotations

import asyncio
import copy
from collections.abc import AsyncIterator
from typing import Any

from handlers.context import Runtime
from handlers.graphql.errors import RequestError
from handlers.graphql.execute import Operation, finished, run_id, run_value
from metadata.custom_types import ObjectType
from metadata.graphql_types import parse_graphql_type
from metadata.runs import Run

# How soon a subscriber on SQLite learns of a run another process finished.
POLL_SECONDS = 0.1


class _Waiter:
    def __init__(self) -> None:
        self.event = asyncio.Event()
        self.run: Run | None = None  # the finished run, when this server finished it


def _related(op: Operation, field: str) -> bool:
    """Whether the action's output type has relationships (Hasura keeps those subscriptions live)."""
    root = op.role.roots["subscription"].get(field)
    output = root.action.definition.output_type if root is not None else None
    if output is None:
        return False
    found = op.runtime.store.state.get("object", parse_graphql_type(output).base)
    return isinstance(found, ObjectType) and bool(found.relationships)


class RunWatch:
    def __init__(self) -> None:
        self._waiting: dict[str, set[_Waiter]] = {}
        self._polling: asyncio.Task[None] | None = None

    def finished(self, run: Run, output: Any, errors: Any) -> None:
        """A worker of this server finished the run (Runtime.run_finished)."""
        done = copy.copy(run)
        done.status, done.output, done.errors = "completed" if errors is None else "error", output, errors
        for waiter in self._waiting.get(run.id, ()):
            waiter.run = done
            waiter.event.set()

    def wake(self, run_id: str) -> None:
        """Another server finished the run: its subscribers here read it from the store."""
        for waiter in self._waiting.get(run_id, ()):
            waiter.event.set()

    async def _poll(self, runtime: Runtime) -> None:
        """While subscribers wait on a store that does not notify: wake those whose run finished."""
        try:
            while self._waiting:
                await asyncio.sleep(POLL_SECONDS)
                try:
                    done = await runtime.runs.finished_among(list(self._waiting))
                except Exception:  # the store is unreachable for now: the next poll tries again
                    continue
                for run_id in done:
                    self.wake(run_id)
        finally:
            self._polling = None

    async def results(self, op: Operation) -> AsyncIterator[dict[str, object]]:
        """The subscription's answers: the run now, and again once it has finished."""
        if op.validated.root.name != "subscription_root" or len(op.nodes) != 1:
            raise RequestError.of("subscriptions must select one top level field")
        node = op.nodes[0]
        if node.name == "__typename":
            yield {"data": {node.key: op.validated.root.name}}
            return
        ident = run_id(node, op.variables)
        waiter = _Waiter()
        # Waiting before reading: a run finishing in between is not missed.
        self._waiting.setdefault(ident, set()).add(waiter)
        if self._polling is None and op.runtime.store.is_sqlite:
            self._polling = asyncio.create_task(self._poll(op.runtime))
        try:
            found = await op.runtime.runs.get(ident)
            while True:
                yield {"data": {node.key: await run_value(op, node, found)}}
                if finished(found):
                    break
                await waiter.event.wait()
                waiter.event.clear()
                found = waiter.run or await op.runtime.runs.get(ident)
        finally:
            waiting = self._waiting[ident]
            waiting.discard(waiter)
            if not waiting:
                del self._waiting[ident]
        if not _related(op, node.name):
            return  # finished: the subscription completes, as Hasura completes it
        await asyncio.Event().wait()  # its related rows may change: open until the client stops
