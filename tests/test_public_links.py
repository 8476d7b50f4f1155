"""Public links: create, export and replace, run without credentials as the public role, rate
limits, revocation. Real app in-process, real webhook servers, on both store backends."""

from __future__ import annotations

import time
import uuid
from typing import Any

import pytest
from starlette.testclient import TestClient

from handlers.execution.rate_limit import RateLimiter
from tests.conftest import ClientFactory, query
from tests.webhook import Webhook

ADMIN = {"X-Hasura-Admin-Secret": "s"}
TYPES = {"objects": [{"name": "Greeting", "fields": [{"name": "text", "type": "String!"}]}]}
ARGUMENTS = [{"name": "name", "type": "String!"}, {"name": "times", "type": "Int"}]


def ok(response: Any) -> Any:
    assert response.status_code == 200, response.text
    return response.json()


def define(
    client: TestClient, handler: str, name: str = "greet", headers: dict[str, str] | None = None, **definition: Any
) -> None:
    """An action `name` with a webhook handler (and the custom types it needs)."""
    if "custom_types" not in ok(query(client, "export_metadata", headers=headers)):
        ok(query(client, "set_custom_types", TYPES, headers=headers))
    args = {
        "name": name,
        "definition": {"handler": handler, "output_type": "Greeting", "arguments": ARGUMENTS, **definition},
    }
    ok(query(client, "create_action", args, headers=headers))


def link(client: TestClient, action: str = "greet", headers: dict[str, str] | None = None) -> str:
    return str(ok(query(client, "create_action_public_link", {"action": action}, headers=headers))["uuid"])


def run_public(client: TestClient, key: str, input_: Any = None, headers: dict[str, str] | None = None) -> Any:
    args: dict[str, Any] = {"uuid": key}
    if input_ is not None:
        args["input"] = input_
    return query(client, "run_public_action", args, headers=headers)


def not_exists(key: str) -> dict[str, str]:
    return {"path": "$.args.uuid", "error": f'public link "{key}" does not exist', "code": "not-exists"}


def test_create_answers_a_uuid_and_the_same_one_again(client: TestClient, webhook: Webhook) -> None:
    define(client, webhook.respond("/greet", body={"text": "hi"}))
    first = ok(query(client, "create_action_public_link", {"action": "greet"}))
    assert set(first) == {"uuid", "resource_version"}
    assert str(uuid.UUID(first["uuid"])) == first["uuid"]
    again = ok(query(client, "create_action_public_link", {"action": "greet"}))
    # Nothing changed, so no new version either.
    assert again == first
    unknown = query(client, "create_action_public_link", {"action": "nope"})
    assert unknown.status_code == 400
    assert unknown.json()["code"] == "not-exists"
    missing = query(client, "create_action_public_link", {})
    assert missing.status_code == 400
    assert missing.json() == {"path": "$.args", "error": 'key "action" not found', "code": "parse-failed"}


def test_export_and_replace_keep_the_link(make_client: ClientFactory, webhook: Webhook) -> None:
    client = make_client()
    define(client, webhook.respond("/greet", body={"text": "hi"}))
    key = link(client)
    exported = ok(query(client, "export_metadata"))
    assert exported["public_links"] == [{"action": "greet", "uuid": key}]
    version = ok(query(client, "export_metadata", version=2))["resource_version"]
    # Applying the export back changes nothing: same link, no new version.
    assert ok(query(client, "replace_metadata", exported)) == {"message": "success", "resource_version": version}
    assert ok(query(client, "export_metadata", version=2)) == {"resource_version": version, "metadata": exported}
    assert ok(run_public(client, key, {"name": "a"})) == {"output": {"text": "hi"}}
    # A link, like any metadata, survives into a fresh database by way of its export.
    ok(query(client, "clear_metadata"))
    assert run_public(client, key, {"name": "a"}).json() == not_exists(key)
    ok(query(client, "replace_metadata", exported))
    assert ok(run_public(client, key, {"name": "a"})) == {"output": {"text": "hi"}}
    # Another server on the same store knows the link as soon as it is asked for it.
    other = make_client()
    ok(query(client, "drop_action_public_link", {"action": "greet"}))
    fresh = link(client)
    assert fresh != key
    assert ok(run_public(other, fresh, {"name": "b"})) == {"output": {"text": "hi"}}


