"""Webhook transforms: checking them, request/response transforms reaching a real aiohttp webhook,
and test_webhook_transform. The Kriti language itself is tested in test_kriti.py."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml
from starlette.testclient import TestClient

from metadata.transform_checks import TemplateInvalid, validate_transforms
from tests.conftest import query
from tests.test_run_action import USER, define, run, wait_for
from tests.webhook import Webhook

# ------------------------------------------------------------------------------------ validation

TESTS = Path(__file__).parent
# Transforms written for Hasura: real projects' metadata (tests/projects, with their licenses) and
# the actions of Hasura's own tests ported to tests/hasura/.
REAL_METADATA = [*sorted(TESTS.glob("projects/*/metadata/actions.yaml")), *sorted(TESTS.glob("hasura/*.yaml"))]


def _with_transforms(node: Any) -> Iterator[dict[str, Any]]:
    """Every mapping in a YAML document that holds a request or response transform."""
    if isinstance(node, dict):
        if node.get("request_transform") or node.get("response_transform"):
            yield node
        for value in node.values():
            yield from _with_transforms(value)
    elif isinstance(node, list):
        for value in node:
            yield from _with_transforms(value)


def test_transforms_of_real_projects_validate() -> None:
    found = 0
    for path in REAL_METADATA:
        for definition in _with_transforms(yaml.safe_load(path.read_text())):
            validate_transforms(definition.get("request_transform"), definition.get("response_transform"))
            found += 1
    assert found >= 5


@pytest.mark.parametrize(
    ("request_transform", "response_transform", "message"),
    [
        ({"body": "{{ $body.x "}, None, "request_transform.body"),
        ({"url": "{{$base_url}/x"}, None, "request_transform.url"),
        ({"url": "{{ $base_url & }}"}, None, "request_transform.url"),
        ({"url": 'Bearer "x"'}, None, "request_transform.url"),
        ({"version": 3}, None, "request_transform.version must be 1 or 2"),
        ({"template_engine": "Go"}, None, 'request_transform.template_engine must be "Kriti"'),
        ({"body": {"action": "zip"}, "version": 2}, None, "request_transform.body.action must be one of"),
        ({"body": {"action": "transform"}, "version": 2}, None, "request_transform.body.template is required"),
        ({"query_params": {"a": "{{ if }}"}}, None, "request_transform.query_params.a"),
        ({"request_headers": {"add_headers": {"x": "{{"}}}, None, "request_transform.request_headers.add_headers.x"),
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
    Hasura's "... transform validation failed", with kriti's error, the field and the position
    people can use in `internal`."""
    with pytest.raises((ValueError, TemplateInvalid)) as caught:
        validate_transforms(request_transform, response_transform)
    if isinstance(caught.value, TemplateInvalid):
        which = "request" if request_transform is not None else "response"
        assert caught.value.message == f"{which} transform validation failed"
        assert caught.value.code == "validation-failed"
        [problem] = caught.value.internal
        assert problem["template"] == message
        assert problem["error_code"] in ("Parse Error", "Lex Error")
        assert set(problem["source_position"]) == {"start_line", "start_column", "end_line", "end_column"}
        assert problem["detail"].startswith(problem["error_code"] + ": ")
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
        "query_params": {"email": "{{ $body.input.user.email }}", "skip": None, '{{ "k" }}': "v"},
        "request_headers": {
            "add_headers": {"X-Role": "{{ $session_variables['x-hasura-role'] }}"},
            "remove_headers": ["X-Drop"],
        },
        "body": {
            "action": "transform",
            "template": '{"mail": "{{ $body.input.user.email }}", "n": {{ $body.input?.count ?? 0 }}}',
        },
    }
    define(client, webhook.url("/api"), headers=[{"name": "X-Drop", "value": "secret"}], request_transform=transform)
    response = run(client, {"user": {"email": "a+b@c.d"}}, headers=USER)
    assert response.status_code == 200, response.text
    assert response.json() == {"output": {"id": 42, "email": "a@b.c", "tags": None}}
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


def test_a_failing_request_transform_is_a_400_and_calls_nothing(client: TestClient, webhook: Webhook) -> None:
    webhook.respond("/never", body={"id": 1})
    define(client, webhook.url("/never"), request_transform={"body": '{\n  "a": {{ $body.input.nope.deeper }}\n}'})
    response = run(client, {"user": {"email": "e"}}, headers=USER)
    assert response.status_code == 400
    assert response.json() == {
        "path": "$",
        "error": "request_transform.body: Attribute Error: 'Object' has no attribute 'nope' at line 2, column 11",
        "code": "transformation-failed",
    }
    admin = run(client, {"user": {"email": "e"}})  # admins get kriti's error as Hasura reports it
    assert admin.json()["internal"] == [
        {
            "error_code": "Attribute Error",
            "message": "'Object' has no attritubte 'nope'.",
            "source_position": {"start_line": 1, "start_column": 11, "end_line": 1, "end_column": 27},
            "template": "request_transform.body",
            "detail": "Attribute Error: 'Object' has no attribute 'nope' at line 2, column 11",
        }
    ]
    assert webhook.received == []


def test_a_failing_response_transform_is_a_502(client: TestClient, webhook: Webhook) -> None:
    webhook.respond("/r", body={"id": 1})
    define(client, webhook.url("/r"), response_transform={"body": "{{ $body.data.id }}"})
    response = run(client, {"user": {"email": "e"}}, headers=USER)
    assert response.status_code == 502
    body = response.json()
    assert body["code"] == "transformation-failed"
    assert (
        body["error"]
        == "response_transform.body: Attribute Error: 'Object' has no attribute 'data' at line 1, column 4"
    )
    admin = run(client, {"user": {"email": "e"}})  # Hasura's internal: kriti's errors, the call
    internal = admin.json()["internal"]
    assert internal["error"][0]["error_code"] == "Attribute Error"
    assert internal["request"]["url"] == webhook.url("/r")
    assert internal["response"]["status"] == 200 and internal["response"]["body"] == {"id": 1}


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
        assert created.json()["internal"][0]["template"] == "request_transform.url"
        assert created.json()["internal"][0]["error_code"] == "Parse Error"
    else:
        response = query(client, "run_action", {"name": "p", "input": {}})
        assert response.status_code == 400
        assert response.json()["code"] == "transformation-failed"
        assert "request_transform.url: Parse Error:" in response.json()["error"]
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
    assert (result["status"], result["output"]) == ("completed", {"id": 42, "email": None, "tags": None})
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
            "url": '{{$base_url}}/{{ getSessionVariable("x-hasura-user-id") }}',
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
