"""Running actions as Hasura's own action tests expect (server/tests-py/queries/actions/sync/*.yaml
and test_actions.py), through run_action against a real webhook answering what Hasura's test
webhook (server/tests-py/context.py) answers; and the parts of issue 10 that need a run:
unparsable templates and reserved variables kept by replace_metadata, inherited roles, Hasura's
`internal`. Hasura answers these on /v1/graphql with HTTP 200; Switchboard's run_action uses its
statuses (502 for a handler's bad answer, 504 for a timeout), the messages are Hasura's.
"""

from __future__ import annotations

from typing import Any

import pytest
from starlette.testclient import TestClient

from tests.conftest import query
from tests.test_run_action import wait_for
from tests.webhook import Webhook

# sync/schema_setup.yaml's custom types that the cases below use.
TYPES = {
    "scalars": [{"name": "myCustomScalar"}],
    "objects": [
        {"name": "UserId", "fields": [{"name": "id", "type": "Int!"}]},
        {"name": "OutObject", "fields": [{"name": "id", "type": "ID!"}, {"name": "name", "type": "String"}]},
        {"name": "NullableResp", "fields": [{"name": "id", "type": "Int!"}]},
        {"name": "Address", "fields": [{"name": "city", "type": "String"}, {"name": "country", "type": "String"}]},
        {
            "name": "TypedNestedNull",
            "fields": [{"name": "id", "type": "ID!"}, {"name": "child", "type": "TypedNestedNull"}],
        },
    ],
}
USER = {"X-Hasura-Role": "user", "X-Hasura-User-Id": "1"}


def ok(response: Any) -> Any:
    assert response.status_code == 200, response.text
    return response.json()


def action(client: TestClient, name: str, output_type: str, handler: str, **definition: Any) -> None:
    if "custom_types" not in ok(query(client, "export_metadata")):
        ok(query(client, "set_custom_types", TYPES))
    ok(
        query(
            client,
            "create_action",
            {
                "name": name,
                "definition": {"handler": handler, "output_type": output_type, "arguments": None, **definition},
            },
        )
    )
    ok(query(client, "create_action_permission", {"action": name, "role": "user"}))


W = "the action webhook response"
NOT_NULL_ID = 'expecting not null value for field "id"'
# (Hasura's test, output type, what its webhook answers, the output or Hasura's message)
OUTPUTS = [
    ("null_response.yaml", "NullableResp", None, {"output": None}),
    ("omitted_field_response_for_nullable_field.yaml", "Address", {"country": "India"},
     {"output": {"city": None, "country": "India"}}),
    ("mirror_action_unexpected_field.yaml", "OutObject", {"id": "some-id", "name": "Alice", "age": 25},
     {"output": {"id": "some-id", "name": "Alice"}}),
    ("expecting_jsonb_response_success.yaml", "json!", {"foo": "bar"}, {"output": {"foo": "bar"}}),
    ("expecting_custom_scalar_response_success.yaml", "myCustomScalar!", {"foo": "bar"}, {"output": {"foo": "bar"}}),
    ("expecting_custom_scalar_array_response_success.yaml", "[myCustomScalar!]!", [{"foo": "bar"}],
     {"output": [{"foo": "bar"}]}),
    ("get_scalar_action_output_type_success.yaml", "String!", "some-string", {"output": "some-string"}),
    ("typed_nested_null (test_actions.py)", "TypedNestedNull!", {"id": 1, "child": None},
     {"output": {"id": 1, "child": None}}),
    ("get_null_field_expecting_non_nullable_field_array.yaml", "[String!]!", ["foo", "bar", None], f"got null for {W}"),
    ("expecting_scalar_response_got_object.yaml", "String!", {"id": 1}, f"got object for {W}, expecting String"),
    ("expecting_object_response_got_scalar.yaml", "UserId", "some-string",
     f"got scalar String for {W}, expecting UserId"),
    ("expecting_array_response.yaml", "[UserId]", {"id": 1}, f"expecting array for {W}"),
    ("expecting_array_response_got_null.yaml", "[UserId]!", None, f"got null for {W}"),
    ("expecting_object_response.yaml", "UserId", [{"id": 1}, {"id": 2}], f"got array for {W}, expecting UserId"),
    ("expecting_object_response_got_null.yaml", "UserId!", None, f"got null for {W}"),
    ("get_string_scalar_array_action_output_type_expecting_number_array.yaml", "[Int]!", ["foo", "bar", None],
     f"got scalar String for {W}, expecting Int"),
    ("test_expecting_custom_scalar_array_response_got_different_type", "[myCustomScalar!]!", {"foo": "bar"},
     f"expecting array for {W}"),
    ("mirror_action_not_null.yaml", "OutObject", {"name": "Alice", "id": None}, NOT_NULL_ID),
    ("mirror_action_no_field.yaml", "OutObject", {"name": "Alice"},
     'field "id" expected in webhook response, but not found'),
    ("typed_nested_null_wrong_field (test_actions.py)", "TypedNestedNull!", {"id": None, "child": None}, NOT_NULL_ID),
    ("(newest validateResponse) a number for an object", "UserId", 5, f"got scalar String for {W}, expecting UserId"),
    ("(newest validateResponse) a boolean for a string", "String", True,
     f"got scalar Boolean for {W}, expecting String"),
]  # fmt: skip


