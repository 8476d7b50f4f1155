"""JSON responses, errors included, rendered in one place with one encoder."""

from __future__ import annotations

import logging
from typing import Any

import msgspec
from starlette.responses import Response

from metadata.errors import SwitchboardError

log = logging.getLogger("switchboard")
_encode = msgspec.json.Encoder().encode


def json_response(body: Any, status: int = 200, headers: dict[str, str] | None = None) -> Response:
    return Response(_encode(body), status_code=status, media_type="application/json", headers=headers)


def error_response(exc: SwitchboardError, admin: bool) -> Response:
    body: dict[str, Any] = {"path": exc.path, "error": exc.message, "code": exc.code}
    if exc.extensions is not None:
        body["extensions"] = exc.extensions
    if admin and exc.internal is not None:
        body["internal"] = exc.internal
    return json_response(body, exc.status, exc.headers)


def bug_response(exc: BaseException) -> Response:
    log.error("unexpected error", exc_info=exc)
    return json_response({"path": "$", "error": "unexpected error", "code": "unexpected"}, 500)
