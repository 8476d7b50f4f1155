"""A keep-alive HTTP/1.1 client on the server's own event loop, parsing with httptools (llhttp).

Why not a general client library: a webhook call is most of a synchronous run's time, and measured
in the server (bench/run_action.py, docs/benchmarks.md) aiohttp's client cost about twice the CPU
of this one, and a Rust client in a thread of its own (pyreqwest) saved nothing once the server
was busy, its thread and the loop's taking turns at the GIL. This one does what webhooks, `http`
actions and the JWK set need, and no more:
* `http://` and `https://` (TLS with the system's trust store and SNI), one request at a time per
  connection, idle connections kept per origin for IDLE_SECONDS and reused newest first;
* through a forward proxy: an absolute-form request for `http://`, a CONNECT tunnel for
  `https://`, each with the proxy's Proxy-Authorization when it has one;
* redirects followed up to MAX_REDIRECTS, as aiohttp did (303, and 301/302 of a POST, go on as a
  GET without the body);
* gzip and deflate bodies decoded (none is asked for: no Accept-Encoding is sent);
* a request that finds its reused connection closed by the server before any answer came is sent
  once more on a new one (the server closed an idle connection, so it never read the request).
Errors: TimeoutError past the timeout (the connection is dropped), OSError when the server cannot
be reached or hangs up, ValueError for a URL or header that cannot be sent (nothing is sent),
TooManyRedirects, BadAnswer for an answer that is not HTTP.
"""

from __future__ import annotations

import asyncio
import base64
import re
import ssl
import time
import zlib
from functools import lru_cache
from typing import NamedTuple, cast
from urllib.parse import quote, unquote, urljoin, urlsplit

import httptools

IDLE_SECONDS = 4.0  # under the 5 s idle limit of uvicorn's and Node's servers
MAX_IDLE_PER_ORIGIN = 256
MAX_REDIRECTS = 10
_REDIRECTS = frozenset({301, 302, 303, 307, 308})
_FRAMING = frozenset({"content-length", "transfer-encoding"})  # the client's to write, and a body's end
# RFC 9110's token characters (header names) and what a URL's path and query may hold as is.
_TOKEN = frozenset(b"!#$%&'*+-.^_`|~0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ")
_URL_SAFE = "/?#[]@!$&'()*+,;=%:-._~"
_CONTROL = re.compile("[\x00-\x08\x0a-\x1f\x7f]")  # no header value holds them (RFC 9110 5.5), tab aside


class Reply(NamedTuple):
    status: int
    headers: list[tuple[str, str]]  # as the server wrote them, in order
    body: bytes

    def header(self, name: str) -> str | None:
        name = name.lower()
        for key, value in self.headers:
            if key.lower() == name:
                return value
        return None

    def headers_named(self, name: str) -> list[str]:
        name = name.lower()
        return [v for k, v in self.headers if k.lower() == name]


class TooManyRedirects(Exception):
    pass


class BadAnswer(Exception):
    """The server's answer is not HTTP/1.x."""


class Target(NamedTuple):
    """Where a URL's request goes: the origin to connect to, and what the request line and Host
    header say."""

    https: bool
    host: str
    port: int
    path: str  # origin-form (/path?query)
    host_header: str
    authorization: str | None  # from user:password@ in the URL


@lru_cache(maxsize=1024)  # most actions call one URL
def target(url: str) -> Target:
    parts = urlsplit(url)
    scheme = parts.scheme.lower()
    if scheme not in ("http", "https") or not parts.hostname:
        raise ValueError(f"not an absolute http(s) URL: {url!r}")
    https = scheme == "https"
    port = parts.port or (443 if https else 80)  # ValueError for a port out of range
    host = parts.hostname.encode("idna").decode("ascii")
    shown = f"[{host}]" if ":" in host else host
    host_header = shown if parts.port is None else f"{shown}:{port}"
    path = quote(parts.path or "/", safe=_URL_SAFE) + (f"?{quote(parts.query, safe=_URL_SAFE)}" if parts.query else "")
    authorization = None
    if parts.username is not None:
        authorization = basic_credentials(unquote(parts.username), unquote(parts.password or ""))
    return Target(https, host, port, path, host_header, authorization)


def basic_credentials(user: str, password: str) -> str:
    """An Authorization (or Proxy-Authorization) header's Basic value."""
    return "Basic " + base64.b64encode(f"{user}:{password}".encode()).decode()


def _head(method: str, request_target: str, host: str, headers: dict[str, str], length: int | None) -> bytes:
    lines = [f"{method} {request_target} HTTP/1.1", f"Host: {host}"]
    for name, value in headers.items():
        if not name or not _TOKEN.issuperset(name.encode("latin-1", "replace")):
            raise ValueError(f"invalid header name {name!r}")
        if _CONTROL.search(value):
            raise ValueError(f"invalid value of header {name!r}: a control character")
        lines.append(f"{name}: {value}")
    if length is not None:
        lines.append(f"Content-Length: {length}")
    lines += ("", "")
    return "\r\n".join(lines).encode("utf-8")