def test_replace_refuses_links_sharing_a_uuid(client: TestClient) -> None:
    key = str(uuid.uuid4())
    document = {
        "version": 3,
        "sources": [],
        "public_links": [{"action": "a", "uuid": key}, {"action": "b", "uuid": key.upper()}],
    }
    response = query(client, "replace_metadata", document)
    assert response.status_code == 400
    assert response.json()["code"] == "already-exists"
    bad = query(client, "replace_metadata", {**document, "public_links": [{"action": "a", "uuid": "x"}]})
    assert bad.status_code == 400
    assert bad.json()["code"] == "parse-failed"


def test_public_runs_need_no_credentials(make_client: ClientFactory, webhook: Webhook) -> None:
    client = make_client(admin_secret="s")
    define(client, webhook.respond("/greet", body={"text": "hi"}), headers=ADMIN)
    key = link(client, headers=ADMIN)
    assert ok(run_public(client, key, {"name": "a"})) == {"output": {"text": "hi"}}
    # Credentials that do not pass do not stop a public run either; /v1/metadata serves it too.
    assert ok(run_public(client, key, {"name": "a"}, headers={"X-Hasura-Admin-Secret": "wrong"}))
    body = {"type": "run_public_action", "args": {"uuid": key, "input": {"name": "a"}}}
    assert ok(client.post("/v1/metadata", json=body)) == {"output": {"text": "hi"}}
    # Everything else still needs them.
    private = query(client, "run_action", {"name": "greet", "input": {"name": "a"}})
    assert private.status_code == 401
    assert private.json()["code"] == "access-denied"
    for type_, args in [
        ("create_action_public_link", {"action": "greet"}),
        ("drop_action_public_link", {"action": "greet"}),
        ("export_metadata", {}),
    ]:
        assert query(client, type_, args).status_code == 401, type_
    # A bulk is not public, whatever it holds.
    nested = query(client, "bulk", [{"type": "run_public_action", "args": {"uuid": key, "input": {"name": "a"}}}])
    assert nested.status_code == 401
    # Not JSON, or too big to be worth reading without credentials: the authentication error.
    assert client.post("/v1/query", content=b"{").status_code == 401
    huge = {"uuid": key, "input": {"name": "x" * (1 << 20)}}
    assert query(client, "run_public_action", huge).status_code == 401
    assert len(webhook.calls("/greet")) == 3


def test_the_handler_sees_only_the_public_role(make_client: ClientFactory, webhook: Webhook) -> None:
    client = make_client(public_role="visitor")
    define(client, webhook.respond("/greet", body={"text": "hi"}), forward_client_headers=True)
    key = link(client)
    # With no admin secret set this caller is an admin claiming to be user 42: none of it counts.
    claims = {"X-Hasura-Role": "admin", "X-Hasura-User-Id": "42", "X-Custom": "c", "Authorization": "Bearer t"}
    assert ok(run_public(client, key, {"name": "a", "times": 2}, headers=claims))
    [call] = webhook.calls("/greet")
    assert call.body == {
        "action": {"name": "greet"},
        "input": {"name": "a", "times": 2},
        "session_variables": {"x-hasura-role": "visitor"},
        "request_query": None,
    }
    # No client header reaches the handler, forwarding or not.
    assert not {"x-hasura-user-id", "x-hasura-role", "x-custom", "authorization"} & set(call.headers)
    # The public role needs no permission on the action, and holding one changes nothing.
    ok(query(client, "create_action_permission", {"action": "greet", "role": "visitor"}))
    assert ok(run_public(client, key, {"name": "b"}))
    assert webhook.calls("/greet")[1].body["session_variables"] == {"x-hasura-role": "visitor"}


def test_the_default_public_role_is_public(client: TestClient, webhook: Webhook) -> None:
    define(client, webhook.respond("/greet", body={"text": "hi"}))
    ok(run_public(client, link(client), {"name": "a"}, headers={"X-Hasura-User-Id": "7"}))
    [call] = webhook.calls("/greet")
    assert call.body["session_variables"] == {"x-hasura-role": "public"}


@pytest.mark.parametrize(
    ("input_", "status", "expected"),
    [
        (None, 400, {"path": "$.args.input", "error": 'missing required argument "name" of type "String!"'}),
        ({"name": None}, 400, {"path": "$.args.input.name", "error": "expected a non-null value, got null"}),
        ({"name": 1}, 400, {"path": "$.args.input.name", "error": "expected a value of type String, got a number"}),
        ({"name": "a", "x": 1}, 400, {"path": "$.args.input.x", "error": 'unexpected argument "x" for action "greet"'}),
        ("a string", 400, {"path": "$.args.input", "code": "parse-failed"}),
    ],
)
def test_input_is_validated_before_the_handler_is_called(
    client: TestClient, webhook: Webhook, input_: Any, status: int, expected: dict[str, str]
) -> None:
    define(client, webhook.respond("/greet", body={"text": "hi"}))
    response = run_public(client, link(client), input_)
    assert response.status_code == status
    body = response.json()
    assert {"code": "validation-failed", **expected}.items() <= body.items(), body
    assert not webhook.received


