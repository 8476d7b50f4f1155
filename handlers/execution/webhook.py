"""Calling an action's webhook with Hasura's contract.

POST {action: {name}, input, session_variables, request_query} to the handler URL (`{{ENV}}`
resolved now; request_query is the GraphQL document for /v1/graphql calls, else null), with the
configured headers, and with `forward_client_headers` the client's headers minus Hasura's drop
list (plus X-Forwarded-Host / X-Forwarded-User-Agent); configured headers win. Every call carries
X-Request-Id; an async run's carries its id as Idempotency-Key, the same on a redelivery. A 2xx body is
validated against the output type, and its Set-Cookie headers reach the caller (as Hasura's do);
a 4xx body {message, code?, extensions?} becomes the caller's 400; anything else is a 502, a
timeout 504.
`internal` (admins only) is Hasura's: {error, request: {url, body, headers, transformed_request},
response: null | {status, body, headers}}, the handler URL and headers as written, never a
resolved secret. A stored action that may not run (a template that does not parse, a header
reading a reserved variable) is refused before anything is read or sent.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from importlib.metadata import PackageNotFoundError, version
from typing import Any, NamedTuple

import msgspec

from handlers.context import Call, Runtime
from handlers.execution.outgoing import CallFailed, Reply
from handlers.execution.transforms import ResponseTransformFailed, TransformFailed, transform_response, webhook_request
from handlers.telemetry import REQUEST_ID_HEADER, current
from handlers.tracing import send_trace
from metadata.actions import ENV_TEMPLATE, Action
from metadata.consistency import run_refusal
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
# An async run's id, the same on every delivery of it (the IETF's Idempotency-Key header; Hasura's
# contract sends nothing by that name).
IDEMPOTENCY_HEADER = "idempotency-key"


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


class Sent(NamedTuple):
    """A call's request after transforms: `data` is what is sent, `body` the JSON admins see."""

    method: str
    url: str
    headers: dict[str, str]
    data: bytes | None
    body: bytes


def _exchange(call: Call, sent: Sent, error: Any, reply: Reply | None = None) -> dict[str, Any]:
    """What admins see of a failed call, in Hasura's shape (built only on failure: the run path
    stays lean): the handler URL and configured headers as written (`{{ENV}}` and
    `value_from_env` unresolved), Hasura's payload, the request after transforms, the answer."""
    action = call.action
    definition = action.definition
    headers: list[Any] = [msgspec.to_builtins(h) for h in definition.headers]
    if definition.forward_client_headers:
        headers += [{"name": name, "value": value} for name, value in call.forwarded.items()]
    transformed = None
    if definition.request_transform is not None:
        template, resolved = definition.handler or "", resolve_url(action)
        url = template + sent.url[len(resolved) :] if sent.url.startswith(resolved) else sent.url
        shown = shown_headers(action, sent.headers)
        transformed = {
            "method": sent.method,
            "url": url,
            "headers": [{"name": n, "value": v} for n, v in sorted(shown.items())],
            "body": msgspec.Raw(sent.body),
        }
    request = {"url": definition.handler, "body": msgspec.Raw(call.payload()), "headers": headers}
    answer = None
    if reply is not None:
        try:
            body = _decode(reply.body)
        except (msgspec.DecodeError, RecursionError):
            body = reply.body.decode(errors="replace")  # Hasura shows a body that is not JSON as text
        answer = {
            "status": reply.status,
            "body": body,
            "headers": [{"name": name, "value": value} for name, value in reply.headers],
        }
    return {"error": error, "request": {**request, "transformed_request": transformed}, "response": answer}


def _http_exception(exc: TimeoutError | CallFailed) -> dict[str, Any]:
    """Hasura's `internal.error` of a call that got no answer."""
    if isinstance(exc, TimeoutError):
        return {"type": "http_exception", "message": "Response timeout", "detail": "TimeoutError"}
    return {"type": "http_exception", "message": exc.message, "detail": exc.detail}


def webhook_request_of(call: Call) -> Sent:
    """The request of a call, after transforms."""
    action = call.action
    refused = run_refusal(action)  # a stored action that may not run: nothing is read or sent
    if refused is not None:
        raise refused
    url = resolve_url(action)
    headers = request_headers(action, call.forwarded)
    body = call.payload()
    if action.definition.request_transform is None:
        return Sent("POST", url, headers, body, body)
    return Sent(*webhook_request(action.definition.request_transform, call.session_variables, url, headers, body))


