"""run_action against real aiohttp webhook servers: Hasura's contract end to end."""

from __future__ import annotations

import time
from typing import Any

import pytest
from starlette.testclient import TestClient

from tests.conftest import ClientFactory, query
from tests.webhook import Webhook

TYPES = {
    "objects": [
        {
            "name": "UserOutput",
            "fields": [
                {"name": "id", "type": "Int!"},
                {"name": "email", "type": "String"},
                {"name": "tags", "type": "[String!]"},
            ],
        }
    ],
    "input_objects": [
        {
            "name": "UserInput",
            "fields": [
                {"name": "email", "type": "String!"},
                {"name": "plan", "type": "Plan"},
                {"name": "friends", "type": "[UserInput!]"},
            ],
        }
    ],
    "enums": [{"name": "Plan", "values": [{"value": "FREE"}, {"value": "PRO"}]}],
}
ARGUMENTS = [{"name": "user", "type": "UserInput!"}, {"name": "count", "type": "Int"}, {"name": "ids", "type": "[ID!]"}]
USER = {"X-Hasura-Role": "user", "X-Hasura-User-Id": "42"}


def define(client: TestClient, handler: str, name: str = "create_user", **definition: Any) -> None:
    if query(client, "export_metadata").json().get("custom_types") is None:
        assert query(client, "set_custom_types", TYPES).status_code == 200
    args = {
        "name": name,
        "definition": {"handler": handler, "output_type": "UserOutput", "arguments": ARGUMENTS, **definition},
    }
    response = query(client, "create_action", args)
    assert response.status_code == 200, response.text
    assert query(client, "create_action_permission", {"action": name, "role": "user"}).status_code == 200


def run(client: TestClient, input_: Any, name: str = "create_user", headers: dict[str, str] | None = None) -> Any:
    return query(client, "run_action", {"name": name, "input": input_}, headers=headers)


def test_a_sync_action_calls_its_webhook_with_hasuras_payload(client: TestClient, webhook: Webhook) -> None:
    define(client, webhook.respond("/create", body={"id": 7, "email": "a@b.c", "ignored": True}))
    response = run(client, {"user": {"email": "a@b.c", "plan": "PRO"}, "ids": 5}, headers=USER)
    assert response.status_code == 200, response.text
    # Extra fields are dropped; an omitted nullable field is null, as GraphQL answers it.
    assert response.json() == {"output": {"id": 7, "email": "a@b.c", "tags": None}}
    [call] = webhook.calls("/create")
    assert call.body == {
        "action": {"name": "create_user"},
        "input": {"user": {"email": "a@b.c", "plan": "PRO"}, "ids": ["5"]},  # coerced as GraphQL does
        "session_variables": {"x-hasura-role": "user", "x-hasura-user-id": "42"},
        "request_query": None,
    }
    assert call.headers["content-type"] == "application/json"
    assert call.headers["user-agent"].startswith("switchboard/")


def test_a_handlers_cookie_goes_to_its_caller_and_never_to_the_next_call(client: TestClient, webhook: Webhook) -> None:
    """A handler's Set-Cookie is answered to the caller whose run it was (as Hasura does), and
    never kept by the server: one user's session cookie must not reach the handler with another
    user's call (a shared cookie jar would send it to every later call to that host name)."""
    url = webhook.respond("/login", body={"id": 1, "email": "a@b.c"}, headers={"Set-Cookie": "sid=alice; Path=/"})
    define(client, url.replace("127.0.0.1", "localhost"))  # a host name: cookie jars keep no IP's cookies
    first = run(client, {"user": {"email": "a@b.c"}, "ids": 1}, headers=USER)
    assert first.status_code == 200, first.text
    assert "sid=alice" in first.headers["set-cookie"]
    assert run(client, {"user": {"email": "b@b.c"}, "ids": 2}, headers=USER).status_code == 200
    assert [call.headers.get("cookie") for call in webhook.calls("/login")] == [None, None]


def test_roles_without_permission_see_no_such_action(client: TestClient, webhook: Webhook) -> None:
    define(client, webhook.respond("/create", body={"id": 1}))
    unknown = run(client, {}, name="nope", headers={"X-Hasura-Role": "guest"})
    hidden = run(client, {"user": {"email": "x"}}, headers={"X-Hasura-Role": "guest"})
    assert unknown.status_code == hidden.status_code == 400
    assert hidden.json() == {
        "path": "$.args.name",
        "error": 'action with name "create_user" does not exist',
        "code": "not-exists",
    }
    assert unknown.json()["code"] == "not-exists"
    assert not webhook.received