def test_unknown_fields_and_uuids(client: TestClient, webhook: Webhook) -> None:
    define(client, webhook.respond("/greet", body={"text": "hi"}))
    key = link(client)
    unknown = str(uuid.uuid4())
    for garbage in [unknown, "garbage", "", "../greet", "greet"]:
        response = run_public(client, garbage, {"name": "a"})
        assert response.status_code == 400
        assert response.json() == not_exists(garbage)
    # A UUID is a UUID however it is written.
    assert ok(run_public(client, key.upper(), {"name": "a"}))
    assert ok(run_public(client, "{" + key.replace("-", "") + "}", {"name": "a"}))
    extra = query(client, "run_public_action", {"uuid": key, "input": {"name": "a"}, "dry_run": True})
    assert extra.status_code == 400
    assert extra.json() == {"path": "$.args", "error": 'unknown field "dry_run"', "code": "parse-failed"}
    missing = query(client, "run_public_action", {"input": {"name": "a"}})
    assert missing.json() == {"path": "$.args", "error": 'key "uuid" not found', "code": "parse-failed"}
    assert len(webhook.calls("/greet")) == 2


def test_each_link_is_rate_limited(make_client: ClientFactory, webhook: Webhook) -> None:
    client = make_client(public_rate_limit=2, admin_secret="s")
    define(client, webhook.respond("/greet", body={"text": "hi"}), headers=ADMIN)
    define(client, webhook.respond("/wave", body={"text": "o/"}), name="wave", headers=ADMIN)
    greet, wave = link(client, headers=ADMIN), link(client, "wave", headers=ADMIN)
    answers = [run_public(client, greet, {"name": "a"}) for _ in range(4)]
    assert [a.status_code for a in answers[:2]] == [200, 200]
    limited = answers[2]
    assert limited.status_code == 429, limited.text
    assert limited.json()["code"] == "rate-limited"
    assert limited.json()["path"] == "$"
    assert int(limited.headers["Retry-After"]) >= 1
    assert answers[3].status_code == 429
    # Rejected runs reach no handler; the other link has a bucket of its own, and so do admins.
    assert len(webhook.calls("/greet")) == 2
    assert ok(run_public(client, wave, {"name": "a"})) == {"output": {"text": "o/"}}
    ok(query(client, "run_action", {"name": "greet", "input": {"name": "a"}}, headers=ADMIN))
    # A failed lookup takes no token: unknown links are not-exists, never 429.
    assert run_public(client, str(uuid.uuid4()), {"name": "a"}).status_code == 400
    time.sleep(0.6)  # 2 per second: a token back after 0.5 s
    assert ok(run_public(client, greet, {"name": "a"})) == {"output": {"text": "hi"}}
    assert run_public(client, greet, {"name": "a"}).status_code == 429


def test_rate_limiter_buckets() -> None:
    limiter = RateLimiter(0.5)  # a run every 2 s: the first still goes at once
    assert limiter.take("a") == 0
    assert 1.9 < limiter.take("a") <= 2
    assert limiter.take("b") == 0
    burst = RateLimiter(3)
    assert [burst.take("k") for _ in range(3)] == [0, 0, 0]
    assert 0 < burst.take("k") <= 1 / 3


def test_errors_to_public_callers_carry_no_internals(client: TestClient, webhook: Webhook) -> None:
    define(client, webhook.respond("/fail", status=500, body={"boom": "secret detail"}), name="fail")
    define(client, webhook.respond("/bad", body={"text": 1}), name="bad")
    define(client, webhook.respond("/refuse", status=400, body={"message": "no", "extensions": {"k": 1}}), name="no")
    admin = query(client, "run_action", {"name": "fail", "input": {"name": "a"}})
    assert admin.status_code == 502
    assert "internal" in admin.json()
    for name in ["fail", "bad"]:
        # No secret is set, so this caller is an admin: the public answer is the same for all.
        for headers in [None, {"X-Hasura-Role": "admin"}]:
            response = run_public(client, link(client, name), {"name": "a"}, headers=headers)
            assert response.status_code == 502, response.text
            assert set(response.json()) == {"path", "error", "code"}, response.text
    # A handler's own 4xx error is the caller's, extensions included.
    refused = run_public(client, link(client, "no"), {"name": "a"})
    assert refused.status_code == 400
    assert refused.json() == {"path": "$", "error": "no", "code": "unexpected", "extensions": {"k": 1}}


