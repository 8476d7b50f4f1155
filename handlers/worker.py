"""The async worker pool: runs queued action calls in the background, durably.

Workers are woken the moment a run is queued (in this process directly, from other servers by
PostgreSQL's NOTIFY), so a run starts within milliseconds; a fallback poll covers retries that
come due and a SQLite file shared by several processes. A run is claimed with a lease: if its
worker dies, another takes it over once the lease expires; on graceful shutdown the runs in
flight are handed back at once. Failed calls are retried per the action's retry_conf.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
import uuid

from handlers.context import Runtime
from handlers.run_action import error_body
from handlers.webhook import Call, call_webhook
from metadata.actions import Action
from metadata.errors import NotExists, SwitchboardError
from metadata.runs import Run

log = logging.getLogger("switchboard.worker")
IDLE_POLL_SECONDS = 1.0


class WorkerPool:
    def __init__(self, runtime: Runtime, concurrency: int) -> None:
        self.runtime = runtime
        self.concurrency = concurrency
        self.token = str(uuid.uuid4())  # this process's lease holder id
        self._wakeup = asyncio.Event()
        self._tasks: list[asyncio.Task[None]] = []

    def wake(self) -> None:
        self._wakeup.set()

    def start(self) -> None:
        self.runtime.wake = self.wake
        self._tasks = [asyncio.create_task(self._work()) for _ in range(self.concurrency)]

    async def stop(self) -> None:
        for task in self._tasks:
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        with contextlib.suppress(Exception):
            await self.runtime.runs.release(self.token)

    async def _work(self) -> None:
        while True:
            try:
                run = await self.runtime.runs.claim(self.token)
            except asyncio.CancelledError:
                raise
            except Exception:  # the store is unreachable for now: try again shortly
                log.warning("claiming a run failed", exc_info=True)
                await asyncio.sleep(IDLE_POLL_SECONDS)
                continue
            if run is None:
                await self._idle()
                continue
            # Other workers may have more to do: let one of them look too.
            self._wakeup.set()
            await self._execute(run)

    async def _idle(self) -> None:
        timeout = IDLE_POLL_SECONDS
        with contextlib.suppress(Exception):
            due = await self.runtime.runs.next_due()
            if due is not None:
                timeout = max(0.0, min(timeout, due - time.time()))
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._wakeup.wait(), timeout)
        self._wakeup.clear()

    async def _execute(self, run: Run) -> None:
        runtime = self.runtime
        action = runtime.store.state.get("action", run.action)
        if action is None:
            await runtime.store.sync()  # it may have been created by another server
            action = runtime.store.state.get("action", run.action)
        try:
            if not isinstance(action, Action):
                raise NotExists(f'action with name "{run.action}" does not exist')
            assert runtime.http is not None
            call = Call(action, run.input, run.session, run.headers)
            output = await call_webhook(runtime.http, call, runtime.store.state)
        except SwitchboardError as exc:
            await self._failed(run, action, exc)
            return
        except Exception as exc:  # a bug: recorded on the run rather than lost
            log.exception("running %s failed", run.id)
            await self._failed(run, action, SwitchboardError(f"unexpected error: {type(exc).__name__}"))
            return
        await runtime.runs.finish(run.id, self.token, output=output)

    async def _failed(self, run: Run, action: object, exc: SwitchboardError) -> None:
        errors = error_body(exc)
        retry = action.definition.retry_conf if isinstance(action, Action) else None
        if retry is not None and run.attempts <= retry.num_retries:
            delay = retry.retry_interval_seconds * retry.backoff ** (run.attempts - 1)
            await self.runtime.runs.retry(run.id, self.token, time.time() + delay, errors)
            self.wake()
        else:
            await self.runtime.runs.finish(run.id, self.token, errors=errors)
