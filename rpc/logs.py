"""Logging, configured by the server itself, and the one access line per request.

`configure` sends every logger (Switchboard's, uvicorn's, the libraries') to stderr in one format,
`text` or `json` (one object per line), each line carrying the id of the request it belongs to
(`-` outside a request). `RequestLog` is the ASGI middleware that gives each request its id
(the caller's `X-Request-Id` when it is short and plain, else a new random one; returned in the
response's `X-Request-Id`), writes its access line (method, path, operation type, role, status,
duration, request id: never a header, a query string or a body, so never a secret) and counts
it in the metrics. It replaces uvicorn's access log.
"""

from __future__ import annotations

import logging
import re
import sys
import time
from datetime import UTC, datetime
from typing import IO, Any

import msgspec
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from handlers.telemetry import REQUEST_ID_HEADER, Metrics, begin, request_id
from handlers.tracing import TRACEPARENT, TRACESTATE, Tracing, continue_trace, finish_server

TRACE = 5  # uvicorn's level below DEBUG
LEVELS = {"critical": 50, "error": 40, "warning": 30, "info": 20, "debug": 10, "trace": TRACE}
access = logging.getLogger("switchboard.access")
_REQUEST_ID = REQUEST_ID_HEADER.encode()
_TRACEPARENT, _TRACESTATE = TRACEPARENT.encode(), TRACESTATE.encode()
# Requests no trace needs: probes and scrapes, every few seconds.
_UNTRACED = frozenset({"/healthz", "/metrics", "/v1/metrics"})
_encode = msgspec.json.Encoder().encode


class _WithRequestId(logging.Filter):
    def __init__(self, worker: int | None = None) -> None:
        super().__init__()
        self.worker = worker

    def filter(self, record: logging.LogRecord) -> bool:
        record.request_id = request_id() or "-"
        record.worker = self.worker  # which of `serve --workers N` wrote it (None: the only process)
        return True


def _time(record: logging.LogRecord) -> str:
    return datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


# What may not appear as itself in a text log line: line breaks of any kind (C0 and C1 controls,
# NEL, U+2028/2029) would let a value from a caller (a role, a handler's answer) start a forged
# line; lone surrogates (from JSON's "\ud800") cannot be written as UTF-8 at all.
_UNSAFE = re.compile("[\x00-\x1f\x7f-\x9f\u2028\u2029\ud800-\udfff]")


def _escape(match: re.Match[str]) -> str:
    code = ord(match.group())
    return f"\\x{code:02x}" if code < 0x100 else f"\\u{code:04x}"


def printable(text: str) -> str:
    """`text` on one line, every character writable: the unsafe ones as escapes."""
    return text if text.isprintable() else _UNSAFE.sub(_escape, text)


def _encodable(value: Any) -> Any:
    """`value` with lone surrogates escaped in every string (JSON escapes the rest)."""
    if isinstance(value, str):
        return value.encode("utf-8", "backslashreplace").decode()
    if isinstance(value, dict):
        return {_encodable(k): _encodable(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_encodable(v) for v in value]
    return value


class TextFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        message = printable(record.getMessage())
        worker = "" if getattr(record, "worker", None) is None else f" w{record.worker}"  # type: ignore[attr-defined]
        line = f"{_time(record)} {record.levelname} {record.name}{worker} [{record.request_id}] {message}"  # type: ignore[attr-defined]
        if record.exc_info:
            # A traceback spans lines of its own, each indented or named by Python: no line of it
            # passes for a log line. Only its text is made writable.
            line += "\n" + _encodable(self.formatException(record.exc_info))
        return line


class JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, Any] = {
            "time": _time(record),
            "level": record.levelname.lower(),
            "logger": record.name,
            "request_id": record.request_id,  # type: ignore[attr-defined]
            "message": record.getMessage(),
        }
        if getattr(record, "worker", None) is not None:
            entry["worker"] = record.worker  # type: ignore[attr-defined]
        entry.update(getattr(record, "fields", ()))
        if record.exc_info:
            entry["exception"] = self.formatException(record.exc_info)
        try:
            line = _encode(entry).decode()
        except UnicodeEncodeError:  # a lone surrogate somewhere: still one line of JSON
            line = _encode(_encodable(entry)).decode()
        # JSON may hold these as they are, but line-oriented readers (Python's splitlines,
        # JavaScript) take them for line breaks: written as escapes, which mean the same in JSON.
        return line if line.isprintable() else line.translate(_JSON_BREAKS)