class _Connection(asyncio.Protocol):
    """One HTTP/1.1 connection, one exchange at a time."""

    def __init__(self) -> None:
        self.transport: asyncio.Transport | None = None
        self.parser = httptools.HttpResponseParser(self)
        self.waiter: asyncio.Future[Reply] | None = None
        self.headers: list[tuple[str, str]] = []
        self.body: list[bytes] = []
        self.answered = False  # some of the answer came
        self.bodiless = False  # the answer to a HEAD or a CONNECT: done with its headers
        self.keep_alive = False
        self.headers_done = False
        self.timer: asyncio.TimerHandle | None = None
        self.idle_since = 0.0

    # -- asyncio.Protocol --
    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = cast(asyncio.Transport, transport)  # uvloop's are not asyncio.Transport's subclasses

    def data_received(self, data: bytes) -> None:
        self.answered = True
        try:
            self.parser.feed_data(data)
        except httptools.HttpParserError as exc:
            self._fail(BadAnswer(f"the answer is not HTTP/1.x ({exc})"))
            self.close()

    def connection_lost(self, exc: Exception | None) -> None:
        self.transport = None
        waiter = self.waiter
        if waiter is None or waiter.done():
            return
        if self.headers_done and not any(name.lower() in _FRAMING for name, _ in self.headers):
            self._complete()  # a body without a length ends where the connection does
        else:
            self._fail(exc or ConnectionResetError("the server closed the connection"))

    # -- httptools callbacks --
    def on_message_begin(self) -> None:
        self.headers, self.body, self.headers_done = [], [], False

    def on_header(self, name: bytes, value: bytes) -> None:
        self.headers.append((name.decode("latin-1"), value.decode("latin-1")))

    def on_headers_complete(self) -> None:
        self.headers_done = True
        if self.bodiless:
            self._complete()

    def on_body(self, body: bytes) -> None:
        self.body.append(body)

    def on_message_complete(self) -> None:
        self.keep_alive = self.parser.should_keep_alive()  # asked now: the parser forgets it next
        self._complete()

    # --
    def _complete(self) -> None:
        waiter = self.waiter
        if waiter is not None and not waiter.done():
            status = self.parser.get_status_code()
            if 100 <= status < 200:  # an interim answer: the real one follows
                return
            self._stop_timer()
            waiter.set_result(Reply(status, self.headers, b"".join(self.body)))

    def _fail(self, exc: BaseException) -> None:
        self._stop_timer()
        if self.waiter is not None and not self.waiter.done():
            self.waiter.set_exception(exc)

    def _stop_timer(self) -> None:
        if self.timer is not None:
            self.timer.cancel()
            self.timer = None

    def send(self, data: bytes, deadline: float, bodiless: bool = False) -> asyncio.Future[Reply]:
        """The answer to `data`; TimeoutError at `deadline` (the loop's clock): a timer of the
        loop's, cheaper on the run path than a task's timeout scope."""
        assert self.transport is not None
        self.answered, self.headers_done, self.bodiless, self.keep_alive = False, False, bodiless, False
        loop = asyncio.get_running_loop()
        self.waiter = loop.create_future()
        self.timer = loop.call_at(deadline, self._expire)
        self.transport.write(data)
        return self.waiter

    def _expire(self) -> None:
        self._fail(TimeoutError())
        self.close()

    def closed(self) -> bool:
        return self.transport is None or self.transport.is_closing()

    def usable(self, now: float) -> bool:
        """Kept idle, still open, and not for too long."""
        return not self.closed() and now - self.idle_since < IDLE_SECONDS

    def close(self) -> None:
        self._stop_timer()
        if self.transport is not None:
            self.transport.close()


Origin = tuple[bool, str, int, str | None, str | None]  # https, host, port, proxy, proxy authorization