@pytest.mark.parametrize(("test", "output_type", "answer", "expected"), OUTPUTS, ids=[o[0] for o in OUTPUTS])
def test_outputs_as_hasura_checks_them(
    client: TestClient, webhook: Webhook, test: str, output_type: str, answer: Any, expected: Any
) -> None:
    action(client, "act", output_type, webhook.respond("/act", body=answer))
    response = query(client, "run_action", {"name": "act", "input": {}}, headers=USER)
    if isinstance(expected, dict):
        assert ok(response) == expected
    else:
        assert response.status_code == 502, response.text
        assert response.json() == {"path": "$", "error": expected, "code": "unexpected"}


def test_a_bad_answer_carries_hasuras_internal_for_admins(client: TestClient, webhook: Webhook) -> None:
    """mirror_action_not_null.yaml's `internal`: the request as configured, the answer with its headers."""
    hook = webhook.respond("/mirror-action", body={"name": "Alice", "id": None}, headers={"Set-Cookie": "abcd"})
    action(client, "mirror", "OutObject", hook, arguments=[{"name": "arg", "type": "String"}])
    body = query(client, "run_action", {"name": "mirror", "input": {"arg": "x"}}).json()
    assert body["error"] == 'expecting not null value for field "id"'
    internal = body["internal"]
    assert internal["error"] == "unexpected response"
    assert internal["request"] == {
        "url": hook,
        "body": {
            "action": {"name": "mirror"},
            "input": {"arg": "x"},
            "session_variables": {"x-hasura-role": "admin"},
            "request_query": None,
        },
        "headers": [],
        "transformed_request": None,
    }
    assert internal["response"]["status"] == 200
    assert internal["response"]["body"] == {"name": "Alice", "id": None}
    assert {"name": "Set-Cookie", "value": "abcd"} in internal["response"]["headers"]
    assert "internal" not in query(client, "run_action", {"name": "mirror", "input": {}}, headers=USER).json()


def test_a_handlers_own_error_has_no_internal(client: TestClient, webhook: Webhook) -> None:
    """create_user_fail.yaml / test_create_user_fail: the handler's message and code, nothing more."""
    answer = {"message": "Given email address is not valid", "code": "invalid-email"}
    action(client, "create_user", "UserId", webhook.respond("/create-user", 400, answer))
    response = query(client, "run_action", {"name": "create_user", "input": {}})
    assert response.status_code == 400
    assert response.json() == {"path": "$", "error": "Given email address is not valid", "code": "invalid-email"}


def test_a_timeout_carries_hasuras_internal_to_admins_only(
    client: TestClient, webhook: Webhook, monkeypatch: pytest.MonkeyPatch
) -> None:
    """test_actions.py TestActionTimeout: an async run's errors, read by admin, say "Response
    timeout" and the handler URL as written; the run's own role does not see `internal`."""
    monkeypatch.setenv("ACTION_WEBHOOK_HANDLER", webhook.url(""))
    webhook.respond("/create-user-timeout", body={"id": 1}, delay=2.5)
    handler = "{{ACTION_WEBHOOK_HANDLER}}/create-user-timeout"
    action(client, "create_user", "UserId", handler, kind="asynchronous", timeout=1)
    run_id = ok(query(client, "run_action", {"name": "create_user", "input": {}}, headers=USER))["action_id"]
    result = wait_for(client, run_id)
    errors = result["errors"]
    assert (errors["code"], errors["path"]) == ("timeout", "$")
    assert errors["internal"]["error"]["message"] == "Response timeout"
    assert errors["internal"]["request"]["url"] == "{{ACTION_WEBHOOK_HANDLER}}/create-user-timeout"
    assert errors["internal"]["response"] is None
    mine = ok(query(client, "get_action_result", {"id": run_id}, headers=USER))["errors"]
    assert mine == {"path": "$", "error": errors["error"], "code": "timeout"}
    # A synchronous call times out the same way (504, as DESIGN says).
    ok(
        query(
            client,
            "update_action",
            {"name": "create_user", "definition": {"handler": handler, "output_type": "UserId", "timeout": 1}},
        )
    )
    response = query(client, "run_action", {"name": "create_user", "input": {}})
    assert response.status_code == 504
    assert response.json()["internal"]["error"]["message"] == "Response timeout"


