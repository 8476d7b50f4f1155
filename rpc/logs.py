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
import sys
import time
from datetime import UTC, datetime
from typing import IO, Any

import msgspec
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from handlers.telemetry import REQUEST_ID_HEADER, Metrics, begin, request_id

TRACE = 5  # uvicorn's level below DEBUG
LEVELS = {"critical": 50, "error": 40, "warning": 30, "info": 20, "debug": 10, "trace": TRACE}
access = logging.getLogger("switchboard.access")
_REQUEST_ID = REQUEST_ID_HEADER.encode()
_encode = msgspec.json.Encoder().encode


class _WithRequestId(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        record.request_id = request_id() or "-"
        return True


def _time(record: logging.LogRecord) -> str:
    return datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


class TextFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        line = f"{_time(record)} {record.levelname} {record.name} [{record.request_id}] {record.getMessage()}"  # type: ignore[attr-defined]
        if record.exc_info:
            line += "\n" + self.formatException(record.exc_info)
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
        entry.update(getattr(record, "fields", ()))
        if record.exc_info:
            entry["exception"] = self.formatException(record.exc_info)
        return _encode(entry).decode()


def configure(level: str, fmt: str, stream: IO[str] | None = None) -> None:
    handler = logging.StreamHandler(stream or sys.stderr)
    handler.addFilter(_WithRequestId())
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
    logging.getLogger("uvicorn.error").setLevel(max(LEVELS[level], logging.WARNING) if level != "trace" else TRACE)


def _printable(path: str) -> str:
    # scope["path"] is percent-decoded: %0A would otherwise start a forged log line.
    return path if path.isprintable() else path.encode("unicode_escape").decode()


class RequestLog:
    def __init__(self, app: ASGIApp, metrics: Metrics) -> None:
        self.app = app
        self.metrics = metrics

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        given = next((value for name, value in scope["headers"] if name == _REQUEST_ID), None)
        info = begin(None if given is None else given.decode("latin-1"))
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
            if access.isEnabledFor(logging.INFO):
                method, path, role = scope["method"], _printable(scope["path"]), info.role or "-"
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