class Client:
    def __init__(self) -> None:
        self._idle: dict[Origin, list[_Connection]] = {}
        self._next_sweep = 0.0
        self._tls: ssl.SSLContext | None = None

    async def request(
        self,
        method: str,
        url: str,
        headers: dict[str, str],
        body: bytes | None,
        timeout: float,
        proxy: str | None = None,
        proxy_authorization: str | None = None,
    ) -> Reply:
        deadline = asyncio.get_running_loop().time() + timeout
        for _ in range(MAX_REDIRECTS + 1):
            reply = await self._exchange(method, url, headers, body, proxy, proxy_authorization, deadline)
            if reply.status not in _REDIRECTS:
                return reply
            location = reply.header("location")
            if location is None:
                return reply
            url = urljoin(url, location)
            if reply.status == 303 or (reply.status in (301, 302) and method == "POST"):
                method, body = ("HEAD" if method == "HEAD" else "GET"), None
                headers = {k: v for k, v in headers.items() if k.lower() != "content-type"}
        raise TooManyRedirects(f"more than {MAX_REDIRECTS} redirects")

    async def _exchange(
        self,
        method: str,
        url: str,
        headers: dict[str, str],
        body: bytes | None,
        proxy: str | None,
        auth: str | None,
        deadline: float,
    ) -> Reply:
        to = target(url)
        given = {k.lower() for k in headers}
        host = to.host_header
        if not given.isdisjoint(_FRAMING) or "host" in given:  # a transform's Host wins; framing is ours
            host = next((v for k, v in headers.items() if k.lower() == "host"), host)
            headers = {k: v for k, v in headers.items() if k.lower() not in _FRAMING and k.lower() != "host"}
        extra = {} if "accept" in given else {"Accept": "*/*"}
        if to.authorization is not None and "authorization" not in given:
            extra["Authorization"] = to.authorization
        request_target = to.path
        if proxy is not None and not to.https:  # the proxy forwards it: absolute-form, its credentials
            request_target = f"http://{to.host_header}{to.path}"
            if auth is not None:
                extra["Proxy-Authorization"] = auth
        length = len(body) if body is not None else (0 if method in ("POST", "PUT", "PATCH") else None)
        data = _head(method, request_target, host, {**headers, **extra}, length) + (body or b"")
        origin: Origin = (to.https, to.host, to.port, proxy, auth)
        while True:
            connection, reused = self._take(origin), True
            if connection is None:
                async with asyncio.timeout_at(deadline):
                    connection, reused = await self._connect(to, proxy, auth, deadline), False
            try:
                reply = await connection.send(data, deadline, bodiless=method == "HEAD")
            except TimeoutError:
                connection.close()
                raise
            except OSError:
                connection.close()
                if reused and not connection.answered:
                    continue  # an idle connection the server had closed: once more, on a new one
                raise
            except BaseException:  # cancelled, not HTTP: the connection is unusable
                connection.close()
                raise
            break
        if method == "HEAD" or not connection.keep_alive or connection.closed():  # a HEAD's body is not framed
            connection.close()
        else:
            self._give_back(origin, connection)
        return _decoded(reply)

    def _take(self, origin: Origin) -> _Connection | None:
        idle = self._idle.get(origin)
        now = time.monotonic()
        while idle:
            connection = idle.pop()
            if connection.usable(now):
                return connection
            connection.close()
        return None

    def _give_back(self, origin: Origin, connection: _Connection) -> None:
        now = connection.idle_since = time.monotonic()
        idle = self._idle.setdefault(origin, [])
        if len(idle) >= MAX_IDLE_PER_ORIGIN:
            idle.pop(0).close()
        idle.append(connection)
        if now >= self._next_sweep:  # close what other origins left idle, forget origins no longer called
            self._next_sweep = now + IDLE_SECONDS
            for key, connections in list(self._idle.items()):
                for stale in [c for c in connections if not c.usable(now)]:
                    stale.close()
                    connections.remove(stale)
                if not connections:
                    del self._idle[key]

    async def _connect(self, to: Target, proxy: str | None, auth: str | None, deadline: float) -> _Connection:
        loop = asyncio.get_running_loop()
        tls = self._tls_context() if to.https else None
        if proxy is None:
            _, connection = await loop.create_connection(
                _Connection, to.host, to.port, ssl=tls, server_hostname=to.host if tls else None
            )
            return connection
        via = target(proxy)
        transport, connection = await loop.create_connection(_Connection, via.host, via.port)
        if tls is None:
            return connection
        # https:// through the proxy: a CONNECT tunnel, then TLS with the server inside it.
        tunnel = {"Proxy-Authorization": auth} if auth is not None else {}
        authority = f"[{to.host}]:{to.port}" if ":" in to.host else f"{to.host}:{to.port}"
        try:
            answer = await connection.send(_head("CONNECT", authority, authority, tunnel, None), deadline, True)
        except BaseException:
            connection.close()
            raise
        if not 200 <= answer.status < 300:
            connection.close()
            raise ConnectionRefusedError(f"the proxy refused the tunnel to {authority} ({answer.status})")
        inner = _Connection()
        secured = await loop.start_tls(transport, inner, tls, server_hostname=to.host)
        assert secured is not None
        inner.connection_made(secured)
        return inner

    def _tls_context(self) -> ssl.SSLContext:
        if self._tls is None:
            self._tls = ssl.create_default_context()
        return self._tls

    def close(self) -> None:
        idle, self._idle = self._idle, {}
        for connections in idle.values():
            for connection in connections:
                connection.close()


def _decoded(reply: Reply) -> Reply:
    encoding = reply.header("content-encoding")
    if encoding is None or not reply.body:
        return reply
    encoding = encoding.strip().lower()
    try:
        if encoding in ("gzip", "x-gzip"):
            return reply._replace(body=zlib.decompress(reply.body, 16 + zlib.MAX_WBITS))
        if encoding == "deflate":
            try:
                return reply._replace(body=zlib.decompress(reply.body))
            except zlib.error:  # raw deflate, as some servers send it
                return reply._replace(body=zlib.decompress(reply.body, -zlib.MAX_WBITS))
    except zlib.error as exc:
        raise BadAnswer(f"the answer's {encoding} body does not decode ({exc})") from None
    return reply
