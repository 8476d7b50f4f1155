"""`switchboard serve`: run the app under uvicorn, as an operator wants to see it run.

* Logging is configured here (rpc/logs.py), replacing uvicorn's; the app's requests are logged by
  its own middleware.
* The port is bound first (one in use is one line naming `--port`, before the store is touched),
  and listened on only once the store is open (the app's lifespan), so a server that cannot reach
  its store never listens; each failure is one line (`StartupFailed`), never a traceback.
* Once listening, one line says where, on which store (its URL without the password) and at which
  metadata version.
* uvloop and httptools are used when installed (dependencies where they have wheels, and the
  `[speed]` extra), else asyncio and h11.
* On SIGTERM/SIGINT uvicorn stops accepting and finishes the requests in flight; then the lifespan
  hands back the async runs in flight and closes the store.
* `--workers N` (or the `workers` setting) above 1: N such servers in processes of their own on
  the one port, started and watched by this one (rpc/workers.py).
"""

from __future__ import annotations

import asyncio
import contextlib
import errno
import logging
import math
import os
import re
import signal
import socket
import threading
import time
from collections.abc import Callable, Sequence
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path
from types import FrameType
from typing import Any

import msgspec
import sqlalchemy as sa
import uvicorn
from starlette.applications import Starlette

from handlers.execution.proxies import InvalidProxy
from rpc.app import create_app
from rpc.config import Config
from rpc.limits import connection_limits, guarded, quiet_descriptor_exhaustion
from rpc.logs import configure

log = logging.getLogger("switchboard")


class StartupFailed(Exception):
    """The server cannot start; the message says why in one line."""


def switchboard_version() -> str:
    try:
        return version("switchboard")
    except PackageNotFoundError:  # a checkout that was not installed
        return "dev"


def redacted(url: str) -> str:
    """A database URL fit for a log line: the password hidden."""
    if "://" not in url:
        return url  # a bare SQLite path
    try:
        return sa.make_url(url).render_as_string(hide_password=True)
    except sa.exc.ArgumentError:
        return url.split("://", 1)[0] + "://..."  # unparseable: it may still hold a password


def _reason(exc: BaseException) -> str:
    """The first line of what went wrong, without SQLAlchemy's wrapping."""
    cause = getattr(exc, "orig", None) or exc
    if isinstance(cause, ConnectionRefusedError):
        return "connection refused"
    text = re.sub(r"^<class '[\w.]+'>: ", "", str(cause).strip()) or type(cause).__name__
    return text.splitlines()[0]


def _loop_factory() -> Callable[[], asyncio.AbstractEventLoop] | None:
    try:
        import uvloop
    except ImportError:
        return None
    factory: Callable[[], asyncio.AbstractEventLoop] = uvloop.new_event_loop
    return factory


def _http() -> type[Any]:
    """uvicorn's HTTP protocol: httptools' parser when installed, else h11."""
    try:
        from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol
    except ImportError:
        from uvicorn.protocols.http.h11_impl import H11Protocol

        return H11Protocol
    return HttpToolsProtocol


async def _sqlite_threads_stopped(seconds: float = 2.0) -> None:
    """aiosqlite stops the thread of a connection that failed to open without awaiting it, and the
    thread then reports to the event loop: keep the loop open until it has, else an "Event loop is
    closed" traceback follows the one-line error."""
    threads = [t for t in threading.enumerate() if t.name.endswith("(_connection_worker_thread)")]
    deadline = time.monotonic() + seconds
    while any(t.is_alive() for t in threads) and time.monotonic() < deadline:
        await asyncio.sleep(0.005)


class _Server(uvicorn.Server):
    def __init__(
        self,
        config: uvicorn.Config,
        app: Starlette,
        store: str,
        worker: bool = False,
        on_started: Callable[[], None] | None = None,
    ) -> None:
        """`worker`: one of `serve --workers N`'s processes, whose parent says where it listens
        and when it stopped, and tells it to stop; `on_started`: called once it listens."""
        super().__init__(config)
        self.app, self.store = app, store
        self.worker, self.on_started = worker, on_started

    def handle_exit(self, sig: int, frame: FrameType | None) -> None:
        # A worker gets Ctrl-C's SIGINT from the terminal and its parent's SIGTERM: as one signal,
        # never uvicorn's second-SIGINT forced exit (which would cut off the requests in flight).
        super().handle_exit(signal.SIGTERM if self.worker else sig, frame)

    async def serve(self, sockets: list[socket.socket] | None = None) -> None:
        # Signals are caught around the lifespan too: a SIGTERM while the store opens stops the
        # start cleanly, and the lifespan's shutdown runs before uvicorn re-raises the signal.
        with self.capture_signals():
            # Bound here (listening only once the store is open): a port in use is one line of
            # ours, before the store is touched, instead of uvicorn's log line and exit status 3.
            if sockets is None:
                sockets = bind(self.config.host, self.config.port)
            lifespan = self.app.router.lifespan_context(self.app)
            try:
                await lifespan.__aenter__()
            except Exception as exc:
                for sock in sockets:
                    sock.close()
                await _sqlite_threads_stopped()
                raise StartupFailed(f"cannot open the store {self.store}: {_reason(exc)}") from None
            try:
                await self._serve(sockets)
            finally:
                await lifespan.__aexit__(None, None, None)
            if self.started and not self.worker:
                log.info("switchboard stopped")

    async def startup(self, sockets: list[socket.socket] | None = None) -> None:
        await super().startup(sockets)
        if not self.started:
            return
        if sockets is not None and not self.worker:  # uvicorn logs where it listens only on sockets it bound
            self._log_started_message(sockets)
        if self.on_started is not None:
            self.on_started()

    def _log_started_message(self, listeners: Sequence[socket.SocketType]) -> None:
        runtime = self.app.state.runtime
        log_listening(listeners, self.store, runtime.store.resource_version, runtime.proxies.describe())