@pytest.mark.parametrize(
    ("input_", "path", "error"),
    [
        ({}, "$.args.input", 'missing required argument "user" of type "UserInput!"'),
        ({"user": None}, "$.args.input.user", "expected a non-null value, got null"),
        ({"user": {"email": 1}}, "$.args.input.user.email", "expected a value of type String, got a number"),
        ({"user": {}}, "$.args.input.user", 'missing required field "email" of type UserInput'),
        ({"user": {"email": "x", "age": 3}}, "$.args.input.user.age", 'unexpected field "age" in type UserInput'),
        (
            {"user": {"email": "x", "plan": "GOLD"}},
            "$.args.input.user.plan",
            'expected a value of enum Plan, got "GOLD"',
        ),
        (
            {"user": {"email": "x", "friends": [{"email": "y"}, {"mail": "z"}]}},
            "$.args.input.user.friends[1].mail",
            'unexpected field "mail" in type UserInput',
        ),
        (
            {"user": {"email": "x"}, "count": 2**31},
            "$.args.input.count",
            "expected a value of type Int (a 32-bit integer), got a number",
        ),
        ({"user": {"email": "x"}, "count": 1.5}, "$.args.input.count", "expected a value of type Int, got a number"),
        ({"user": {"email": "x"}, "count": True}, "$.args.input.count", "expected a value of type Int, got a boolean"),
        ({"user": {"email": "x"}, "ids": [None]}, "$.args.input.ids[0]", "expected a non-null value, got null"),
        (
            {"user": {"email": "x"}, "extra": 1},
            "$.args.input.extra",
            'unexpected argument "extra" for action "create_user"',
        ),
    ],
)
def test_input_is_validated_before_the_handler_is_called(
    client: TestClient, webhook: Webhook, input_: Any, path: str, error: str
) -> None:
    define(client, webhook.respond("/create", body={"id": 1}))
    response = run(client, input_)
    assert response.status_code == 400
    assert response.json() == {"path": path, "error": error, "code": "validation-failed"}
    assert not webhook.received


def test_a_4xx_with_a_message_is_the_callers_error(client: TestClient, webhook: Webhook) -> None:
    body = {"message": "email taken", "code": "email-taken", "extensions": {"field": "email"}}
    define(client, webhook.respond("/create", 422, body))
    response = run(client, {"user": {"email": "x"}}, headers=USER)
    assert response.status_code == 400
    assert response.json() == {
        "path": "$",
        "error": "email taken",
        "code": "email-taken",
        "extensions": {"field": "email"},
    }
    assert query(client, "drop_action", {"name": "create_user"}).status_code == 200
    define(client, webhook.respond("/plain", 400, {"message": "no"}))
    assert run(client, {"user": {"email": "x"}}).json()["code"] == "unexpected"


@pytest.mark.parametrize(
    ("canned", "status", "error"),
    [
        ({"status": 400, "body": {"error": "x"}}, 400, "the action handler answered 400 without the key 'message'"),
        ({"status": 500, "body": {"message": "boom"}}, 502, "expecting 2xx or 4xx status code, but found 500"),
        ({"status": 200, "raw": b"<html>"}, 502, "not a valid json response from webhook"),
        ({"status": 200, "body": None}, 502, "got null for the action webhook response"),
        ({"status": 200, "body": {"email": "x"}}, 502, 'field "id" expected in webhook response, but not found'),
        ({"status": 200, "body": {"id": None}}, 502, 'expecting not null value for field "id"'),
        ({"status": 200, "body": {"id": "7"}}, 502, 'got scalar String for field "id", expecting Int'),
        ({"status": 200, "body": [{"id": 1}]}, 502, "got array for the action webhook response, expecting UserOutput"),
        ({"status": 200, "body": {"id": 1, "tags": "a"}}, 502, 'expecting array for field "tags"'),
    ],
)
def test_handler_failures(
    client: TestClient, webhook: Webhook, canned: dict[str, Any], status: int, error: str
) -> None:
    define(client, webhook.respond("/create", **canned), output_type="UserOutput!")
    admin = run(client, {"user": {"email": "x"}})
    assert admin.status_code == status, admin.text
    assert admin.json()["error"].startswith(error)
    # Admins see the exchange; the handler URL is shown as its template.
    assert admin.json()["internal"]["request"]["url"] == webhook.url("/create")
    user = run(client, {"user": {"email": "x"}}, headers=USER)
    assert user.status_code == status
    assert "internal" not in user.json()


