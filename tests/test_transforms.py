"""Webhook transforms: the Kriti template language, request/response transforms reaching a real
aiohttp webhook, and test_webhook_transform."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
import yaml
from starlette.testclient import TestClient

from metadata.kriti import KritiEvalError, KritiParseError, parse, parse_text
from metadata.transform_checks import TemplateInvalid, validate_transforms
from tests.conftest import query
from tests.test_run_action import USER, define, run, wait_for
from tests.webhook import Webhook

ENV: dict[str, Any] = {
    "$body": {
        "action": {"name": "create_user"},
        "input": {"user": {"email": "a b@c.d", "tags": ["x", "y"], "age": 30}, "ids": [1, 2]},
        "items": [{"n": "p"}, {"n": "q"}],
    },
    "$session_variables": {"x-hasura-user-id": "42", "x-hasura-role": "user"},
    "$base_url": "http://h/api",
    "$query_params": {"page": "2"},
}


def render(template: str) -> Any:
    return parse(template).render(ENV)


# ------------------------------------------------------------------------------------ the language


@pytest.mark.parametrize(
    ("template", "expected"),
    [
        ("{{ $body.input.user.email }}", "a b@c.d"),
        ("{{ $body['input'][\"user\"].tags[1] }}", "y"),
        ("{{ $body.input.ids[0] }}", 1),
        ("{{ $body.input.ids[-1] }}", 2),
        ("{{ $body?.nope?.deeper }}", None),
        ("{{ $body.input?['nope'] }}", None),
        ("{{ $body.input.ids?[5] }}", None),
        ("{{ $session_variables['x-hasura-user-id'] }}", "42"),
        ("{{ $base_url }}", "http://h/api"),
        ("{{ $query_params.page }}", "2"),
        ("{{ $body.input }}", ENV["$body"]["input"]),
    ],
)
def test_paths(template: str, expected: Any) -> None:
    assert render(template) == expected


@pytest.mark.parametrize(
    ("template", "expected"),
    [
        ('"str"', "str"),
        ("12", 12),
        ("-1.5", -1.5),
        ("true", True),
        ("false", False),
        ("null", None),
        ("{{ 'single' }}", "single"),
        ("{{ [1, 'a', null] }}", [1, "a", None]),
        ('{{ {"k": 1} }}', {"k": 1}),
    ],
)
def test_literals(template: str, expected: Any) -> None:
    assert render(template) == expected


def test_json_templates_interpolate_values_and_strings() -> None:
    template = """{
      "user": {{ $body.input.user }},
      "greeting": "hello {{ $body.input.user.email }}, you are {{ $body.input.user.age }}",
      "tags": {{ $body.input.user.tags }},
      "list": [1, {{ $body.input.ids[1] }}, "{{ $session_variables['x-hasura-role'] }}"],
      "{{ $body.action.name }}": "escaped \\" \\n \\u00e9",
      "nested": {"empty": {}, "arr": []}
    }"""
    assert render(template) == {
        "user": ENV["$body"]["input"]["user"],
        "greeting": "hello a b@c.d, you are 30",
        "tags": ["x", "y"],
        "list": [1, 2, "user"],
        "create_user": 'escaped " \n é',
        "nested": {"empty": {}, "arr": []},
    }


def test_interpolating_non_strings_writes_json() -> None:
    assert render('"{{ $body.input.ids }}|{{ null }}|{{ true }}"') == "[1,2]|null|true"


def test_text_templates() -> None:
    template = parse_text("{{$base_url}}/users/{{ $session_variables['x-hasura-user-id'] }}?q={{ escapeUri('a b') }}")
    assert template.render(ENV) == "http://h/api/users/42?q=a%20b"
    assert parse_text("plain").render(ENV) == "plain"
    assert parse_text("").render(ENV) == ""


@pytest.mark.parametrize(
    ("template", "expected"),
    [
        ('{{ if $body.input.user.age > 18 }} "adult" {{ else }} "minor" {{ end }}', "adult"),
        ("{{ if $body.input.user.age < 18 }} 1 {{ elif $body.input.user.age == 30 }} 2 {{ else }} 3 {{ end }}", 2),
        ("{{ if false }} 1 {{ end }}", None),
        ("{{ if $body?.missing }} 1 {{ else }} 0 {{ end }}", 0),
        ('{"a": {{ if true }} {"b": {{ $body.input.ids }}} {{ else }} null {{ end }}}', {"a": {"b": [1, 2]}}),
        (
            '{{ range i, x := $body.items }} {"i": {{ i }}, "n": "{{ x.n }}"} {{ end }}',
            [{"i": 0, "n": "p"}, {"i": 1, "n": "q"}],
        ),
        ("{{ range _, t := $body.input.user.tags }} {{ toUpper(t) }} {{ end }}", ["X", "Y"]),
        ("{{ range x := $body.input.ids }} {{ x }} {{ end }}", [1, 2]),
        ("{{ range x := $body?.missing }} {{ x }} {{ end }}", []),
    ],
)
def test_if_and_range(template: str, expected: Any) -> None:
    assert render(template) == expected


@pytest.mark.parametrize(
    ("template", "expected"),
    [
        ("{{ escapeUri('a b/c?d=é') }}", "a%20b%2Fc%3Fd%3D%C3%A9"),
        ("{{ concat(['a', $session_variables['x-hasura-user-id'], 'b']) }}", "a42b"),
        ("{{ concat([[1], $body.input.ids]) }}", [1, 1, 2]),
        ('{{ concat([{"a": 1}, {"b": 2}]) }}', {"a": 1, "b": 2}),
        ("{{ not(true) }}", False),
        ("{{ getSessionVariable('X-Hasura-User-Id') }}", "42"),
        ("{{ toUpper('abc') }}", "ABC"),
        ("{{ toLower('ABC') }}", "abc"),
        ("{{ size($body.items) }}", 2),
        ("{{ empty([]) }}", True),
        ("{{ 1 == 1 }}", True),
        ("{{ 1 == '1' }}", False),
        ("{{ 'a' != 'b' }}", True),
        ("{{ 2 > 1 && 1 < 2 }}", True),
        ("{{ 2 >= 3 || 2 <= 1 }}", False),
        ("{{ (1 == 2) || not(false) }}", True),
        ("{{ $body.input.user?.nick ?? 'anon' }}", "anon"),
        ("{{ $body.input.user.nick ?? 'anon' }}", "anon"),
        ("{{ $body.input.user.email ?? 'anon' }}", "a b@c.d"),
        ("{{ null ?? null ?? 3 }}", 3),
    ],
)
def test_functions_and_operators(template: str, expected: Any) -> None:
    assert render(template) == expected


@pytest.mark.parametrize(
    ("template", "message"),
    [
        ("$body.hello }}", "expected a value, found '$body.hell' at line 1, column 1"),
        ('{"a": {{ $body.x }', "expected '}}', found '}' at line 1, column 18"),
        ("{{ if true }} 1", "expected {{ elif / else / end }}, found the end of the template at line 1, column 16"),
        ("{{ nope(1) }}", 'unknown function "nope" at line 1, column 4'),
        ('{\n  "a": 1,\n  "b": }', "expected a value, found '}' at line 3, column 8"),
        ('"unterminated', "unterminated string at line 1, column 1"),
        ("{{ end }}", "'end' without 'if' or 'range' at line 1, column 1"),
        ('"{{ if true }}x{{ end }}"', "if/range blocks are not supported inside strings at line 1, column 2"),
        ("1 2", "unexpected '2' after the template at line 1, column 3"),
    ],
)
def test_parse_errors_name_the_position(template: str, message: str) -> None:
    with pytest.raises(KritiParseError) as caught:
        parse(template)
    assert str(caught.value) == f"Parse error: {message}"


@pytest.mark.parametrize(
    ("template", "message", "line", "column"),
    [
        ('{\n  "a": {{ $body.input.nope }}\n}', 'Path Lookup Error: "$body.input.nope"', 2, 11),
        ("{{ $body.items[7] }}", 'Path Lookup Error: "$body.items[7]"', 1, 4),
        ("{{ $nope }}", 'unknown variable "$nope"', 1, 4),
        ("{{ getSessionVariable('x-nope') }}", 'getSessionVariable: Session variable "x-nope" not found', 1, 4),
        ("{{ 1 > 'a' }}", 'cannot compare number and string with ">"', 1, 6),
        ("{{ if 'yes' }} 1 {{ end }}", "expected a boolean, got string", 1, 7),
        ("{{ range x := 'abc' }} 1 {{ end }}", "range expects an array, got string", 1, 15),
        ("{{ toUpper(1) }}", "toUpper: expects string, got number", 1, 4),
    ],
)
def test_evaluation_errors_name_the_position(template: str, message: str, line: int, column: int) -> None:
    with pytest.raises(KritiEvalError) as caught:
        render(template)
    assert caught.value.detail == message
    assert (caught.value.line, caught.value.column) == (line, column)
    assert str(caught.value) == f"Evaluation error: {message} at line {line}, column {column}"


# ------------------------------------------------------------------------------------ validation

REAL_PROJECTS = Path("/work/shared/hasura-projects")


def test_transforms_of_real_projects_validate() -> None:
    found = 0
    for path in sorted(REAL_PROJECTS.glob("*/metadata/actions.yaml")):
        for action in (yaml.safe_load(path.read_text()) or {}).get("actions") or []:
            definition = action.get("definition") or {}
            if definition.get("request_transform") or definition.get("response_transform"):
                validate_transforms(definition.get("request_transform"), definition.get("response_transform"))
                found += 1
    if not REAL_PROJECTS.exists():
        pytest.skip("no sample of real Hasura projects here")
    assert found > 0


@pytest.mark.parametrize(
    ("request_transform", "response_transform", "message"),
    [
        ({"body": "{{ $body.x "}, None, "request_transform.body: Parse error: expected '}}'"),
        ({"url": "{{$base_url}/x"}, None, "request_transform.url: Parse error:"),
        ({"version": 3}, None, "request_transform.version must be 1 or 2"),
        ({"template_engine": "Go"}, None, 'request_transform.template_engine must be "Kriti"'),
        ({"body": {"action": "zip"}, "version": 2}, None, "request_transform.body.action must be one of"),
        ({"body": {"action": "transform"}, "version": 2}, None, "request_transform.body.template is required"),
        ({"query_params": {"a": "{{ if }}"}}, None, "request_transform.query_params.a: Parse error:"),
        (
            {"request_headers": {"add_headers": {"x": "{{"}}},
            None,
            "request_transform.request_headers.add_headers.x: Parse error:",
        ),
        (
            {"request_headers": {"remove_headers": "x"}},
            None,
            "request_transform.request_headers.remove_headers must be a list",
        ),
        ({"bogus": 1}, None, "request_transform: unknown keys ['bogus']"),
        (None, {"body": {"action": "transform", "template": "{"}, "version": 2}, "response_transform.body.template"),
    ],
)
def test_validation_refuses_bad_transforms(request_transform: Any, response_transform: Any, message: str) -> None:
    """Malformed transforms are ValueErrors (parse-failed); templates that do not parse are
    Hasura's "... transform validation failed", with the field and position in `internal`."""
    with pytest.raises((ValueError, TemplateInvalid)) as caught:
        validate_transforms(request_transform, response_transform)
    if isinstance(caught.value, TemplateInvalid):
        which = "request" if request_transform is not None else "response"
        assert caught.value.message == f"{which} transform validation failed"
        assert caught.value.code == "validation-failed"
        assert caught.value.internal[0]["error_code"] == "Parse Error"
        assert caught.value.internal[0]["message"].startswith(message)
    else:
        assert str(caught.value).startswith(message)


