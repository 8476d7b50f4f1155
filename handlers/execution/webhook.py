"""Calling an action's webhook with Hasura's contract.

POST {action: {name}, input, session_variables, request_query: null} to the handler URL
(`{{ENV}}` resolved now), with the configured headers, and with `forward_client_headers` the
client's headers minus Hasura's drop list (plus X-Forwarded-Host / X-Forwarded-User-Agent);
configured headers win. A 2xx body is validated against the output type; a 4xx body
{message, code?, extensions?} becomes the caller's 400; anything else is a 502, a timeout 504.
`internal` (admins only) shows the handler URL as its template, never a resolved secret.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from functools import lru_cache
from importlib.metadata import PackageNotFoundError, version
from typing import Any
from urllib.parse import urlsplit

import aiohttp
import msgspec

from handlers.context import Call, Runtime
from handlers.execution.transforms import TransformFailed, transform_response, webhook_request  # transforms
from handlers.telemetry import REQUEST_ID_HEADER, request_id
from metadata.actions import ENV_TEMPLATE, Action
from metadata.errors import InvalidConfiguration, SwitchboardError
from metadata.objects import View
from metadata.values import OutputError, validate_output

try:
    USER_AGENT = f"switchboard/{version('switchboard')}"
except PackageNotFoundError:  # running from a checkout that was not installed
    USER_AGENT = "switchboard/dev"

# Hasura's list of client headers never forwarded to a handler (and every x-hasura-*, the
# admin secret among them), and Switchboard's own credential, an API key.
DROPPED_HEADERS = frozenset(
    {
        "content-length", "content-md5", "user-agent", "host", "origin", "referer", "accept",
        "accept-encoding", "accept-language", "accept-datetime", "cache-control", "connection",
        "dnt", "content-type", "x-api-key",
    }
)  # fmt: skip
_encode = msgspec.json.Encoder().encode
_decode = msgspec.json.Decoder().decode


class ActionError(SwitchboardError):
    """The handler refused the call (a 4xx with a message): the caller's error, as it said it."""

    status, absolute = 400, True


class HandlerFailed(SwitchboardError):
    code, status, absolute = "unexpected", 502, True


class HandlerTimedOut(SwitchboardError):
    code, status, absolute = "timeout", 504, True


class HandlerAnswerInvalid(SwitchboardError):
    """A 4xx that does not follow the contract: explained, at the caller's status."""

    code, status, absolute = "parse-failed", 400, True


def forwardable(client_headers: Mapping[str, str]) -> dict[str, str]:
    """The client headers a handler with forward_client_headers receives (keys lowercased)."""
    out = {
        name: value
        for name, value in ((k.lower(), v) for k, v in client_headers.items())
        if name not in DROPPED_HEADERS and not name.startswith("x-hasura-")
    }
    lowered = {k.lower(): v for k, v in client_headers.items()}
    if "host" in lowered:
        out["x-forwarded-host"] = lowered["host"]
    if "user-agent" in lowered:
        out["x-forwarded-user-agent"] = lowered["user-agent"]
    return out


def _env(name: str, what: str, action: Action) -> str:
    value = os.environ.get(name)
    if value is None:
        raise InvalidConfiguration(
            f'the environment variable "{name}" used by {what} of action "{action.name}" is not set'
        )
    return value


def resolve_url(action: Action) -> str:
    template = action.definition.handler
    assert template is not None
    if "{{" not in template:
        return template
    return ENV_TEMPLATE.sub(lambda m: _env(m.group(1), "the handler URL", action), template)


def request_headers(action: Action, forwarded: Mapping[str, str]) -> dict[str, str]:
    headers = dict(forwarded) if action.definition.forward_client_headers else {}
    headers["content-type"] = "application/json"
    headers["user-agent"] = USER_AGENT
    for header in action.definition.headers:
        if header.value is not None:
            value = header.value
        else:
            assert header.value_from_env is not None
            value = _env(header.value_from_env, f'header "{header.name}"', action)
        headers[header.name.lower()] = value
    return headers


def _exchange(call: Call, headers: dict[str, str], body: bytes, **response: Any) -> dict[str, Any]:
    """What admins see of a failed call (built only on failure: the run path stays lean)."""
    request = {"url": call.action.definition.handler, "headers": sorted(headers), "body": msgspec.Raw(body)}
    return {"request": request, **response}


@lru_cache(maxsize=64)
def _timeout(seconds: int) -> aiohttp.ClientTimeout:
    return aiohttp.ClientTimeout(total=seconds)