def log_listening(
    listeners: Sequence[socket.SocketType], store: str, version: int, proxies: str | None, workers: int = 1
) -> None:
    """The one line that says a server listens (and the one on its outgoing proxies, if any)."""
    host, port = listeners[0].getsockname()[:2]
    host = f"[{host}]" if ":" in host else host
    engine = "uvloop" if _loop_factory() is not None else "asyncio"
    log.info(
        "switchboard %s listening on http://%s:%d, store %s at resource version %d (%s, %s)%s",
        switchboard_version(),
        host,
        port,
        store,
        version,
        engine,
        "httptools" if "HttpTools" in _http().__name__ else "h11",
        f", {workers} worker processes" if workers > 1 else "",
    )
    if proxies is not None:
        log.info("outgoing HTTP: %s", proxies)


def bind(host: str, port: int) -> list[socket.socket]:
    """Sockets bound to host:port as asyncio's create_server binds them (every address the host
    resolves to, SO_REUSEADDR, IPv6 sockets IPv6-only); not yet listening."""
    bound: list[socket.socket] = []
    try:
        addresses = socket.getaddrinfo(host or None, port, type=socket.SOCK_STREAM, flags=socket.AI_PASSIVE)
        for family, kind, proto, _, address in dict.fromkeys(addresses):
            sock = socket.socket(family, kind, proto)
            bound.append(sock)
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            if family == socket.AF_INET6 and hasattr(socket, "IPPROTO_IPV6"):
                sock.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 1)
            sock.bind(address)
    except OSError as exc:
        for sock in bound:
            sock.close()
        where = f"[{host}]:{port}" if ":" in host else f"{host}:{port}"
        if exc.errno == errno.EADDRINUSE:
            raise StartupFailed(
                f"cannot listen on {where}: the port is already in use (another server?); "
                "choose another with --port (or the port setting)"
            ) from None
        raise StartupFailed(f"cannot listen on {where}: {exc.strerror or exc}") from None
    return bound


def uvicorn_config(app: Starlette, host: str, port: int, config: Config, backlog: int) -> uvicorn.Config:
    return uvicorn.Config(
        app,
        host=host,
        port=port,
        http=guarded(_http(), config.header_timeout_seconds, config.body_timeout_seconds, config.max_connections),
        backlog=backlog,
        # A websocket message is at most what an HTTP body may be (a larger one closes the socket
        # with 1009); GraphQL documents have their own, smaller, limit.
        ws_max_size=config.max_body_bytes,
        timeout_keep_alive=config.keep_alive_seconds,
        lifespan="off",  # run by _Server.serve, around uvicorn
        log_config=None,  # configured by rpc/logs.py
        log_level=None,
        access_log=False,  # replaced by rpc/logs.py's RequestLog
    )


def build_app(config: Config) -> Starlette:
    try:
        return create_app(config)
    except InvalidProxy as exc:
        raise StartupFailed(str(exc)) from None
    except Exception as exc:  # e.g. a URL scheme no driver serves
        raise StartupFailed(f"cannot use the store {redacted(config.database_url)}: {_reason(exc)}") from None


async def open_store_once(app: Starlette) -> int:
    """Open the app's store (creating its schema) and close it again: its resource version. What
    `serve --workers N` checks before it starts any worker."""
    store = app.state.runtime.store
    try:
        await store.open()
    except Exception as exc:
        await _sqlite_threads_stopped()
        where = redacted(app.state.config.database_url)
        raise StartupFailed(f"cannot open the store {where}: {_reason(exc)}") from None
    try:
        return int(store.resource_version)
    finally:
        await store.close()


def serve(config: Config, host: str | None = None, port: int | None = None, workers: int | str | None = None) -> None:
    """`workers` overrides the `workers` setting (a number, or "auto")."""
    configure(config.log_level, config.log_format)
    quiet_descriptor_exhaustion()
    cap, sockets, backlog = connection_limits(config.max_connections, config.max_websockets)
    config = msgspec.structs.replace(config, max_connections=cap, max_websockets=sockets)
    store = redacted(config.database_url)
    app = build_app(config)
    host, port = host or config.host, port or config.port
    count = worker_count(config.workers if workers is None else workers)
    if count > 1:
        from rpc.workers import supervise

        supervise(app, config, host, port, backlog, count)
        return
    server = _Server(uvicorn_config(app, host, port, config, backlog), app, store)
    with asyncio.Runner(loop_factory=_loop_factory()) as runner:
        runner.run(server.serve())


def cores() -> int:
    """The cores this process may run on: its CPU affinity, within a cgroup v2 CPU quota (a
    container's `--cpus`), at least 1."""
    try:
        count = len(os.sched_getaffinity(0))
    except AttributeError:  # not on Linux
        count = os.cpu_count() or 1
    with contextlib.suppress(OSError, ValueError):
        quota, period = Path("/sys/fs/cgroup/cpu.max").read_text().split()[:2]
        if quota != "max":
            count = min(count, math.ceil(int(quota) / int(period)))
    return max(1, count)


def worker_count(setting: int | str) -> int:
    """The number of worker processes the `workers` setting asks for ("auto": one per core)."""
    return cores() if setting == "auto" else int(setting)