_JSON_BREAKS = {0x85: "\\u0085", 0x2028: "\\u2028", 0x2029: "\\u2029"}


class _NoFrames(logging.Filter):
    """Drops the websockets library's debug lines (each frame, as sent and received); uvicorn's own
    lines at its trace level stay."""

    def filter(self, record: logging.LogRecord) -> bool:
        return record.levelno != logging.DEBUG


def configure(level: str, fmt: str, stream: IO[str] | None = None, worker: int | None = None) -> None:
    """`worker`: the number of this process among `serve --workers N`'s, written on each line."""
    handler = logging.StreamHandler(stream or sys.stderr)
    handler.addFilter(_WithRequestId(worker))
    handler.setFormatter(JsonFormatter() if fmt == "json" else TextFormatter())
    logging.addLevelName(TRACE, "TRACE")
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(LEVELS[level])
    for name in ("uvicorn", "uvicorn.error", "uvicorn.access", "uvicorn.asgi"):
        logger = logging.getLogger(name)
        logger.handlers.clear()
        logger.propagate = True
    # uvicorn's start and stop chatter gives way to Switchboard's one start-up line (its errors stay).
    uvicorn_error = logging.getLogger("uvicorn.error")
    uvicorn_error.setLevel(max(LEVELS[level], logging.WARNING) if level != "trace" else TRACE)
    # Secrets stay out of the log at every level: aiosqlite's debug lines hold every statement with
    # its parameters (metadata, a data source's password), and the websockets library logs every
    # frame at debug through uvicorn's logger (connection_init carries the credentials).
    logging.getLogger("aiosqlite").setLevel(max(LEVELS[level], logging.INFO))
    uvicorn_error.filters[:] = [_NoFrames()]


class RequestLog:
    """Also where a request's trace starts (handlers/tracing.py): the caller's `traceparent` and
    `tracestate` are kept on the request, and with tracing on, its SERVER span begins and ends here."""

    def __init__(self, app: ASGIApp, metrics: Metrics, tracing: Tracing | None = None) -> None:
        self.app = app
        self.metrics = metrics
        self.tracing = tracing

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        given = parent = state = None
        for name, value in scope["headers"]:
            if name == _REQUEST_ID:
                given = value
            elif name == _TRACEPARENT:
                parent = value if parent is None else b""  # twice: neither is the caller's
            elif name == _TRACESTATE:
                state = value if state is None else state + b"," + value  # one list, as W3C joins them
        info = begin(None if given is None else given.decode("latin-1"))
        if parent is not None:
            continue_trace(info, parent.decode("latin-1"), None if state is None else state.decode("latin-1"))
        span = None
        if self.tracing is not None and scope["path"] not in _UNTRACED:
            span = self.tracing.server(scope["method"], scope["path"], info)
        echoed = (_REQUEST_ID, info.request_id.encode())
        status = 500  # what the caller gets when the app fails before answering
        started = time.perf_counter()

        async def send_with_id(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
                message = {**message, "headers": [*message.get("headers", ()), echoed]}
            await send(message)

        try:
            await self.app(scope, receive, send_with_id)
        finally:
            seconds = time.perf_counter() - started
            operation = info.operation or "none"
            self.metrics.answered(operation, status, seconds)
            if span is not None:
                finish_server(span, scope["method"], status, _route(scope), info.operation, info.role)
            if access.isEnabledFor(logging.INFO):
                # scope["path"] is percent-decoded (%0A), and in the JSON line too it is better shown escaped.
                method, path, role = scope["method"], printable(scope["path"]), info.role or "-"
                fields = {"method": method, "path": path, "operation": info.operation, "role": info.role}
                fields |= {"status": status, "duration_ms": round(seconds * 1000, 2)}
                access.info(
                    "%s %s %s %s %d %.1fms",
                    method,
                    path,
                    info.operation or "-",
                    role,
                    status,
                    seconds * 1000,
                    extra={"fields": fields},
                )


def _route(scope: Scope) -> str | None:
    """The route a request took, as written (`/api/card/{id}`), for its span's name: None when no
    route matched (a span name must not grow with what callers send). POSTs to /v1/query,
    /v1/metadata and /v1/graphql skip the router (rpc/app.py's DirectRoute): their path is theirs."""
    path: str = scope["path"]
    if "endpoint" not in scope:
        return path if path in _DIRECT else None
    for name, value in scope.get("path_params", {}).items():
        path = path.replace(f"/{value}", f"/{{{name}}}", 1)
    return path


_DIRECT = frozenset({"/v1/query", "/v1/metadata", "/v1/graphql"})
