"""test_webhook_transform: Hasura's preview of a request transform, without sending anything.

Args (admin only), as Hasura's: {webhook_url, body, request_transform, response_transform?,
session_variables?, request_headers?, env?}. webhook_url is a URL (`{{VAR}}` allowed) or
{from_env: VAR}; as in Hasura, variables are read from the sample `env` given, never from the
server's environment. request_headers are {name: value} or [[name, value], ...]. Answers
Hasura's shape: {webhook_url, method, headers: [[name, value], ...] (sorted), body} where body is
the JSON the webhook would get, the form-encoded string, or null when the transform removes it.

Errors: parse-failed (a malformed transform), 400 validation-failed "request transform validation
failed" / "response transform validation failed" (a template that does not parse, or that fails
on this body; its field and position in `internal`), not-found (a variable missing from `env`).
"""

from __future__ import annotations

import re
from typing import Any

from handlers.context import Context
from handlers.execution.transforms import Request, TransformFailed, transform_request
from metadata.errors import ParseFailed, SwitchboardError
from metadata.strict import Strict
from metadata.transform_checks import TemplateInvalid, validate_request_transform, validate_response_transform

_ENV = re.compile(r"\{\{([^{}]+)\}\}")  # braces excluded: a linear scan


class FromEnv(Strict):
    from_env: str


class TestWebhookTransform(Strict):
    __test__ = False  # not a pytest class

    webhook_url: str | FromEnv
    request_transform: dict[str, Any]
    body: Any = None
    response_transform: dict[str, Any] | None = None
    session_variables: dict[str, str] | None = None
    request_headers: dict[str, str] | list[tuple[str, str]] | None = None
    env: dict[str, str] = {}


class MissingEnv(SwitchboardError):
    code, status = "not-found", 400


def _missing(name: str) -> MissingEnv:
    return MissingEnv(
        f"Missing Env Var: {name}. For security reasons when testing request options real environment "
        f"variable values are not available. Please enter a mock value for {name} in the Sample Env "
        "Variables list. See https://hasura.io/docs/latest/graphql/core/actions/rest-connectors/"
        "#action-transforms-sample-context",
        "$.webhook_url",
    )


def _resolve(url: str | FromEnv, env: dict[str, str]) -> str:
    if isinstance(url, FromEnv):
        if url.from_env not in env:
            raise _missing(url.from_env)
        return env[url.from_env]

    def value(match: re.Match[str]) -> str:
        name = match.group(1)
        if name not in env:
            raise _missing(name)
        return env[name]

    return _ENV.sub(value, url)


async def test_webhook_transform(ctx: Context, args: TestWebhookTransform) -> dict[str, Any]:
    try:
        with_path = "$.request_transform"
        validate_request_transform(args.request_transform)
        if args.response_transform is not None:
            with_path = "$.response_transform"
            validate_response_transform(args.response_transform)
    except ValueError as exc:
        raise ParseFailed(str(exc), with_path) from None
    session = {k.lower(): v for k, v in (args.session_variables or {}).items()}
    given = args.request_headers or {}
    pairs = given.items() if isinstance(given, dict) else given
    headers = {name.lower(): value for name, value in pairs}
    request = Request("POST", _resolve(args.webhook_url, args.env), headers, args.body)
    try:
        request = transform_request(args.request_transform, request, session, invalid=True)
    except TransformFailed as exc:  # Hasura: the bundle of kriti's errors, or its own TransformationError
        problems = exc.internal or [{"error_code": "TransformationError", "message": exc.message}]
        raise TemplateInvalid("request_transform", problems) from None
    return {
        "webhook_url": request.url,
        "method": request.method,
        "headers": [[name, value] for name, value in sorted(request.headers.items())],
        "body": None if request.removed else request.body,
    }
