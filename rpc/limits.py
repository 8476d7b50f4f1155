"""What one client may cost the server: its body's size and time, the time to send a request's
head, and a share of the open connections.

* Bodies are read incrementally: a declared Content-Length past `max_body_bytes` is refused
  before anything is read, and a streamed body as soon as it passes the limit (413); a body
  that takes longer than `body_timeout_seconds` is refused with 408.
* A connection must deliver each request's head within `header_timeout_seconds` (from when it
  opened, or from the end of its previous response), else it is closed: slow-header clients
  (slowloris) cannot hold connections open. Idle keep-alive connections close after
  `keep_alive_seconds` (uvicorn's own timer).
* At most `max_connections` are open. One more arrives: the connection idle the longest (no
  request in flight: waiting for a head, or kept alive) is closed to make room, so a flood of
  idle or slow connections never keeps `/healthz` (or anyone) out; when every connection is
  busy, the newcomer is closed instead.
* Running out of file descriptors anyway is logged once a minute, not once per failed accept.
"""

from __future__ import annotations

import asyncio
import logging
import resource
import time
from typing import Any

from starlette.requests import Request

from metadata.errors import SwitchboardError

log = logging.getLogger("switchboard")
FD_RESERVE = 128  # descriptors kept for the store, data sources, webhooks and files


class PayloadTooLarge(SwitchboardError):
    code, status, absolute = "payload-too-large", 413, True


class RequestTimeout(SwitchboardError):
    code, status, absolute = "request-timeout", 408, True


async def read_body(request: Request, max_bytes: int, timeout: float) -> bytes:
    """The whole body, refused past `max_bytes` or `timeout` seconds without reading the rest."""
    declared = request.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > max_bytes:
        raise PayloadTooLarge(f"the request body is larger than {max_bytes} bytes")
    chunks: list[bytes] = []
    size = 0
    try:
        async with asyncio.timeout(timeout):
            async for chunk in request.stream():
                size += len(chunk)
                if size > max_bytes:
                    raise PayloadTooLarge(f"the request body is larger than {max_bytes} bytes")
                chunks.append(chunk)
    except TimeoutError:
        raise RequestTimeout(f"the request body was not received within {timeout:g} seconds") from None
    return b"".join(chunks)


def guarded(base: type[Any], header_timeout: float, max_connections: int) -> type[Any]:
    """uvicorn's HTTP protocol class `base` (h11 or httptools) with the head timeout and the
    connection cap. Both keep `cycle` (the request in flight) and call `on_response_complete`."""

    class Guarded(base):  # type: ignore[misc]
        _head_timer: asyncio.TimerHandle | None = None
        idle_since: float | None = None  # None while a request is in flight

        def connection_made(self, transport: asyncio.Transport) -> None:
            super().connection_made(transport)
            self._await_head()
            if len(self.connections) > max_connections:
                idle = [
                    (c.idle_since, c)
                    for c in self.connections
                    if isinstance(c, Guarded) and c.idle_since is not None and c is not self
                ]
                victim = min(idle, key=lambda pair: pair[0])[1] if idle else self
                victim.transport.close()

        def data_received(self, data: bytes) -> None:
            super().data_received(data)
            if self.transport.get_protocol() is not self:  # upgraded to a websocket
                self._stop_waiting()
            elif self.cycle is not None and not self.cycle.response_complete and self.idle_since is not None:
                self._stop_waiting()  # a request's head arrived

        def on_response_complete(self) -> None:
            super().on_response_complete()
            self._await_head()

        def connection_lost(self, exc: Exception | None) -> None:
            self._stop_waiting()
            super().connection_lost(exc)

        def _await_head(self) -> None:
            self._stop_waiting()
            self.idle_since = time.monotonic()
            self._head_timer = self.loop.call_later(header_timeout, self._head_too_slow)

        def _stop_waiting(self) -> None:
            self.idle_since = None
            if self._head_timer is not None:
                self._head_timer.cancel()
                self._head_timer = None

        def _head_too_slow(self) -> None:
            self._head_timer = None
            if self.idle_since is not None and not self.transport.is_closing():
                self.transport.close()

    Guarded.__name__ = Guarded.__qualname__ = f"Guarded{base.__name__}"
    return Guarded


def connection_limits(wanted: int) -> tuple[int, int]:
    """(connection cap, listen backlog) that fit in this process's descriptors, raised as far as
    allowed first. asyncio accepts up to `backlog` connections at a time before any of them can
    be closed, so the cap leaves room for a burst or two beside the store's and webhooks' own."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft < hard:
        try:
            resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
            soft = hard
        except (ValueError, OSError):
            pass
    room = max(64, soft - FD_RESERVE)
    cap = min(wanted, room * 3 // 4)
    backlog = max(8, min(2048, (room - cap) // 2))
    if cap < wanted:
        log.warning("max_connections %d lowered to %d: this process may open %d files", wanted, cap, soft)
    return cap, backlog


class OncePerMinute(logging.Filter):
    """Lets through one record a minute of those matching `fragments` (asyncio logs every failed
    accept when descriptors run out), saying how many it held back."""

    def __init__(self, *fragments: str, every: float = 60.0) -> None:
        super().__init__()
        self.fragments, self.every = fragments, every
        self.last = -every
        self.held = 0

    def filter(self, record: logging.LogRecord) -> bool:
        if not any(f in record.getMessage() for f in self.fragments):
            return True
        now = time.monotonic()
        if now - self.last < self.every:
            self.held += 1
            return False
        if self.held:
            record.msg = f"{record.getMessage()} ({self.held} more like it in the last minute)"
            record.args = ()
        record.exc_info = None  # the same traceback each time says nothing new
        self.last, self.held = now, 0
        return True


def quiet_descriptor_exhaustion() -> None:
    # Each failed accept is logged, and so is each retry of the listener that finds it closed at
    # shutdown: thousands of lines, all the same.
    fragments = ("out of system resource", "Too many open files", "_start_serving")
    logging.getLogger("asyncio").addFilter(OncePerMinute(*fragments))