# ------------------------------------------------------------------------- against a real webhook


def test_a_request_transform_changes_method_url_query_headers_and_body(client: TestClient, webhook: Webhook) -> None:
    webhook.respond("/api/users/42", body={"id": 42, "email": "a@b.c"})
    transform = {
        "version": 2,
        "template_engine": "Kriti",
        "method": "PUT",
        "url": "{{$base_url}}/users/{{$session_variables['x-hasura-user-id']}}",
        "query_params": {"email": "{{ $body.input.user.email }}", "skip": None, "{{ 'k' }}": "v"},
        "request_headers": {
            "add_headers": {"X-Role": "{{ $session_variables['x-hasura-role'] }}"},
            "remove_headers": ["X-Drop"],
        },
        "body": {
            "action": "transform",
            "template": '{"mail": "{{ $body.input.user.email }}", "n": {{ $body.input.count ?? 0 }}}',
        },
    }
    define(client, webhook.url("/api"), headers=[{"name": "X-Drop", "value": "secret"}], request_transform=transform)
    response = run(client, {"user": {"email": "a+b@c.d"}}, headers=USER)
    assert response.status_code == 200, response.text
    assert response.json() == {"output": {"id": 42, "email": "a@b.c"}}
    [seen] = webhook.received
    assert (seen.method, seen.path, seen.query) == ("PUT", "/api/users/42", {"email": "a+b@c.d", "k": "v"})
    assert json.loads(seen.text) == {"mail": "a+b@c.d", "n": 0}
    assert seen.headers["x-role"] == "user"
    assert seen.headers["content-type"] == "application/json"
    assert "x-drop" not in seen.headers