def shown_headers(action: Action, headers: dict[str, str]) -> dict[str, str]:
    """Request headers as admins may see them: values read from the environment are shown as
    where they come from, never as the secret itself."""
    shown = dict(headers)
    for header in action.definition.headers:
        if header.value_from_env is not None and header.name.lower() in shown:
            shown[header.name.lower()] = f"<from env {header.value_from_env}>"
    return shown


async def preview_webhook(runtime: Runtime, call: Call, view: View) -> dict[str, Any]:
    """What a dry run shows: the request after transforms, not sent."""
    method, url, headers, data, _ = webhook_request_of(call)
    headers = shown_headers(call.action, headers)
    shown: Any = None
    if data is not None:
        try:
            shown = _decode(data)
        except (msgspec.DecodeError, RecursionError):
            shown = data.decode(errors="replace")
    return {"request": {"method": method, "url": url, "headers": dict(sorted(headers.items())), "body": shown}}


async def run_webhook(runtime: Runtime, call: Call, view: View) -> Any:
    """The validated output of one call, or an ActionError / HandlerFailed / HandlerTimedOut."""
    assert runtime.http is not None
    action, tracing = call.action, runtime.tracing
    sent = webhook_request_of(call)  # transforms may change method, url, headers and data
    info = current()
    if info is not None:  # the caller's request id, for the handler's logs (unless set explicitly)
        sent.headers.setdefault(REQUEST_ID_HEADER, info.request_id)
    if call.run_id is not None:
        sent.headers.setdefault(IDEMPOTENCY_HEADER, call.run_id)
    span = None
    if tracing is None:
        send_trace(info, sent.headers)  # the caller's trace context, as it came
    else:  # this call's span, the handler's parent
        span = tracing.client(sent.method, sent.url, sent.headers)
    try:
        reply = await runtime.http.send(sent.method, sent.url, sent.headers, sent.data, action.definition.timeout)
        if span is not None:
            span.answered(reply.status)
    except TimeoutError as exc:
        timed_out = HandlerTimedOut(
            f"the action handler did not answer within {action.definition.timeout} seconds",
            internal=_exchange(call, sent, _http_exception(exc)),
        )
        if span is not None:
            span.end(timed_out)
        raise timed_out from None
    except CallFailed as exc:
        failure = HandlerFailed(
            "http exception when calling webhook", internal=_exchange(call, sent, _http_exception(exc))
        )
        if span is not None:
            span.end(failure)
        raise failure from None
    except BaseException as exc:  # cancelled: the span still ends
        if span is not None:
            span.end(exc)
        raise
    status = reply.status

    def failed(error: type[SwitchboardError], message: str, detail: Any = "unexpected response") -> SwitchboardError:
        return error(message, internal=_exchange(call, sent, detail, reply))

    try:
        answer = _decode(reply.body)
    except (msgspec.DecodeError, RecursionError) as exc:
        raise failed(HandlerFailed, "not a valid json response from webhook", f"invalid json: {exc}") from None
    if 200 <= status < 300:
        if action.definition.response_transform is not None:  # transforms: reshape, then validate
            try:
                answer = transform_response(
                    action.definition.response_transform, answer, status, call.session_variables, sent.url
                )
            except TransformFailed as exc:
                raise failed(ResponseTransformFailed, exc.message, exc.internal) from None
        try:
            assert action.definition.output_type is not None
            output = validate_output(action.definition.output_type, answer, view)
        except OutputError as exc:
            raise failed(HandlerFailed, str(exc)) from None
        call.cookies.extend(reply.headers_named("set-cookie"))
        return output
    if 400 <= status < 500:
        if isinstance(answer, dict) and isinstance(answer.get("message"), str):
            code = answer.get("code")
            refused = ActionError(answer["message"])  # the handler's own words: no internal, as Hasura
            refused.code = code if isinstance(code, str) and code else "unexpected"
            refused.extensions = answer.get("extensions")
            raise refused
        raise failed(
            HandlerAnswerInvalid,
            f"the action handler answered {status} without the key 'message' "
            "(expected {message, code?, extensions?})",
        )
    message = f"expecting 2xx or 4xx status code, but found {status}"
    raise failed(HandlerFailed, message, message)