def test_unreachable_and_slow_handlers(client: TestClient, webhook: Webhook) -> None:
    define(client, "http://127.0.0.1:9/nothing-listens-here", name="unreachable")
    response = run(client, {"user": {"email": "x"}}, name="unreachable")
    assert response.status_code == 502
    assert response.json()["error"] == "http exception when calling webhook"
    define(client, webhook.respond("/slow", body={"id": 1}, delay=2), name="slow", timeout=1)
    started = time.monotonic()
    response = run(client, {"user": {"email": "x"}}, name="slow")
    assert response.status_code == 504
    assert response.json()["error"] == "the action handler did not answer within 1 seconds"
    assert time.monotonic() - started < 1.9


def test_headers_env_templates_and_forwarding(
    client: TestClient, webhook: Webhook, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("HOOK_BASE", webhook.url(""))
    monkeypatch.setenv("HOOK_TOKEN", "t0ken")
    webhook.respond("/create", body={"id": 1})
    define(
        client,
        "{{HOOK_BASE}}/create",
        forward_client_headers=True,
        headers=[{"name": "Authorization", "value_from_env": "HOOK_TOKEN"}, {"name": "X-Static", "value": "s"}],
    )
    response = run(
        client,
        {"user": {"email": "x"}},
        headers={**USER, "Authorization": "client-token", "X-Custom": "c", "Origin": "o", "User-Agent": "ua/1"},
    )
    assert response.status_code == 200, response.text
    [call] = webhook.calls("/create")
    headers = call.headers
    assert headers["authorization"] == "t0ken"  # configured headers win
    assert headers["x-static"] == "s"
    assert headers["x-custom"] == "c"
    assert headers["x-forwarded-user-agent"] == "ua/1"
    assert "x-forwarded-host" in headers
    assert "origin" not in headers
    assert not any(k.startswith("x-hasura-") for k in headers)
    monkeypatch.delenv("HOOK_TOKEN")
    missing = run(client, {"user": {"email": "x"}})
    assert missing.status_code == 400
    assert missing.json() == {
        "path": "$.args",
        "error": 'the environment variable "HOOK_TOKEN" used by header "Authorization" '
        'of action "create_user" is not set',
        "code": "invalid-configuration",
    }


def wait_for(client: TestClient, run_id: str, headers: dict[str, str] | None = None) -> dict[str, Any]:
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        result = query(client, "get_action_result", {"id": run_id}, headers=headers).json()
        if result.get("status") in ("completed", "error"):
            return dict(result)
        time.sleep(0.02)
    raise AssertionError(f"run {run_id} did not finish: {result}")


def test_async_actions_run_in_the_background(client: TestClient, webhook: Webhook) -> None:
    define(client, webhook.respond("/create", body={"id": 9}), kind="asynchronous")
    response = run(client, {"user": {"email": "x"}}, headers=USER)
    assert response.status_code == 200, response.text
    run_id = response.json()["action_id"]
    result = wait_for(client, run_id, USER)
    assert result["status"] == "completed"
    assert result["output"] == {"id": 9, "email": None, "tags": None}
    assert result["errors"] is None
    assert result["attempts"] == 1
    assert result["action"] == "create_user"
    # The payload and session reached the handler as for a sync call.
    assert webhook.calls("/create")[0].body["session_variables"] == {"x-hasura-role": "user", "x-hasura-user-id": "42"}
    # Another user, or another role, does not see the run.
    for headers in ({"X-Hasura-Role": "user", "X-Hasura-User-Id": "43"}, {"X-Hasura-Role": "other"}):
        hidden = query(client, "get_action_result", {"id": run_id}, headers=headers)
        assert hidden.json()["code"] == "not-exists"
    log = query(client, "get_action_log", {"action": "create_user"}).json()["runs"]
    assert [(r["id"], r["input"], r["mode"], r["role"]) for r in log] == [
        (run_id, {"user": {"email": "x"}}, "async", "user")
    ]
    assert query(client, "get_action_log", headers=USER).json()["code"] == "access-denied"
    # drop_action (clear_data defaults to true) deletes its runs.
    assert query(client, "drop_action", {"name": "create_user"}).status_code == 200
    assert query(client, "get_action_result", {"id": run_id}).json()["code"] == "not-exists"


def test_async_failures_are_retried_with_retry_conf(client: TestClient, webhook: Webhook) -> None:
    webhook.canned["/flaky"] = webhook.canned.get("/flaky") or None  # type: ignore[assignment]
    webhook.respond("/flaky", body={"id": 3}, first=[(500, {}), (400, {"message": "not yet"})])
    define(
        client,
        webhook.url("/flaky"),
        kind="asynchronous",
        retry_conf={"num_retries": 2, "retry_interval_seconds": 0.05, "backoff": 2},
    )
    result = wait_for(client, run(client, {"user": {"email": "x"}}).json()["action_id"])
    assert (result["status"], result["attempts"]) == ("completed", 3)
    assert result["output"] == {"id": 3, "email": None, "tags": None}
    webhook.respond("/broken", 500, {})
    define(client, webhook.url("/broken"), name="broken", kind="asynchronous")
    run_id = run(client, {"user": {"email": "x"}}, name="broken", headers=USER).json()["action_id"]
    result = wait_for(client, run_id)
    assert result["status"] == "error"
    expected = {"path": "$", "error": "expecting 2xx or 4xx status code, but found 500", "code": "unexpected"}
    errors = result["errors"]  # read by an admin: with Hasura's internal
    assert errors.pop("internal")["error"] == "expecting 2xx or 4xx status code, but found 500"
    assert errors == expected
    assert result["attempts"] == 1
    # The user who started it sees the error as a synchronous run would have shown it: no internals.
    assert query(client, "get_action_result", {"id": run_id}, headers=USER).json()["errors"] == expected


def test_sync_runs_are_logged_when_auditing(make_client: ClientFactory, webhook: Webhook) -> None:
    client = make_client(audit_sync_runs=True)
    define(client, webhook.respond("/create", body={"id": 1}))
    assert run(client, {"user": {"email": "x"}}).status_code == 200
    [logged] = query(client, "get_action_log").json()["runs"]
    assert (logged["mode"], logged["status"]) == ("sync", "completed")
    assert logged["output"] == {"id": 1, "email": None, "tags": None}


def test_dry_run_shows_the_transformed_request_and_sends_nothing(
    client: TestClient, webhook: Webhook, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("USERS_API_KEY", "k-123")
    transform = {
        "version": 2,
        "template_engine": "Kriti",
        "method": "PUT",
        "url": "{{$base_url}}/users/{{$session_variables['x-hasura-user-id']}}",
        "body": {"action": "transform", "template": '{"mail": {{$body.input.user.email}}}'},
    }
    define(
        client,
        webhook.respond("/api", body={"id": 1}),
        headers=[{"name": "X-Api-Key", "value_from_env": "USERS_API_KEY"}],
        request_transform=transform,
    )
    args = {"name": "create_user", "input": {"user": {"email": "a@b.c"}}, "dry_run": True}
    response = query(client, "run_action", args, headers={"X-Hasura-User-Id": "42"})
    assert response.status_code == 200, response.text
    assert response.json() == {
        "dry_run": True,
        "kind": "webhook",
        "request": {
            "method": "PUT",
            "url": webhook.url("/api") + "/users/42",
            "headers": {
                "content-type": "application/json",
                "user-agent": response.json()["request"]["headers"]["user-agent"],
                "x-api-key": "<from env USERS_API_KEY>",  # never the secret itself
            },
            "body": {"mail": "a@b.c"},
        },
    }
    assert webhook.calls("/api") == [] and webhook.calls("/api/users/42") == []
    # Input is checked as for a real run; other roles may not preview.
    bad = query(client, "run_action", {**args, "input": {}})
    assert bad.json()["code"] == "validation-failed"
    denied = query(client, "run_action", args, headers=USER)
    assert denied.status_code == 400 and denied.json()["code"] == "access-denied"
