"""`switchboard serve --workers N`: N server processes on one port and one store.

The parent process does, once, what one server does before it listens: it checks the settings,
raises the open-files limit, binds the port (a port in use is one line) and opens the store,
creating its schema (a store it cannot open is one line), then closes the store again. It then
starts N workers with multiprocessing's spawn, as uvicorn's own supervisor does. Each worker is a
whole server (app, store, async worker pool, connection caps), given the bound socket: it opens the
store and then listens on the socket, and the kernel hands each new connection to one of the
workers. Once every worker listens, the parent says so in one line.

What must agree across the workers goes through the store, as between servers on one store:
async runs are claimed atomically (each run by one worker), metadata changes are followed
(PostgreSQL notifies; SQLite is polled), API keys are read from the store on every request and
sockets holding a revoked key are closed by every worker's check, subscriptions learn of runs
another process finished (PostgreSQL notifies; SQLite is polled while they wait). Besides the
store, the workers of one serve share:

* the public links' rate limit: token buckets in shared memory (handlers/execution/rate_limit.py);
* the metrics: prometheus-client's multiprocess mode, in a directory the parent makes (and removes
  when it exits), so a scrape answered by any worker counts every worker's requests and runs.

The parent restarts a worker that dies (its async runs in flight are taken over once their leases
expire); a worker that fails to start at first stops the whole server (exit status 1). On SIGTERM
or Ctrl-C it sends every worker SIGTERM, and each stops as one server does: it stops accepting,
finishes the requests in flight, lets its async runs finish (for up to
`async_shutdown_grace_seconds`), hands back the rest and closes the store; a second signal kills
them at once. A worker whose parent is gone (killed) stops the same way on its own.
"""

from __future__ import annotations

import asyncio
import logging
import multiprocessing
import os
import shutil
import signal
import socket
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from multiprocessing.connection import Connection, wait
from multiprocessing.process import BaseProcess
from typing import Any

from prometheus_client.multiprocess import mark_process_dead
from starlette.applications import Starlette

from handlers.execution.rate_limit import SharedBuckets, SharedRateLimiter
from rpc.config import Config
from rpc.limits import quiet_descriptor_exhaustion
from rpc.logs import configure
from rpc.server import (
    StartupFailed,
    _loop_factory,
    _Server,
    bind,
    build_app,
    log_listening,
    open_store_once,
    redacted,
    uvicorn_config,
)

log = logging.getLogger("switchboard")
SPAWN = multiprocessing.get_context("spawn")
# A worker that dies is started again at once; one that then fails to start waits longer each time.
RESTART_BACKOFF = (1.0, 2.0, 5.0, 10.0, 30.0)
STOP_SIGNALS = (signal.SIGINT, signal.SIGTERM)


@dataclass
class Plan:
    """What every worker starts from (pickled for it by multiprocessing)."""

    config: Config
    host: str
    port: int
    backlog: int
    sockets: list[socket.socket]
    count: int
    buckets: SharedBuckets


def supervise(app: Starlette, config: Config, host: str, port: int, backlog: int, count: int) -> None:
    """Run `count` workers until SIGTERM or Ctrl-C. `app` is the parent's own, built to check the
    settings; it opens the store once and never serves."""
    sockets = bind(host, port)
    metrics = tempfile.mkdtemp(prefix="switchboard-metrics-")
    try:
        version = asyncio.run(open_store_once(app))
        proxies: str | None = app.state.runtime.proxies.describe()
        # Read by prometheus-client when a worker imports it (handlers/telemetry.py).
        os.environ["PROMETHEUS_MULTIPROC_DIR"] = metrics
        plan = Plan(config, host, port, backlog, sockets, count, SharedBuckets.create(SPAWN))
        supervisor = Supervisor(plan, metrics)
        supervisor.run(lambda: log_listening(sockets, redacted(config.database_url), version, proxies, count))
    finally:
        shutil.rmtree(metrics, ignore_errors=True)
        for sock in sockets:
            sock.close()
    if supervisor.failed:
        raise SystemExit(1)  # the worker said why, in one line
    log.info("switchboard stopped")


@dataclass
class Worker:
    index: int  # 1..N, kept by a worker's replacements
    process: BaseProcess
    ready: Connection  # the worker sends its pid once it listens
    listening: bool = False
    failures: int = 0  # starts in a row that died before listening