def test_a_v1_string_body_and_query_string_template(client: TestClient, webhook: Webhook) -> None:
    webhook.respond("/v1", body={"id": 1})
    transform = {"body": "{{ $body.input.user }}", "query_params": "a={{ escapeUri($body.input.user.email) }}&b=2"}
    define(client, webhook.url("/v1"), request_transform=transform)
    assert run(client, {"user": {"email": "x y"}}, headers=USER).status_code == 200
    [seen] = webhook.received
    assert (seen.method, seen.query, json.loads(seen.text)) == ("POST", {"a": "x y", "b": "2"}, {"email": "x y"})


def test_a_form_urlencoded_body(client: TestClient, webhook: Webhook) -> None:
    webhook.respond("/form", body={"id": 3})
    transform = {
        "version": 2,
        "body": {"action": "x_www_form_urlencoded", "form_template": {"email": "{{$body.input.user.email}}", "x": "1"}},
    }
    define(client, webhook.url("/form"), request_transform=transform)
    assert run(client, {"user": {"email": "a&b@c.d"}}, headers=USER).status_code == 200
    [seen] = webhook.received
    assert seen.headers["content-type"] == "application/x-www-form-urlencoded"
    assert seen.text == "email=a%26b%40c.d&x=1"


def test_a_removed_body_with_get(client: TestClient, webhook: Webhook) -> None:
    webhook.respond("/get", body={"id": 4})
    define(client, webhook.url("/get"), request_transform={"version": 2, "method": "GET", "body": {"action": "remove"}})
    assert run(client, {"user": {"email": "e"}}, headers=USER).status_code == 200
    [seen] = webhook.received
    assert (seen.method, seen.text) == ("GET", "")
    assert "content-type" not in seen.headers


