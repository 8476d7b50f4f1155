"""test_webhook_transform: Hasura's preview of a request transform, without sending anything.

Args {webhook_url, body, request_transform, session_variables?, request_headers?} (admin only).
`{{ENV}}` in webhook_url is resolved as a handler URL is. Answers Hasura's shape:
{webhook_url, method, headers: [[name, value], ...] (sorted), body} where body is the JSON the
webhook would get, the form-encoded string, or null when the transform removes it.

Errors: parse-failed (a malformed transform or a template that does not parse, with its field and
position), transformation-failed 400 (a template that fails on this body, with its position),
invalid-configuration (an unset or reserved environment variable in webhook_url).
"""

from __future__ import annotations

import os
import re
from typing import Any

from handlers.context import Context
from handlers.transforms import Request, TransformFailed, transform_request
from metadata.actions import check_env_name
from metadata.errors import InvalidConfiguration, ParseFailed, SwitchboardError
from metadata.strict import Strict
from metadata.transform_checks import validate_request_transform

_ENV = re.compile(r"\{\{\s*([^}\s]+)\s*\}\}")


class TestWebhookTransform(Strict):
    __test__ = False  # not a pytest class

    webhook_url: str
    request_transform: dict[str, Any]
    body: Any = None
    session_variables: dict[str, str] | None = None
    request_headers: dict[str, str] | None = None


class PreviewFailed(SwitchboardError):
    """The transform fails on the given body: the caller's input, so a 400."""

    code, status = "transformation-failed", 400


def _resolve(url: str) -> str:
    def env(match: re.Match[str]) -> str:
        name = match.group(1)
        try:
            check_env_name(name, "webhook_url")
        except ValueError as exc:
            raise InvalidConfiguration(str(exc), "$.webhook_url") from None
        value = os.environ.get(name)
        if value is None:
            message = f'the environment variable "{name}" used by webhook_url is not set'
            raise InvalidConfiguration(message, "$.webhook_url")
        return value

    return _ENV.sub(env, url)


async def test_webhook_transform(ctx: Context, args: TestWebhookTransform) -> dict[str, Any]:
    try:
        validate_request_transform(args.request_transform)
    except ValueError as exc:
        raise ParseFailed(str(exc), "$.request_transform") from None
    session = {k.lower(): v for k, v in (args.session_variables or {}).items()}
    headers = {k.lower(): v for k, v in (args.request_headers or {}).items()}
    request = Request("POST", _resolve(args.webhook_url), headers, args.body)
    try:
        request = transform_request(args.request_transform, request, session, invalid=True)
    except TransformFailed as exc:
        raise PreviewFailed(exc.message, "$.request_transform") from None
    return {
        "webhook_url": request.url,
        "method": request.method,
        "headers": [[name, value] for name, value in sorted(request.headers.items())],
        "body": None if request.removed else request.body,
    }