@dataclass
class Supervisor:
    plan: Plan
    metrics: str
    workers: dict[int, Worker] = field(default_factory=dict)
    restarts: dict[int, tuple[float, int]] = field(default_factory=dict)  # index -> (when, failures so far)
    signals: list[int] = field(default_factory=list)
    failed: bool = False

    def run(self, announce: Callable[[], None]) -> None:
        wake_read, wake_write = socket.socketpair()
        wake_read.setblocking(False)
        wake_write.setblocking(False)
        previous_wakeup = signal.set_wakeup_fd(wake_write.fileno())
        previous = {sig: signal.signal(sig, lambda sig, frame: self.signals.append(sig)) for sig in STOP_SIGNALS}
        try:
            for index in range(1, self.plan.count + 1):
                self._start(index)
            starting = True
            while not self.signals and not self.failed:
                waited: list[Any] = [wake_read]
                for worker in self.workers.values():
                    waited.append(worker.process.sentinel)
                    if not worker.listening:
                        waited.append(worker.ready)
                due = min((when for when, _ in self.restarts.values()), default=None)
                wait(waited, None if due is None else max(0.0, due - time.monotonic()))
                _drain(wake_read)
                if self.signals:
                    break
                self._hear_from_workers(starting)
                if (
                    starting
                    and len(self.workers) == self.plan.count
                    and all(w.listening for w in self.workers.values())
                ):
                    starting = False
                    announce()
                self._restart_due()
            self._stop_all(wake_read)
        finally:
            for sig, handler in previous.items():
                signal.signal(sig, handler)
            signal.set_wakeup_fd(previous_wakeup)
            wake_read.close()
            wake_write.close()

    def _start(self, index: int, failures: int = 0) -> None:
        ready, told = SPAWN.Pipe(duplex=False)
        process = SPAWN.Process(target=work, args=(self.plan, index, told), name=f"switchboard worker {index}")
        process.start()
        told.close()  # the worker holds its end: a worker that dies leaves the pipe at EOF
        self.workers[index] = Worker(index, process, ready, failures=failures)

    def _hear_from_workers(self, starting: bool) -> None:
        for index, worker in list(self.workers.items()):
            if not worker.listening and worker.ready.poll():
                try:
                    worker.ready.recv()
                    worker.listening, worker.failures = True, 0
                except (EOFError, OSError):
                    pass  # it died before listening: its sentinel says so below
            if worker.process.is_alive():
                continue
            worker.process.join()
            worker.ready.close()
            pid, status = worker.process.pid, worker.process.exitcode
            del self.workers[index]
            if pid is not None:
                mark_process_dead(pid, self.metrics)  # type: ignore[no-untyped-call]
            if starting and not worker.listening:
                log.error("worker %d (pid %s) could not start (exit status %s): stopping", index, pid, status)
                self.failed = True
                return
            failures = 0 if worker.listening else worker.failures + 1
            delay = 0.0 if failures == 0 else RESTART_BACKOFF[min(failures, len(RESTART_BACKOFF)) - 1]
            log.warning(
                "worker %d (pid %s) exited (status %s); starting another%s",
                index, pid, status, f" in {delay:g} s" if delay else "",
            )  # fmt: skip
            self.restarts[index] = (time.monotonic() + delay, failures)

    def _restart_due(self) -> None:
        now = time.monotonic()
        for index, (when, failures) in list(self.restarts.items()):
            if when <= now:
                del self.restarts[index]
                self._start(index, failures)

    def _stop_all(self, wake_read: socket.socket) -> None:
        """SIGTERM to every worker, then wait for them; a second signal kills them."""
        self.restarts.clear()
        stopping = [w.process for w in self.workers.values() if w.process.is_alive()]
        for process in stopping:
            process.terminate()
        forced = False
        handled = len(self.signals)
        while alive := [p for p in stopping if p.is_alive()]:
            # The sentinels of the workers seen alive: one that exits meanwhile has its sentinel
            # ready at once. (Asking is_alive() again here lost the race with the last worker's
            # exit: the parent then waited for a signal that never came, forever.)
            wait([wake_read, *(p.sentinel for p in alive)])
            _drain(wake_read)
            if len(self.signals) > max(1, handled) and not forced:
                log.warning("stopping at once: killing the workers (their async runs are taken over later)")
                forced = True
                for process in stopping:
                    if process.is_alive():
                        process.kill()
        for worker in self.workers.values():
            worker.process.join()
            worker.ready.close()


def _drain(sock: socket.socket) -> None:
    try:
        while sock.recv(512):
            pass
    except (BlockingIOError, InterruptedError):
        pass


# --- in a worker process ---------------------------------------------------------------------------


def work(plan: Plan, index: int, ready: Connection) -> None:
    """A worker: one server on the parent's socket, its logs marked with its number."""
    config = plan.config
    configure(config.log_level, config.log_format, worker=index)
    quiet_descriptor_exhaustion()
    try:
        app = build_app(config)
        app.state.runtime.public_limiter = SharedRateLimiter(config.public_rate_limit, plan.buckets)

        def started() -> None:
            ready.send(os.getpid())
            ready.close()

        uvicorn = uvicorn_config(app, plan.host, plan.port, config, plan.backlog)
        server = _Server(uvicorn, app, redacted(config.database_url), worker=True, on_started=started)
        with asyncio.Runner(loop_factory=_loop_factory()) as runner:
            runner.run(_serve(server, plan.sockets))
    except StartupFailed as exc:
        sys.stderr.write(f"error: {exc}\n")
        sys.exit(1)


async def _serve(server: _Server, sockets: list[socket.socket]) -> None:
    """Serve until told to stop, or until the parent is gone."""
    parent = multiprocessing.parent_process()
    loop = asyncio.get_running_loop()
    if parent is not None and parent.sentinel is not None:
        sentinel = parent.sentinel

        def orphaned() -> None:
            loop.remove_reader(sentinel)
            log.warning("the parent process is gone: stopping")
            server.should_exit = True

        loop.add_reader(sentinel, orphaned)
    await server.serve(sockets)