def webhook_request_of(call: Call) -> tuple[str, str, dict[str, str], bytes | None, bytes]:
    """(method, url, headers, data sent, JSON body) of a call, after transforms."""
    action = call.action
    url = resolve_url(action)
    headers = request_headers(action, call.forwarded)
    body = call.payload()
    if action.definition.request_transform is None:
        return "POST", url, headers, body, body
    return webhook_request(action.definition.request_transform, call.session_variables, url, headers, body)


async def preview_webhook(runtime: Runtime, call: Call, view: View) -> dict[str, Any]:
    """What a dry run shows: the request after transforms, not sent. Header values read from the
    environment are shown as where they come from, never as the secret itself."""
    method, url, headers, data, _ = webhook_request_of(call)
    for header in call.action.definition.headers:
        if header.value_from_env is not None and header.name.lower() in headers:
            headers[header.name.lower()] = f"<from env {header.value_from_env}>"
    shown: Any = None
    if data is not None:
        try:
            shown = _decode(data)
        except (msgspec.DecodeError, RecursionError):
            shown = data.decode(errors="replace")
    return {"request": {"method": method, "url": url, "headers": dict(sorted(headers.items())), "body": shown}}


def _absolute_http(url: str) -> bool:
    try:
        parts = urlsplit(url)
        return parts.scheme.lower() in ("http", "https") and bool(parts.hostname)
    except ValueError:  # an unbalanced IPv6 bracket, a port out of range
        return False


async def run_webhook(runtime: Runtime, call: Call, view: View) -> Any:
    assert runtime.http is not None
    return await call_webhook(runtime.http, call, view)


async def call_webhook(http: aiohttp.ClientSession, call: Call, view: View) -> Any:
    """The validated output of one call, or an ActionError / HandlerFailed / HandlerTimedOut."""
    action = call.action
    # Transforms may change method, url, headers and the data sent; `body` stays the JSON
    # admins see in `internal`.
    method, url, headers, data, body = webhook_request_of(call)
    rid = request_id()
    if rid is not None:  # the caller's request id, for the handler's logs (unless set explicitly)
        headers.setdefault(REQUEST_ID_HEADER, rid)
    try:
        if not _absolute_http(url):  # aiohttp asserts on some (`//host/path`) instead of refusing them
            raise aiohttp.InvalidURL(url)
        async with http.request(
            method, url, data=data, headers=headers, timeout=_timeout(action.definition.timeout)
        ) as response:
            status, raw = response.status, await response.read()
    except TimeoutError:
        raise HandlerTimedOut(
            f"the action handler did not answer within {action.definition.timeout} seconds",
            internal=_exchange(call, headers, body),
        ) from None
    # ValueError: a header value aiohttp will not send (a control character, from the
    # definition or from a transform of the input).
    except (aiohttp.ClientError, OSError, ValueError) as exc:
        internal = _exchange(call, headers, body, error=str(exc) or type(exc).__name__)
        raise HandlerFailed("http exception when calling webhook", internal=internal) from None

    def failed(error: type[SwitchboardError], message: str) -> SwitchboardError:
        internal = _exchange(call, headers, body, response={"status": status, "body": raw.decode(errors="replace")})
        return error(message, internal=internal)

    try:
        answer = _decode(raw)
    except (msgspec.DecodeError, RecursionError):
        raise failed(HandlerFailed, "not a valid json response from webhook") from None
    if 200 <= status < 300:
        if action.definition.response_transform is not None:  # transforms: reshape, then validate
            try:
                answer = transform_response(
                    action.definition.response_transform, answer, status, call.session_variables, url
                )
            except TransformFailed as exc:
                raise failed(TransformFailed, exc.message) from None
        try:
            assert action.definition.output_type is not None
            return validate_output(action.definition.output_type, answer, view)
        except OutputError as exc:
            raise failed(HandlerFailed, str(exc)) from None
    if 400 <= status < 500:
        if isinstance(answer, dict) and isinstance(answer.get("message"), str):
            code = answer.get("code")
            code = code if isinstance(code, str) and code else "unexpected"
            refused = failed(ActionError, answer["message"])
            refused.code, refused.extensions = code, answer.get("extensions")
            raise refused
        raise failed(
            HandlerAnswerInvalid,
            f"the action handler answered {status} without the key 'message' "
            "(expected {message, code?, extensions?})",
        )
    raise failed(HandlerFailed, f"expecting 2xx or 4xx status code, but found {status}")