def test_a_real_projects_transform_keeps_hasuras_payload(client: TestClient, webhook: Webhook) -> None:
    webhook.respond("/verify", body={"id": 5})
    transform = {"method": "POST", "query_params": {}, "template_engine": "Kriti", "version": 2}
    define(client, webhook.url("/verify"), request_transform=transform)
    assert run(client, {"user": {"email": "e"}}, headers=USER).status_code == 200
    [seen] = webhook.received
    assert seen.method == "POST"
    assert json.loads(seen.text)["input"] == {"user": {"email": "e"}}


def test_a_response_transform_reshapes_the_answer_before_validation(client: TestClient, webhook: Webhook) -> None:
    webhook.respond(
        "/wrapped", body={"data": {"user": {"user_id": 9, "mail": "m@x"}, "labels": [{"l": "a"}, {"l": "b"}]}}
    )
    transform = {
        "version": 2,
        "body": {
            "action": "transform",
            "template": '{"id": {{ $body.data.user.user_id }}, "email": "{{ $body.data.user.mail }}", '
            '"tags": {{ range _, x := $body.data.labels }} "{{ x.l }}-{{ $response.status }}" {{ end }}}',
        },
    }
    define(client, webhook.url("/wrapped"), response_transform=transform)
    response = run(client, {"user": {"email": "e"}}, headers=USER)
    assert response.status_code == 200, response.text
    assert response.json() == {"output": {"id": 9, "email": "m@x", "tags": ["a-200", "b-200"]}}


def test_a_reshaped_answer_is_still_validated(client: TestClient, webhook: Webhook) -> None:
    webhook.respond("/bad", body={"id": 1})
    define(client, webhook.url("/bad"), response_transform={"body": '{"id": "not an int"}'})
    response = run(client, {"user": {"email": "e"}}, headers=USER)
    assert response.status_code == 502
    assert response.json()["error"] == 'got scalar String for field "id", expecting Int'


def test_a_failing_request_transform_is_a_500_and_calls_nothing(client: TestClient, webhook: Webhook) -> None:
    webhook.respond("/never", body={"id": 1})
    define(client, webhook.url("/never"), request_transform={"body": '{\n  "a": {{ $body.input.nope.deeper }}\n}'})
    response = run(client, {"user": {"email": "e"}}, headers=USER)
    assert response.status_code == 500
    assert response.json() == {
        "path": "$",
        "error": 'request_transform.body: Evaluation error: Path Lookup Error: "$body.input.nope.deeper" '
        "at line 2, column 11",
        "code": "transformation-failed",
    }
    assert webhook.received == []


