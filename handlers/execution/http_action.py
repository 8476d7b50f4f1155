"""Running `http` actions (Metabase's HTTP actions): a request made from templates, its answer
judged and shaped by jq.

`{{name}}` in the url, body and headers is replaced by the argument's value as text (a string as
it is, anything else as JSON), and a `[[ ... ]]` section is dropped when an argument inside has no
value; headers are a JSON object once filled in. The request is sent with the action's timeout,
`Accept` and `Content-Type: application/json` and `X-Metabase-Action: <name>`, as Metabase sends
it. The answer, as `{status, headers, body}` (body decoded when it is JSON), goes through jq:
`error_handle` (default `.status >= 400`) true is a 400 `{"remote-status": N}`, another value
than true or false a 400 with that value; else `response_handle` gives the output (null without
one). A program yielding more than one value is a 502.
"""

from __future__ import annotations

from functools import lru_cache
from typing import Any

import jq
import msgspec

from handlers.context import Call, Runtime
from handlers.execution.outgoing import CallFailed
from handlers.execution.webhook import HandlerFailed, HandlerTimedOut
from handlers.telemetry import REQUEST_ID_HEADER, current
from handlers.tracing import send_trace
from metadata.actions import HttpHandler, sql_template
from metadata.errors import SwitchboardError, ValidationFailed
from metadata.objects import View
from metadata.sql_template import Clause, Tag

DEFAULT_ERROR_HANDLE = ".status >= 400"
_decode = msgspec.json.Decoder().decode
_encode = msgspec.json.Encoder().encode


class RemoteFailed(SwitchboardError):
    """The service answered what the error handle calls a failure: Metabase's 400 with
    `{"remote-status": N}` (or the handle's own value), as `extensions`."""

    code, status, absolute = "remote-error", 400, True

    def __init__(self, answer: Any, remote_status: int) -> None:
        super().__init__(f"the remote service answered {remote_status}")
        self.extensions = answer


@lru_cache(maxsize=512)
def _program(text: str) -> Any:
    return jq.compile(text)


def _jq(text: str, value: Any, what: str) -> Any:
    try:
        results = _program(text).input_value(value).all()
    except ValueError as exc:
        raise HandlerFailed(f"the {what} failed: {exc}") from None
    if len(results) > 1:
        raise HandlerFailed(f"the {what} gave more than one value: Too many results returned")
    return results[0] if results else None


def _text(value: Any) -> str:
    return value if isinstance(value, str) else _encode(value).decode()


def fill(template: str, values: dict[str, Any]) -> str:
    """The template with each `{{name}}` replaced, `[[ ... ]]` kept when all its names have values."""
    out: list[str] = []
    for part in sql_template(template).parts:
        pieces = part.parts if isinstance(part, Clause) else (part,)
        if isinstance(part, Clause) and any(values.get(p.name) is None for p in pieces if isinstance(p, Tag)):
            continue
        out += [_text(values.get(p.name)) if isinstance(p, Tag) else p for p in pieces]
    return "".join(out)


def http_request(call: Call) -> tuple[str, str, dict[str, str], bytes | None]:
    """(method, url, headers, body) of a call."""
    http = call.action.definition.http
    assert http is not None
    headers = {"accept": "application/json", "content-type": "application/json"}
    if http.headers:
        filled = fill(http.headers, call.input)
        try:
            given = _decode(filled)
        except msgspec.DecodeError:
            raise ValidationFailed(f"the headers are not a JSON object once filled in: {filled[:200]}") from None
        if not isinstance(given, dict):
            raise ValidationFailed("the headers are not a JSON object once filled in")
        headers |= {str(name).lower(): _text(value) for name, value in given.items()}
    headers["x-metabase-action"] = call.action.name
    info = current()
    if info is not None:
        headers.setdefault(REQUEST_ID_HEADER, info.request_id)
    body = fill(http.body, call.input).encode() if http.body is not None else None
    return http.method, fill(http.url, call.input), headers, body


def _handler(call: Call) -> HttpHandler:
    http = call.action.definition.http
    assert http is not None
    return http


async def run_http(runtime: Runtime, call: Call, view: View) -> Any:
    assert runtime.http is not None
    http = _handler(call)
    method, url, headers, body = http_request(call)
    tracing, span = runtime.tracing, None
    if tracing is None:
        send_trace(current(), headers)  # the caller's trace context, as it came
    else:  # this call's span, the service's parent
        span = tracing.client(method, url, headers)
    try:
        status, answer_headers, raw = await runtime.http.send(
            method, url, headers, body, call.action.definition.timeout
        )
        if span is not None:
            span.answered(status)
    except TimeoutError:
        timed_out = HandlerTimedOut(f"the service did not answer within {call.action.definition.timeout} seconds")
        if span is not None:
            span.end(timed_out)
        raise timed_out from None
    except CallFailed as exc:
        failure = HandlerFailed("http exception when calling the service", internal={"error": exc.detail})
        if span is not None:
            span.end(failure)
        raise failure from None
    except BaseException as exc:  # cancelled: the span still ends
        if span is not None:
            span.end(exc)
        raise
    try:
        decoded: Any = _decode(raw) if raw else None
    except (msgspec.DecodeError, RecursionError):
        decoded = raw.decode(errors="replace")
    handled = {"status": status, "headers": {name.lower(): value for name, value in answer_headers}, "body": decoded}
    verdict = _jq(http.error_handle or DEFAULT_ERROR_HANDLE, handled, "error handle")
    if verdict is True:
        raise RemoteFailed({"remote-status": status}, status)
    if verdict not in (False, None):
        raise RemoteFailed(verdict, status)
    return _jq(http.response_handle, handled, "response handle") if http.response_handle else None


async def preview_http(runtime: Runtime, call: Call, view: View) -> dict[str, Any]:
    method, url, headers, body = http_request(call)
    shown: Any = None
    if body is not None:
        try:
            shown = _decode(body)
        except msgspec.DecodeError:
            shown = body.decode(errors="replace")
    return {"request": {"method": method, "url": url, "headers": dict(sorted(headers.items())), "body": shown}}
