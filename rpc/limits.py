"""What one client may cost the server: its body's size and time, the time to send a request's
head, and a share of the open connections.

* Bodies are read incrementally: a declared Content-Length past `max_body_bytes` is refused
  before anything is read, and a streamed body as soon as it passes the limit (413); a body
  that takes longer than `body_timeout_seconds` after its request's head is answered 408.
* A connection must deliver each request's head within `header_timeout_seconds` (from when it
  opened, or from the end of its previous response), else it is closed: slow-header clients
  (slowloris) cannot hold connections open. Idle keep-alive connections close after
  `keep_alive_seconds` (uvicorn's own timer). Both timeouts are checked by one sweep over the
  connections, twice a second: the run path sets no timer per request.
* At most `max_connections` HTTP connections are open. One more arrives: the connection idle the
  longest (no request in flight: waiting for a head, or kept alive) is closed to make room, so a
  flood of idle or slow connections never keeps `/healthz` (or anyone) out; when every connection
  is busy, the newcomer is closed instead. Websockets are not HTTP connections once upgraded:
  they have a cap of their own (rpc/graphql_ws.py), so however many are open, HTTP gets through.
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
from rpc.coalesce import CoalescingTransport

log = logging.getLogger("switchboard")
FD_RESERVE = 128  # descriptors kept for the store, data sources, webhooks and files


class PayloadTooLarge(SwitchboardError):
    code, status, absolute = "payload-too-large", 413, True


# Written by the connection itself when a body is too slow (the app is still waiting for it).
_TIMED_OUT = b'{"path":"$","error":"the request body was not received in time","code":"request-timeout"}'
REQUEST_TIMEOUT = (
    b"HTTP/1.1 408 Request Timeout\r\ncontent-type: application/json\r\nconnection: close\r\n"
    + f"content-length: {len(_TIMED_OUT)}\r\n\r\n".encode()
    + _TIMED_OUT
)
SWEEP_SECONDS = 0.5  # how often connections are checked for a head or a body that is too slow


async def read_body(request: Request, max_bytes: int) -> bytes:
    """The whole body, refused past `max_bytes` without reading the rest. (A body that takes too
    long is the connection's to cut off: see `guarded`.)"""
    declared = request.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > max_bytes:
        raise PayloadTooLarge(f"the request body is larger than {max_bytes} bytes")
    chunks: list[bytes] = []
    size = 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > max_bytes:
            raise PayloadTooLarge(f"the request body is larger than {max_bytes} bytes")
        chunks.append(chunk)
    return b"".join(chunks)


def guarded(base: type[Any], header_timeout: float, body_timeout: float, max_connections: int) -> type[Any]:
    """uvicorn's HTTP protocol class `base` (h11 or httptools) with the head and body timeouts
    and the connection cap, writing each answer in one piece (rpc/coalesce.py). Both keep
    `cycle` (the request in flight, with `more_body` until its body is in) and call
    `on_response_complete`.

    No timer is set per request: a sweep every SWEEP_SECONDS, while connections are open, closes
    those waiting too long for a head and answers 408 to those waiting too long for a body.
    """

    class Guarded(base):  # type: ignore[misc]
        idle_since: float | None = None  # waiting for a request's head since (None: one in flight)
        body_since: float | None = None  # the head arrived but not yet the whole body
        sweeping: asyncio.TimerHandle | None = None  # one sweep for every connection (a class attribute)
        open = 0  # HTTP connections open (a class attribute: uvicorn's set holds websockets too)
        counted = False  # this one is among them

        def connection_made(self, transport: asyncio.Transport) -> None:
            super().connection_made(CoalescingTransport(transport, self.loop))
            self.idle_since = time.monotonic()
            self.counted = True
            Guarded.open += 1
            if Guarded.sweeping is None:
                Guarded.sweeping = self.loop.call_later(SWEEP_SECONDS, _sweep, self.loop, self.connections)
            if Guarded.open > max_connections:
                idle = [
                    (c.idle_since, c)
                    for c in self.connections
                    if isinstance(c, Guarded) and c.idle_since is not None and c is not self
                ]
                victim = min(idle, key=lambda pair: pair[0])[1] if idle else self
                victim.transport.close()

        def connection_lost(self, exc: Exception | None) -> None:
            self._uncount()
            super().connection_lost(exc)

        def _uncount(self) -> None:
            if self.counted:
                self.counted = False
                Guarded.open -= 1

        def data_received(self, data: bytes) -> None:
            super().data_received(data)
            cycle = self.cycle
            if self.transport.get_protocol() is not self:  # upgraded to a websocket: no longer ours
                self.idle_since = self.body_since = None
                self._uncount()
            elif cycle is not None and not cycle.response_complete:
                if self.idle_since is not None:  # a request's head arrived
                    self.idle_since = None
                    self.body_since = time.monotonic() if cycle.more_body else None
                elif not cycle.more_body:
                    self.body_since = None

        def on_response_complete(self) -> None:
            super().on_response_complete()
            self.idle_since, self.body_since = time.monotonic(), None

        def too_slow(self, now: float) -> None:
            if self.idle_since is not None and now - self.idle_since > header_timeout:
                self.transport.close()
            elif self.body_since is not None and now - self.body_since > body_timeout:
                self.body_since = None
                cycle = self.cycle
                if cycle is not None and not cycle.response_started:
                    self.transport.write(REQUEST_TIMEOUT)
                    # The app still waits for the body: it hears of a disconnect, and whatever it
                    # answers goes nowhere.
                    cycle.disconnected = True
                    cycle.message_event.set()
                self.transport.close()

    def _sweep(loop: asyncio.AbstractEventLoop, connections: set[Any]) -> None:
        now = time.monotonic()
        for connection in list(connections):
            if isinstance(connection, Guarded) and not connection.transport.is_closing():
                connection.too_slow(now)
        Guarded.sweeping = loop.call_later(SWEEP_SECONDS, _sweep, loop, connections) if connections else None

    Guarded.__name__ = Guarded.__qualname__ = f"Guarded{base.__name__}"
    return Guarded


def connection_limits(wanted: int, websockets: int) -> tuple[int, int, int]:
    """(HTTP connection cap, websocket cap, listen backlog) that fit in this process's descriptors,
    raised as far as allowed first. asyncio accepts up to `backlog` connections at a time before
    any of them can be closed, so the caps leave room for a burst or two beside the store's and
    webhooks' own. When both caps do not fit, each is lowered in proportion."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft < hard:
        try:
            resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
            soft = hard
        except (ValueError, OSError):
            pass
    room = max(64, soft - FD_RESERVE)
    fits = room * 3 // 4
    cap, sockets = wanted, websockets
    if wanted + websockets > fits:
        cap = max(1, fits * wanted // (wanted + websockets))
        sockets = max(1, fits - cap)
        log.warning(
            "max_connections %d lowered to %d and max_websockets %d to %d: this process may open %d files",
            wanted, cap, websockets, sockets, soft,
        )  # fmt: skip
    backlog = max(8, min(2048, (room - cap - sockets) // 2))
    return cap, sockets, backlog


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
