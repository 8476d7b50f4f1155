"""Applying an action's `request_transform` / `response_transform` (Hasura's webhook transforms).

Request transform, in Hasura's order: method, url (a text template, `{{$base_url}}` is the
resolved handler URL), body (v1: a JSON template; v2: `{action: transform, template}`,
`{action: remove}` or `{action: x_www_form_urlencoded, form_template: {key: text template}}`),
query_params (an object of text templates replacing the URL's query, null values dropped, or one
text template giving the whole query string), request_headers (`remove_headers`, then
`add_headers` whose values are text templates), content_type (v1).
Template variables: `$body` (Hasura's webhook payload), `$session_variables`, `$base_url`,
`$query_params` (of the handler URL).

Response transform `{body, version}`: applied to a 2xx answer before output validation, with
`$body` (the answer), `$response` ({status, body}), `$session_variables`, `$base_url`.

A template that fails is a `TransformFailed` (500 transformation-failed) naming the field and
the template position, with kriti's error as Hasura reports it in `internal` (admins): never a
silent success.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

from metadata.errors import SwitchboardError
from metadata.kriti import KritiError, KritiParseError, parse, render_text
from metadata.transform_checks import template_problem

FORM = "application/x-www-form-urlencoded"


class TransformFailed(SwitchboardError):
    """A request transform failed on this call (its input, its session): the call is refused
    before anything is sent, as Hasura's "Request Transformation Failed" (which Hasura answers
    500; here it is the caller's 400: no bug of the server's)."""

    code, status, absolute = "transformation-failed", 400, True


class ResponseTransformFailed(TransformFailed):
    """The handler's answer could not be transformed: the action's upstream failing, as an answer
    that does not fit its output type is."""

    status = 502


class TransformInvalid(SwitchboardError):
    """A transform that is not well-formed (only reachable through test_webhook_transform or
    definitions stored before templates were validated)."""

    code, status, absolute = "parse-failed", 400, True


@dataclass
class Request:
    method: str
    url: str
    headers: dict[str, str]  # lowercase names
    body: Any  # the JSON value; with `form` set, the form-encoded string; None: no body
    form: bool = False
    removed: bool = False

    def data(self) -> bytes | None:
        if self.removed or (self.body is None and self.form):
            return None
        if self.form:
            return str(self.body).encode()
        return json.dumps(self.body, separators=(",", ":"), ensure_ascii=False).encode()


def _fail(where: str, exc: Exception, invalid: bool) -> SwitchboardError:
    internal = [template_problem(where, exc)] if isinstance(exc, KritiError) else None
    if invalid:
        return TransformInvalid(f"{where}: {exc}", internal=internal)
    return TransformFailed(f"{where}: {exc}", internal=internal)


def _value(where: str, source: Any, env: dict[str, Any], text: bool) -> Any:
    if not isinstance(source, str):
        raise ValueError(f"{where} must be a string template")
    try:
        return render_text(source, env) if text else parse(source).render(env)
    except KritiError as exc:
        raise _TemplateError(where, exc) from None


class _TemplateError(Exception):
    def __init__(self, where: str, exc: KritiError) -> None:
        super().__init__(f"{where}: {exc}")
        self.where, self.exc = where, exc


def _body(where: str, spec: Any, env: dict[str, Any]) -> tuple[str, Any]:
    """('json', value) | ('form', text) | ('remove', None)."""
    if isinstance(spec, str):
        return "json", _value(where, spec, env, text=False)
    if not isinstance(spec, dict):
        raise ValueError(f"{where} must be a template or {{action, template?, form_template?}}")
    action = spec.get("action")
    if action == "remove":
        return "remove", None
    if action == "transform":
        return "json", _value(f"{where}.template", spec.get("template"), env, text=False)
    if action == "x_www_form_urlencoded":
        form = spec.get("form_template") or {}
        if not isinstance(form, dict):
            raise ValueError(f"{where}.form_template must be an object of templates")
        pairs = [(k, _value(f"{where}.form_template.{k}", v, env, text=True)) for k, v in form.items()]
        return "form", urlencode(pairs)
    raise ValueError(f"{where}.action must be one of transform, remove, x_www_form_urlencoded")


def _transform_request(transform: dict[str, Any], request: Request, session: dict[str, str]) -> Request:
    where = "request_transform"
    split = urlsplit(request.url)
    env: dict[str, Any] = {
        "$body": request.body,
        "$session_variables": session,
        "$base_url": request.url,
        "$query_params": dict(parse_qsl(split.query, keep_blank_values=True)),
    }
    method = transform.get("method")
    if method is not None:
        request.method = str(method).upper()
    if transform.get("url") is not None:
        request.url = _value(f"{where}.url", transform["url"], env, text=True)
    body = transform.get("body")
    if body is not None:
        kind, value = _body(f"{where}.body", body, env)
        request.removed = kind == "remove"
        request.form = kind == "form"
        request.body = value
        if kind == "remove":
            request.headers.pop("content-type", None)
        else:
            request.headers["content-type"] = FORM if kind == "form" else "application/json"
    content_type = transform.get("content_type")
    if isinstance(content_type, str):
        request.headers["content-type"] = content_type
        if content_type.split(";")[0].strip().lower() == FORM and not request.form and isinstance(request.body, dict):
            request.body = urlencode([(k, v if isinstance(v, str) else json.dumps(v)) for k, v in request.body.items()])
            request.form = True
    params = transform.get("query_params")
    if params is not None:
        if isinstance(params, str):
            query = _value(f"{where}.query_params", params, env, text=True).lstrip("?")
        elif isinstance(params, dict):
            pairs = []
            for key, value in params.items():
                if value is None:
                    continue
                name = _value(f"{where}.query_params key", key, env, text=True)
                pairs.append((name, _value(f"{where}.query_params.{key}", value, env, text=True)))
            query = urlencode(pairs)
        else:
            raise ValueError(f"{where}.query_params must be an object or a string template")
        request.url = urlunsplit(urlsplit(request.url)._replace(query=query))
    headers = transform.get("request_headers") or {}
    if not isinstance(headers, dict):
        raise ValueError(f"{where}.request_headers must be an object")
    for name in headers.get("remove_headers") or []:
        request.headers.pop(str(name).lower(), None)
    for name, value in (headers.get("add_headers") or {}).items():
        where_header = f"{where}.request_headers.add_headers.{name}"
        request.headers[str(name).lower()] = _value(where_header, value, env, text=True)
    return request


def transform_request(
    transform: dict[str, Any], request: Request, session: dict[str, str], *, invalid: bool = False
) -> Request:
    """The request after `transform`; raises TransformFailed (or, with `invalid`, the caller's
    TransformInvalid for a template that does not parse)."""
    try:
        return _transform_request(transform, request, session)
    except _TemplateError as exc:
        raise _fail(exc.where, exc.exc, invalid and isinstance(exc.exc, KritiParseError)) from None
    except ValueError as exc:
        raise _fail("request_transform", exc, invalid) from None


def transform_response(
    transform: dict[str, Any], answer: Any, status: int, session: dict[str, str], base_url: str
) -> Any:
    """The webhook's answer reshaped by `transform` (`remove` gives null, a form a string)."""
    spec = transform.get("body")
    if spec is None:
        return answer
    env = {
        "$body": answer,
        "$response": {"status": status, "body": answer},
        "$session_variables": session,
        "$base_url": base_url,
    }
    try:
        return _body("response_transform.body", spec, env)[1]
    except _TemplateError as exc:
        raise _fail(exc.where, exc.exc, False) from None
    except ValueError as exc:
        raise TransformFailed(f"response_transform: {exc}") from None


def webhook_request(
    transform: dict[str, Any], session: dict[str, str], url: str, headers: dict[str, str], payload: bytes
) -> tuple[str, str, dict[str, str], bytes | None, bytes]:
    """(method, url, headers, data sent, body shown to admins as JSON) of a transformed call."""
    request = transform_request(transform, Request("POST", url, dict(headers), json.loads(payload)), session)
    shown = json.dumps(None if request.removed else request.body).encode()
    return request.method, request.url, request.headers, request.data(), shown
