"""Checks of `request_transform` / `response_transform` definitions.

A malformed transform (a wrong key or type) is a ValueError, which decoding reports as
parse-failed wherever the definition comes from. Templates that do not parse are checked apart,
as Hasura does: create_action / update_action (and test_webhook_transform) refuse them with 400
validation-failed "request transform validation failed", `internal` holding, for each template,
kriti's error as Hasura reports it (`error_code`, `message`, `source_position`), the template's
field (`template`) and Switchboard's message for people (`detail`); a whole document
(replace_metadata) is applied with them, and the action is reported as inconsistent
(`template_problems`) and refuses to run."""

from __future__ import annotations

from typing import Any

from metadata.errors import SwitchboardError
from metadata.kriti import KritiError, KritiParseError, parse, parse_text

_BODY_ACTIONS = ("transform", "remove", "x_www_form_urlencoded")


class TemplateInvalid(SwitchboardError):
    """Not a ValueError: msgspec passes it through a Struct's __post_init__ unchanged."""

    code, status = "validation-failed", 400

    def __init__(self, where: str, problems: list[dict[str, Any]]) -> None:
        which = where.split("_", 1)[0]  # request / response
        super().__init__(f"{which} transform validation failed", internal=problems)
        self.transform = where  # request_transform / response_transform


def template_problem(where: str, exc: KritiError) -> dict[str, Any]:
    """One entry of Hasura's error bundle for a template of field `where`."""
    return {**exc.serialized(), "template": where, "detail": str(exc)}


def _check(condition: bool, message: str) -> None:
    if not condition:
        raise ValueError(message)


# Where a check collects templates that do not parse; None: templates are not parsed (shape only).
Problems = list[dict[str, Any]] | None


def _template(where: str, value: Any, text: bool, problems: Problems) -> None:
    _check(isinstance(value, str), f"{where} must be a string template")
    if problems is None:
        return
    try:
        (parse_text if text else parse)(value)
    except KritiParseError as exc:
        problems.append(template_problem(where, exc))


def _check_body(where: str, body: Any, version: int, problems: Problems) -> None:
    if isinstance(body, str):
        _template(where, body, text=False, problems=problems)
        return
    _check(isinstance(body, dict), f"{where} must be a template or {{action, template?, form_template?}}")
    _check(version == 2 or "action" in body, f"{where}: an object body needs version 2")
    action = body.get("action")
    _check(action in _BODY_ACTIONS, f"{where}.action must be one of {', '.join(_BODY_ACTIONS)}")
    unknown = set(body) - {"action", "template", "form_template"}
    _check(not unknown, f"{where}: unknown keys {sorted(unknown)}")
    if action == "transform":
        _check("template" in body, f"{where}.template is required with action transform")
        _template(f"{where}.template", body["template"], text=False, problems=problems)
    elif action == "x_www_form_urlencoded":
        form = body.get("form_template")
        _check(isinstance(form, dict), f"{where}.form_template must be an object of templates")
        for key, value in form.items():
            _template(f"{where}.form_template.{key}", value, text=True, problems=problems)


def _common(where: str, transform: Any, allowed: set[str], problems: Problems) -> int:
    _check(isinstance(transform, dict), f"{where} must be an object")
    unknown = set(transform) - allowed
    _check(not unknown, f"{where}: unknown keys {sorted(unknown)}")
    version = transform.get("version", 1)
    _check(version in (1, 2) and not isinstance(version, bool), f"{where}.version must be 1 or 2")
    engine = transform.get("template_engine", "Kriti")
    _check(engine == "Kriti", f'{where}.template_engine must be "Kriti"')
    if "body" in transform and transform["body"] is not None:
        _check_body(f"{where}.body", transform["body"], int(version), problems)
    return int(version)


def _request(transform: Any, problems: Problems) -> None:
    where = "request_transform"
    allowed = {"method", "url", "body", "query_params", "request_headers", "content_type", "version", "template_engine"}
    _common(where, transform, allowed, problems)
    method = transform.get("method")
    _check(method is None or (isinstance(method, str) and method.isalpha()), f"{where}.method must be an HTTP method")
    if transform.get("url") is not None:
        _template(f"{where}.url", transform["url"], text=True, problems=problems)
    params = transform.get("query_params")
    if isinstance(params, str):
        _template(f"{where}.query_params", params, text=True, problems=problems)
    elif params is not None:
        _check(isinstance(params, dict), f"{where}.query_params must be an object or a string template")
        for key, value in params.items():
            _template(f"{where}.query_params key", key, text=True, problems=problems)
            if value is not None:
                _template(f"{where}.query_params.{key}", value, text=True, problems=problems)
    headers = transform.get("request_headers")
    if headers is not None:
        _check(isinstance(headers, dict), f"{where}.request_headers must be an object")
        unknown = set(headers) - {"add_headers", "remove_headers"}
        _check(not unknown, f"{where}.request_headers: unknown keys {sorted(unknown)}")
        add = headers.get("add_headers") or {}
        _check(isinstance(add, dict), f"{where}.request_headers.add_headers must be an object")
        for name, value in add.items():
            _template(f"{where}.request_headers.add_headers.{name}", value, text=True, problems=problems)
        remove = headers.get("remove_headers") or []
        _check(
            isinstance(remove, list) and all(isinstance(n, str) for n in remove),
            f"{where}.request_headers.remove_headers must be a list of header names",
        )
    content_type = transform.get("content_type")
    _check(content_type is None or isinstance(content_type, str), f"{where}.content_type must be a string")


def _response(transform: Any, problems: Problems) -> None:
    _common("response_transform", transform, {"body", "version", "template_engine"}, problems)


def validate_request_transform(transform: Any) -> None:
    """Raise ValueError for a malformed request_transform, TemplateInvalid (naming each template
    that does not parse, with its position) for templates that do not parse."""
    problems: list[dict[str, Any]] = []
    _request(transform, problems)
    if problems:
        raise TemplateInvalid("request_transform", problems)


def validate_response_transform(transform: Any) -> None:
    """Raise ValueError / TemplateInvalid for a bad response_transform."""
    problems: list[dict[str, Any]] = []
    _response(transform, problems)
    if problems:
        raise TemplateInvalid("response_transform", problems)


def validate_transforms(request: Any, response: Any) -> None:
    """What create_action / update_action check: the shapes, then every template."""
    if request is not None:
        validate_request_transform(request)
    if response is not None:
        validate_response_transform(response)


def check_transform_shapes(request: Any, response: Any) -> None:
    """What decoding any definition checks: the shapes only (ValueError), not the templates."""
    if request is not None:
        _request(request, None)
    if response is not None:
        _response(response, None)


def template_problems(request: Any, response: Any) -> list[TemplateInvalid]:
    """The templates that do not parse, as the errors create_action would give (request first);
    for a stored definition (whose shapes were checked when it was decoded)."""
    out = []
    checks = (("request_transform", request, _request), ("response_transform", response, _response))
    for which, transform, check in checks:
        if transform is not None:
            problems: list[dict[str, Any]] = []
            check(transform, problems)
            if problems:
                out.append(TemplateInvalid(which, problems))
    return out
