"""Metabase's errors, each a class carrying its status and body, and Switchboard's refusals in
Metabase's words (rendered in one place, rpc/metabase.py).

A body that is text is answered as text/plain (Metabase's `Not found.`, `Unauthenticated`, ...),
anything else as JSON (`{"errors": {field: message}}`, `{"message": ...}`).
"""

from __future__ import annotations

from typing import Any

from metadata.errors import AccessDenied, NotExists, RateLimited, SwitchboardError, Unauthorized


class MetabaseError(Exception):
    status = 400
    body: Any = "An error occurred."

    def __init__(self, body: Any = None, status: int | None = None, headers: dict[str, str] | None = None) -> None:
        super().__init__(str(body))
        if body is not None:
            self.body = body
        if status is not None:
            self.status = status
        self.headers = headers or {}


class Unauthenticated(MetabaseError):
    status, body = 401, "Unauthenticated"


class Forbidden(MetabaseError):
    status, body = 403, "You don't have permissions to do that."


class NotFound(MetabaseError):
    status, body = 404, "Not found."


class Invalid(MetabaseError):
    """Invalid input, each bad field named: {"errors": {field: message}, "specific-errors": ...}."""

    def __init__(self, errors: dict[str, str], specific: dict[str, list[str]] | None = None, status: int = 400) -> None:
        body: dict[str, Any] = {"errors": errors}
        if specific is not None:
            body["specific-errors"] = specific
        super().__init__(body, status)


class Failed(MetabaseError):
    """A refusal with a message: {"message": ..., **more}."""

    def __init__(self, message: str, status: int = 400, **more: Any) -> None:
        super().__init__({"message": message, **more}, status)


PUBLIC_SHARING_OFF = MetabaseError("Public sharing is not enabled.")


def actions_disabled(database_id: int) -> Failed:
    return Failed(
        "Actions are not enabled.",
        cause="Actions are not enabled.",
        data={"database-id": database_id, "status-code": 400},
    )


def from_switchboard(exc: SwitchboardError) -> MetabaseError:
    """A Switchboard refusal as Metabase would answer it."""
    if isinstance(exc, RateLimited):
        wait = (exc.headers or {}).get("Retry-After", "1")
        text = f"Too many attempts! You must wait {wait} seconds before trying again."
        return MetabaseError(text, 429, {"Retry-After": wait})
    if isinstance(exc, Unauthorized):
        return Unauthenticated()
    if isinstance(exc, AccessDenied):
        return Forbidden()
    more: dict[str, Any] = {}
    if exc.extensions is not None:
        more["errors"] = exc.extensions
    return Failed(exc.message, 400 if exc.status < 500 or isinstance(exc, NotExists) else exc.status, **more)