def test_async_errors_show_internal_to_admins_only(client: TestClient, webhook: Webhook) -> None:
    """test_async_actions_error_response_user_role / _admin_role: a handler answering no JSON."""
    webhook.respond("/test-action-user-role-async", raw=b"not json")
    action(
        client,
        "test_async_action_error_response",
        "UserId",
        webhook.url("/test-action-user-role-async"),
        kind="asynchronous",
    )
    run_id = ok(query(client, "run_action", {"name": "test_async_action_error_response", "input": {}}, headers=USER))[
        "action_id"
    ]
    mine = wait_for(client, run_id, headers=USER)["errors"]
    assert mine == {"code": "unexpected", "path": "$", "error": "not a valid json response from webhook"}
    admin = ok(query(client, "get_action_result", {"id": run_id}))["errors"]
    assert admin["internal"]["response"]["body"] == "not json"
    assert admin["internal"]["error"].startswith("invalid json: ")
    [logged] = ok(query(client, "get_action_log", {"action": "test_async_action_error_response"}))["runs"]
    assert "internal" in logged["errors"]


# --- what replace_metadata keeps, and what such an action answers --------------------------------

BROKEN = {
    "name": "broken",
    "definition": {
        "handler": "http://127.0.0.1:9/never",
        "output_type": "UserId",
        "request_transform": {
            "version": 2,
            "url": "{{ $base_url ",
            "body": {"action": "transform", "template": "{{ if }}"},
        },
    },
    "permissions": [{"role": "user"}],
}


@pytest.mark.parametrize("form", ["v1", "v2", "v2 allowing inconsistency"])
def test_unparsable_templates_are_applied_reported_and_refuse_to_run(
    client: TestClient, webhook: Webhook, form: str
) -> None:
    """As Hasura, replace_metadata applies templates it does not parse; Switchboard reports the
    action (naming the template, line and column) and a run refuses before calling anything."""
    hook = webhook.respond("/never", body={"id": 1})
    broken = {**BROKEN, "definition": {**BROKEN["definition"], "handler": hook}}
    document = {"version": 3, "actions": [broken], "custom_types": {"objects": TYPES["objects"][:1]}}
    if form == "v1":
        assert ok(query(client, "replace_metadata", document)) == {"message": "success", "resource_version": 2}
    else:
        args = {"metadata": document, "allow_inconsistent_metadata": form.endswith("inconsistency")}
        answer = ok(query(client, "replace_metadata", args, version=2))
        assert answer["is_consistent"] is False
        [entry] = answer["inconsistent_objects"]
        assert entry["name"] == "action broken" and entry["type"] == "action"
    [entry] = ok(query(client, "get_inconsistent_metadata"))["inconsistent_objects"]
    assert entry["reason"].startswith('Inconsistent object: in action "broken"; request transform validation failed: ')
    assert "request_transform.url: Parse Error: " in entry["reason"] and "at line 1, column " in entry["reason"]
    assert "request_transform.body.template: " in entry["reason"]
    refused = query(client, "run_action", {"name": "broken", "input": {}})
    assert refused.status_code == 400
    body = refused.json()
    assert (body["error"], body["code"]) == ("Request Transformation Failed", "invalid-configuration")
    assert {p["template"] for p in body["internal"]} == {"request_transform.url", "request_transform.body.template"}
    assert all(
        set(p["source_position"]) == {"start_line", "start_column", "end_line", "end_column"} for p in body["internal"]
    )
    assert "internal" not in query(client, "run_action", {"name": "broken", "input": {}}, headers=USER).json()
    assert webhook.received == []
    # create_action / update_action keep refusing it, as Hasura does.
    refused = query(client, "update_action", {"name": "broken", "definition": broken["definition"]})
    assert (refused.status_code, refused.json()["code"]) == (400, "validation-failed")
    ok(query(client, "drop_inconsistent_metadata"))
    assert "actions" not in ok(query(client, "export_metadata"))


