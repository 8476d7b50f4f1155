"""The async worker pool: runs queued action calls in the background, durably.

Workers are woken the moment a run is queued (in this process directly, from other servers by
PostgreSQL's NOTIFY), so a run starts within milliseconds; a fallback poll covers retries that
come due and a SQLite file shared by several processes. A run is claimed with a lease: if its
worker dies, another takes it over once the lease expires. Failed calls are retried per the
action's retry_conf.

Delivery is at least once, and repeats are bounded. On a graceful stop (SIGTERM) nothing new is
claimed, the runs in flight may finish (for up to `grace` seconds) and their finishes are
committed: no run is delivered twice. Only what is still running after that is handed back,
to be delivered again. A process killed outright leaves its runs in flight (at most
`concurrency`, a finish waiting for its commit included: a slot is freed only once its finish
committed) to be delivered again when their leases expire. Every delivery of a run carries its
id as Idempotency-Key, so a handler can drop a repeat.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
import uuid

from handlers.context import Call, LocalWorkers, Runtime
from handlers.execution.run_action import error_body, run_call
from handlers.telemetry import REQUEST_ID_HEADER, begin
from handlers.tracing import resume_trace
from metadata.actions import Action
from metadata.errors import NotExists, SwitchboardError
from metadata.runs import Run

log = logging.getLogger("switchboard.worker")
IDLE_POLL_SECONDS = 1.0


class WorkerPool(LocalWorkers):
    """One claimer hands runs to at most `concurrency` concurrent executions.

    A single claimer (rather than every idle worker racing for each new run) means one claim
    statement for however many slots are free.
    """

    def __init__(self, runtime: Runtime, concurrency: int, grace: float = 30.0) -> None:
        self.runtime = runtime
        self.concurrency = concurrency
        self.grace = grace
        self.holder = str(uuid.uuid4())  # this process's lease holder id
        self.token = self.holder
        self._wakeup = asyncio.Event()
        self._sleeping = False  # the claimer waits for a wake-up: nothing was waiting
        self._free = concurrency  # slots not running a run
        self._freed = asyncio.Event()
        # While runs are waiting, claim only once this many slots are free: fewer, larger claims.
        self._batch = max(1, concurrency // 4)
        self._claimer: asyncio.Task[None] | None = None
        self._running: set[asyncio.Task[None]] = set()
        self._stopping = False
        self._writing: set[asyncio.Task[None]] = set()  # runs whose slot was freed: their outcome is being written

    def wake(self) -> None:
        self._wakeup.set()

    def reserve(self) -> bool:
        # Only while the claimer sleeps (its last claim found nothing waiting): a run queued
        # here may then start at once without overtaking older runs.
        if not self._sleeping or self._free == 0:
            return False
        self._free -= 1
        return True

    def unreserve(self) -> None:
        self._free += 1
        self._freed.set()

    def hand_over(self, run: Run) -> None:
        self._spawn(run)

    def start(self) -> None:
        if self.concurrency:
            self.runtime.workers = self
            self._claimer = asyncio.create_task(self._claim_forever())

    async def stop(self) -> None:
        if self._claimer is not None:
            # Told to stop, never cancelled: a claim cut off in its transaction left the
            # connection holding SQLite's write lock until the store closed, so the runs still
            # finishing could not be settled ("database is locked") and were run again.
            self._stopping = True
            self._wakeup.set()
            self._freed.set()
            await asyncio.gather(self._claimer, return_exceptions=True)
        # The runs in flight finish (their handlers have them already: cut off now, they would
        # be delivered again), within the grace period.
        if self._running:
            await asyncio.wait(list(self._running), timeout=self.grace)
        for task in list(self._running):
            task.cancel()
        await asyncio.gather(*self._running, return_exceptions=True)
        with contextlib.suppress(Exception):
            # Finishes handed over before the cancel are written first: only the runs still
            # unsettled are handed back, so no finished run is run again.
            await self.runtime.runs.flush()
            await self.runtime.runs.release(self.holder)

    async def _claim_forever(self) -> None:
        expired_checked = 0.0
        backlog = False  # the last claim took all it asked for: more runs are likely waiting
        while not self._stopping:
            if time.monotonic() - expired_checked >= IDLE_POLL_SECONDS:
                # Runs of dead workers (in any server) become due again once their lease ran out.
                expired_checked = time.monotonic()
                with contextlib.suppress(Exception):
                    await self.runtime.runs.expire_leases()
            while self._free < (self._batch if backlog else 1) and not self._stopping:
                self._freed.clear()
                await self._freed.wait()
            if self._stopping:
                return
            free = self._free  # one claim fills every free slot
            # Cleared before claiming: a run queued while the claim runs still wakes us after.
            self._wakeup.clear()
            try:
                runs = await self.runtime.runs.claim(self.holder, free)
            except asyncio.CancelledError:
                raise
            except Exception:  # the store is unreachable for now: try again shortly
                log.warning("claiming runs failed", exc_info=True)
                self.runtime.metrics.store_errors.inc()
                runs = []
            if self._stopping:  # claimed as the stop began: handed back by stop() unstarted
                return
            self._free -= len(runs)
            for run in runs:
                self._spawn(run)
            backlog = len(runs) == free
            if not runs:
                await self._idle()

    def _spawn(self, run: Run) -> None:
        task = asyncio.create_task(self._execute(run), name=run.id)
        self._running.add(task)
        task.add_done_callback(self._done)

    def _handled(self) -> None:
        """The current run's handler is done: on PostgreSQL its slot takes another run while the
        outcome is written. `concurrency` bounds the handler calls in flight, not the store's
        writes, which are group-committed; holding the slot for the commit left it idle for a
        round trip (drain x1.13 -> x1.28-1.43 pgqueuer's). SQLite has one writer: claims made
        while outcomes commit wait for each other, and the drain fell by 30% (3385 -> 2353
        runs/s), so there the slot is held until the outcome is written. A stop still waits for
        these writes (`stop`)."""
        task = asyncio.current_task()
        if self.runtime.store.is_sqlite or task is None:
            return
        if task in self._running and task not in self._writing:
            self._writing.add(task)
            self._free += 1
            self._freed.set()

    def _done(self, task: asyncio.Task[None]) -> None:
        self._running.discard(task)
        if not task.cancelled() and (exc := task.exception()) is not None:
            # Only the store can fail here (a handler's failures are recorded on the run): the
            # outcome was not written, so the run, still leased, is handed back and runs again.
            log.warning("recording the outcome of run %s failed: it will run again", task.get_name(), exc_info=exc)
            self.runtime.metrics.store_errors.inc()
        if task in self._writing:
            self._writing.discard(task)
            return
        self._free += 1
        self._freed.set()

    async def _idle(self) -> None:
        """Sleep until woken by a new run, until a retry comes due, or for the fallback poll."""
        timeout = IDLE_POLL_SECONDS
        with contextlib.suppress(Exception):
            due = await self.runtime.runs.next_due()
            if due is not None:
                timeout = max(0.0, min(timeout, due - time.time()))
        self._sleeping = True
        try:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wakeup.wait(), timeout)
        finally:
            self._sleeping = False

    async def _execute(self, run: Run) -> None:
        # The queueing request's id, in this task's logs, and its trace context, carried on.
        info = begin(run.headers.get(REQUEST_ID_HEADER) or run.id)
        runtime = self.runtime
        if runtime.tracing is None:
            resume_trace(info, run.headers)
        else:
            runtime.tracing.resume(run.headers)
        action = runtime.store.state.get("action", run.action)
        if action is None:
            await runtime.store.sync()  # it may have been created by another server
            action = runtime.store.state.get("action", run.action)
        try:
            if not isinstance(action, Action):
                raise NotExists(f'action with name "{run.action}" does not exist')
            call = Call(action, run.input, run.session, run.headers, run_id=run.id)
            output = await run_call(runtime, call, runtime.store.state, "async", run.created_at)
        except SwitchboardError as exc:
            await self._failed(run, action, exc)
            return
        except Exception as exc:  # a bug: recorded on the run rather than lost
            log.exception("running %s failed", run.id)
            await self._failed(run, action, SwitchboardError(f"unexpected error: {type(exc).__name__}"))
            return
        self._handled()
        await runtime.runs.finish(run.id, self.holder, output=output)
        runtime.run_finished(run, output, None)

    async def _failed(self, run: Run, action: object, exc: SwitchboardError) -> None:
        self._handled()
        errors = error_body(exc)
        retry = action.definition.retry_conf if isinstance(action, Action) else None
        if retry is not None and run.attempts <= retry.num_retries:
            delay = retry.retry_interval_seconds * retry.backoff ** (run.attempts - 1)
            await self.runtime.runs.retry(run.id, self.holder, time.time() + delay, errors)
            self.wake()
        else:
            await self.runtime.runs.finish(run.id, self.holder, errors=errors)
            self.runtime.run_finished(run, None, errors)