def test_errors_to_anonymous_callers_carry_no_internals(make_client: ClientFactory, webhook: Webhook) -> None:
    client = make_client(admin_secret="s")
    define(client, webhook.respond("/fail", status=500, body={"boom": 1}), name="fail", headers=ADMIN)
    response = run_public(client, link(client, "fail", headers=ADMIN), {"name": "a"})
    assert response.status_code == 502
    error = "expecting 2xx or 4xx status code, but found 500"
    assert response.json() == {"path": "$", "error": error, "code": "unexpected"}


def test_links_can_be_revoked(client: TestClient, webhook: Webhook) -> None:
    define(client, webhook.respond("/greet", body={"text": "hi"}))
    key = link(client)
    dropped = ok(query(client, "drop_action_public_link", {"action": "greet"}))
    assert dropped == {"message": "success", "resource_version": dropped["resource_version"]}
    assert run_public(client, key, {"name": "a"}).json() == not_exists(key)
    assert "public_links" not in ok(query(client, "export_metadata"))
    again = query(client, "drop_action_public_link", {"action": "greet"})
    assert again.status_code == 400
    assert again.json()["code"] == "not-exists"
    # A new link is a new uuid: the revoked one stays dead.
    fresh = link(client)
    assert fresh != key
    assert run_public(client, key, {"name": "a"}).status_code == 400
    assert ok(run_public(client, fresh, {"name": "a"}))
    # Dropping the action drops its link; an action of the same name later gets no link back.
    ok(query(client, "drop_action", {"name": "greet"}))
    assert run_public(client, fresh, {"name": "a"}).json() == not_exists(fresh)
    assert "public_links" not in ok(query(client, "export_metadata"))
    define(client, webhook.respond("/greet", body={"text": "hi"}))
    assert run_public(client, fresh, {"name": "a"}).json() == not_exists(fresh)
    unknown = query(client, "drop_action_public_link", {"action": "nope"})
    assert unknown.status_code == 400
    assert unknown.json()["code"] == "not-exists"


def test_a_link_without_its_action(client: TestClient) -> None:
    key = str(uuid.uuid4())
    document = {"version": 3, "sources": [], "public_links": [{"action": "gone", "uuid": key}]}
    ok(query(client, "replace_metadata", document))
    assert run_public(client, key, {}).json() == not_exists(key)
    report = ok(query(client, "get_inconsistent_metadata"))
    assert report["is_consistent"] is False
    assert [entry["type"] for entry in report["inconsistent_objects"]] == ["public_link"]
    # It can be dropped by its action's name.
    ok(query(client, "drop_action_public_link", {"action": "gone"}))
    assert ok(query(client, "get_inconsistent_metadata")) == {"is_consistent": True, "inconsistent_objects": []}


def test_non_admins_cannot_manage_links(client: TestClient, webhook: Webhook) -> None:
    define(client, webhook.respond("/greet", body={"text": "hi"}))
    ok(query(client, "create_action_permission", {"action": "greet", "role": "user"}))
    user = {"X-Hasura-Role": "user", "X-Hasura-User-Id": "1"}
    for type_ in ["create_action_public_link", "drop_action_public_link"]:
        response = query(client, type_, {"action": "greet"}, headers=user)
        assert response.status_code == 400
        assert response.json() == {"path": "$.args", "error": "restricted access : admin only", "code": "access-denied"}
    assert "public_links" not in ok(query(client, "export_metadata"))


def test_sql_actions_run_by_link(client: TestClient) -> None:
    ok(query(client, "add_source", {"name": "mem", "url": "sqlite://"}))
    definition = {
        "sql": {"source": "mem", "statement": "SELECT {{n}} + 1 AS m"},
        "arguments": [{"name": "n", "type": "Int!"}],
        "type": "query",
    }
    ok(query(client, "create_action", {"name": "inc", "definition": definition}))
    key = link(client, "inc")
    output = ok(run_public(client, key, {"n": 41}))["output"]
    assert output["returning"] == [{"m": 42}]
    # Statement parameters are bound, never spliced: a string is refused by the argument's type.
    assert run_public(client, key, {"n": "1; DROP TABLE x"}).json()["code"] == "validation-failed"