def test_a_response_template_that_does_not_parse_refuses_before_the_call(client: TestClient, webhook: Webhook) -> None:
    hook = webhook.respond("/r", body={"id": 1})
    definition = {"handler": hook, "output_type": "UserId", "response_transform": {"body": "{{ $body "}}
    ok(
        query(
            client,
            "replace_metadata",
            {
                "version": 3,
                "actions": [{"name": "r", "definition": definition}],
                "custom_types": {"objects": TYPES["objects"][:1]},
            },
        )
    )
    body = query(client, "run_action", {"name": "r", "input": {}}).json()
    assert (body["error"], body["code"]) == ("Response Transformation Failed", "invalid-configuration")
    assert webhook.received == []


def test_reserved_variables_are_refused_unless_inconsistency_is_allowed(
    client: TestClient, webhook: Webhook, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("HASURA_GRAPHQL_CLIENT_NAME", "do-not-send")
    hook = webhook.respond("/h", body={"id": 1})
    reserved = {
        "name": "leaky",
        "definition": {
            "handler": hook,
            "output_type": "UserId",
            "headers": [{"name": "x-client-id", "value_from_env": "HASURA_GRAPHQL_CLIENT_NAME"}],
        },
    }
    fine = {"name": "fine", "definition": {"handler": hook, "output_type": "UserId"}}
    document = {"version": 3, "actions": [fine, reserved], "custom_types": {"objects": TYPES["objects"][:1]}}
    message = 'env variables starting with "HASURA_GRAPHQL_" are not allowed in value_from_env: {}'
    error = {"error": message.format("HASURA_GRAPHQL_CLIENT_NAME"), "code": "parse-failed"}
    refused = query(client, "replace_metadata", {"metadata": document}, version=2)
    assert refused.status_code == 400
    assert refused.json() == {"path": "$.args.metadata.actions[1].definition.headers[0]", **error}
    refused = query(client, "replace_metadata", document)
    assert refused.json() == {"path": "$.args.actions[1].definition.headers[0]", **error}
    answer = ok(
        query(client, "replace_metadata", {"metadata": document, "allow_inconsistent_metadata": True}, version=2)
    )
    [entry] = answer["inconsistent_objects"]
    assert entry["name"] == "action leaky"
    assert entry["reason"] == f'Inconsistent object: in action "leaky"; {error["error"]}'
    assert ok(query(client, "run_action", {"name": "fine", "input": {}})) == {"output": {"id": 1}}
    refused = query(client, "run_action", {"name": "leaky", "input": {}})
    assert (refused.status_code, refused.json()["code"]) == (400, "invalid-configuration")
    assert len(webhook.received) == 1 and "x-client-id" not in webhook.received[0].headers


# --- inherited roles, running ----------------------------------------------------------------------


def test_inherited_roles_run_what_their_parents_may(client: TestClient, webhook: Webhook) -> None:
    """roles_inheritance/*.yaml, run: an inherited role runs its parents' actions (nested too),
    a permission of its own overrides, and it sees only its own asynchronous runs."""
    action(client, "create_user", "UserId", webhook.respond("/create-user", body={"id": 1}))
    ok(
        query(
            client,
            "create_action",
            {
                "name": "later",
                "definition": {
                    "handler": webhook.respond("/later", body={"id": 2}),
                    "output_type": "UserId",
                    "kind": "asynchronous",
                },
            },
        )
    )
    ok(query(client, "create_action_permission", {"action": "later", "role": "role2"}))
    ok(query(client, "add_inherited_role", {"role_name": "inherited_role1", "role_set": ["user", "role2"]}))
    ok(query(client, "add_inherited_role", {"role_name": "top", "role_set": ["inherited_role1"]}))
    for role in ("inherited_role1", "top"):
        assert ok(
            query(client, "run_action", {"name": "create_user", "input": {}}, headers={"X-Hasura-Role": role})
        ) == {"output": {"id": 1}}
    assert (
        query(
            client, "run_action", {"name": "create_user", "input": {}}, headers={"X-Hasura-Role": "role2"}
        ).status_code
        == 400
    )
    run_id = ok(query(client, "run_action", {"name": "later", "input": {}}, headers={"X-Hasura-Role": "top"}))[
        "action_id"
    ]
    assert wait_for(client, run_id, headers={"X-Hasura-Role": "top"})["output"] == {"id": 2}
    # As Hasura: a run belongs to the session that made it, not to the roles it inherits from.
    assert query(client, "get_action_result", {"id": run_id}, headers={"X-Hasura-Role": "role2"}).status_code == 400
    ok(query(client, "drop_inherited_role", {"role_name": "inherited_role1"}))
    refused = query(client, "run_action", {"name": "create_user", "input": {}}, headers={"X-Hasura-Role": "top"})
    assert refused.json()["code"] == "not-exists"
