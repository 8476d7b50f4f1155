"""GraphQL errors as Hasura gives them: {"message", "extensions": {"path", "code", "internal"?}}.

A handler's own `extensions` (a 4xx answer's) replace Hasura's {path, code} entirely, as Hasura
passes them on. `internal` is for admins only, and not on a handler's own refusal (Hasura shows
the exchange only when the handler's answer broke the contract).
"""

from __future__ import annotations

from typing import Any

from handlers.execution.webhook import ActionError
from metadata.errors import SwitchboardError

VALIDATION_FAILED = "validation-failed"


def error(message: str, path: str = "$", code: str = VALIDATION_FAILED) -> dict[str, Any]:
    return {"message": message, "extensions": {"path": path, "code": code}}


def from_switchboard(exc: SwitchboardError, admin: bool, path: str = "$") -> dict[str, Any]:
    if exc.extensions is not None:
        return {"message": exc.message, "extensions": exc.extensions}
    body = error(exc.message, path, exc.code)
    if admin and exc.internal is not None and not isinstance(exc, ActionError):
        body["extensions"]["internal"] = exc.internal
    return body


class RequestError(Exception):
    """The request cannot run at all (malformed, invalid for the schema, bad variables): nothing
    was executed. Over a websocket this is an `error` message rather than a result."""

    def __init__(self, *errors: dict[str, Any]) -> None:
        super().__init__(errors[0]["message"])
        self.errors = list(errors)

    @classmethod
    def of(cls, message: str, path: str = "$", code: str = VALIDATION_FAILED) -> RequestError:
        return cls(error(message, path, code))
