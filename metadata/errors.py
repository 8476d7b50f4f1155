"""The error vocabulary: every refusal is one of these classes, carrying its code and status.

A path is relative to the object being decoded: `$` is its root. Whoever decodes a nested
object re-roots the path with `within`, so the error finally names the offending input
(`$.args.definition.headers[0]`, `$.args[2].args.name`) without any layer knowing its parents.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any


class SwitchboardError(Exception):
    code = "unexpected"
    status = 500
    extensions: object = None  # an action handler's own error extensions, passed through
    # Errors about something other than the input (an action handler's answer) stay at `$`.
    absolute = False
    headers: dict[str, str] | None = None  # response headers (Retry-After)

    def __init__(self, message: str, path: str = "$", internal: Any = None) -> None:
        super().__init__(message)
        self.message = message
        self.path = path
        self.internal = internal

    def within(self, prefix: str) -> SwitchboardError:
        """Re-root the path under `prefix` (itself a `$`-rooted path)."""
        if not self.absolute:
            self.path = prefix + self.path[1:]
        return self


class ParseFailed(SwitchboardError):
    code, status = "parse-failed", 400


class InvalidJson(SwitchboardError):
    code, status = "invalid-json", 400


class ValidationFailed(SwitchboardError):
    code, status = "validation-failed", 400


class AlreadyExists(SwitchboardError):
    code, status = "already-exists", 400


class NotExists(SwitchboardError):
    code, status = "not-exists", 400


class InvalidConfiguration(SwitchboardError):
    code, status = "invalid-configuration", 400


class ConstraintViolation(SwitchboardError):
    code, status = "constraint-violation", 400


class DependencyError(SwitchboardError):
    """Other objects still use the one being dropped."""

    code, status = "dependency-error", 400


class RateLimited(SwitchboardError):
    code, status, absolute = "rate-limited", 429, True

    def __init__(self, message: str, retry_after: int) -> None:
        super().__init__(message)
        self.headers = {"Retry-After": str(retry_after)}


class AccessDenied(SwitchboardError):
    """A known caller asking for something its role may not do (Hasura answers 400)."""

    code, status = "access-denied", 400


class Unauthorized(SwitchboardError):
    """Missing or wrong credentials."""

    code, status = "access-denied", 401


class Conflict(SwitchboardError):
    code, status = "conflict", 409


class Unavailable(SwitchboardError):
    code, status = "unavailable", 503


@contextmanager
def rooted(prefix: str) -> Iterator[None]:
    """Errors raised inside are re-rooted under `prefix`."""
    try:
        yield
    except SwitchboardError as exc:
        raise exc.within(prefix) from None