def test_a_failing_response_transform_is_a_500(client: TestClient, webhook: Webhook) -> None:
    webhook.respond("/r", body={"id": 1})
    define(client, webhook.url("/r"), response_transform={"body": "{{ $body.data.id }}"})
    response = run(client, {"user": {"email": "e"}}, headers=USER)
    assert response.status_code == 500
    body = response.json()
    assert body["code"] == "transformation-failed"
    assert (
        body["error"]
        == 'response_transform.body: Evaluation error: Path Lookup Error: "$body.data.id" at line 1, column 4'
    )
    admin = run(client, {"user": {"email": "e"}})
    assert admin.json()["internal"]["response"] == {"status": 200, "body": '{"id": 1}'}


def test_a_template_that_does_not_parse_is_never_a_silent_success(client: TestClient, webhook: Webhook) -> None:
    """Refused at create_action once metadata validates templates (metadata.kriti.validate_transforms);
    until then (or for a definition stored before), the run refuses clearly."""
    webhook.respond("/p", body={"id": 1})
    query(client, "set_custom_types", {"objects": [{"name": "Out", "fields": [{"name": "id", "type": "Int!"}]}]})
    definition = {"handler": webhook.url("/p"), "output_type": "Out", "request_transform": {"url": "{{ $base_url "}}
    created = query(client, "create_action", {"name": "p", "definition": definition})
    if created.status_code == 400:
        assert created.json()["code"] == "validation-failed"
        assert created.json()["error"] == "request transform validation failed"
        assert created.json()["internal"][0]["message"].startswith("request_transform.url: Parse error:")
    else:
        response = query(client, "run_action", {"name": "p", "input": {}})
        assert response.status_code == 500
        assert response.json()["code"] == "transformation-failed"
        assert "request_transform.url: Parse error:" in response.json()["error"]
    assert webhook.received == []


def test_asynchronous_runs_are_transformed_too(client: TestClient, webhook: Webhook) -> None:
    webhook.respond("/async/42", body={"result": {"id": 42}})
    define(
        client,
        webhook.url("/async"),
        kind="asynchronous",
        request_transform={"url": "{{$base_url}}/{{$session_variables['x-hasura-user-id']}}", "method": "PUT"},
        response_transform={"version": 2, "body": {"action": "transform", "template": "{{ $body.result }}"}},
    )
    run_id = run(client, {"user": {"email": "e"}}, headers=USER).json()["action_id"]
    result = wait_for(client, run_id, headers=USER)
    assert (result["status"], result["output"]) == ("completed", {"id": 42})
    assert [s.method for s in webhook.received] == ["PUT"]


# ------------------------------------------------------------------------------ test_webhook_transform


def test_webhook_transform_previews_without_sending(client: TestClient, webhook: Webhook) -> None:
    args = {
        "webhook_url": webhook.url("/api"),
        "body": {"input": {"items": [1, 2]}},
        "session_variables": {"X-Hasura-User-Id": "7"},
        "request_headers": {"X-Keep": "k"},
        "request_transform": {
            "version": 2,
            "method": "PATCH",
            "url": "{{$base_url}}/{{ getSessionVariable('x-hasura-user-id') }}",
            "body": {"action": "transform", "template": "{{ range i, x := $body.input.items }} {{ x }} {{ end }}"},
            "request_headers": {"add_headers": {"X-Count": "{{ size($body.input.items) }}"}},
        },
    }
    response = query(client, "test_webhook_transform", args)
    assert response.status_code == 200, response.text
    assert response.json() == {
        "webhook_url": webhook.url("/api/7"),
        "method": "PATCH",
        "headers": [["content-type", "application/json"], ["x-count", "2"], ["x-keep", "k"]],
        "body": [1, 2],
    }
    assert webhook.received == []


def test_webhook_transform_reads_variables_from_the_sample_env_only(
    client: TestClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    """As Hasura: a preview never shows the server's real environment."""
    monkeypatch.setenv("PREVIEW_BASE", "http://real-secret-host")
    args: dict[str, Any] = {
        "webhook_url": "{{PREVIEW_BASE}}/x",
        "env": {"PREVIEW_BASE": "http://svc"},
        "body": {},
        "request_transform": {"url": "{{$base_url}}/y"},
    }
    assert query(client, "test_webhook_transform", args).json()["webhook_url"] == "http://svc/x/y"
    args["webhook_url"] = {"from_env": "PREVIEW_BASE"}
    assert query(client, "test_webhook_transform", args).json()["webhook_url"] == "http://svc/y"
    del args["env"]
    unset = query(client, "test_webhook_transform", args)
    assert unset.status_code == 400
    assert unset.json()["code"] == "not-found"
    assert unset.json()["error"].startswith("Missing Env Var: PREVIEW_BASE. For security reasons")
    assert "real-secret-host" not in unset.text
