"""Hostile input: whatever a caller sends, the answer is a 4xx with a path, promptly, and nothing
changes. Each test here failed (500, 503 or a stall) before its fix."""

from __future__ import annotations

import json
import random
import socket
import string
import time
from pathlib import Path
from typing import Any

import jwt
import pytest
from starlette.testclient import TestClient

from tests.conftest import ClientFactory, query
from tests.processes import ServerProcess
from tests.shop import create_shop, sql
from tests.webhook import Webhook

DEEP = b"[" * 5000


@pytest.mark.parametrize("headers", [{}, {"X-Hasura-Admin-Secret": "s3cret"}], ids=["anonymous", "admin"])
@pytest.mark.parametrize("body", [DEEP, b'{"type": "run_public_action", "args": ' + DEEP + b"}"], ids=["bare", "args"])
def test_deeply_nested_json_is_bad_input(make_client: ClientFactory, headers: dict[str, str], body: bytes) -> None:
    client = make_client(admin_secret="s3cret")
    response = client.post("/v1/query", content=body, headers={"Content-Type": "application/json", **headers})
    assert response.status_code in (400, 401), response.text
    if response.status_code == 400:
        assert response.json()["error"] in ("JSON nested too deeply", "Expected `object`, got `array`")


def test_deeply_nested_args_of_an_admin(client: TestClient) -> None:
    body = b'{"type": "create_action", "args": {"name": "a", "definition": ' + DEEP + b"}}"
    response = client.post("/v1/query", content=body)
    assert response.status_code == 400, response.text
    assert response.json() == {"path": "$", "error": "JSON nested too deeply", "code": "invalid-json"}


@pytest.mark.parametrize("value", [2**31, 2**63, -(2**63) - 1])
@pytest.mark.parametrize(
    ("type_", "args", "field"),
    [
        ("export_metadata", {}, "at_version"),
        ("get_metadata_history", {}, "before"),
        ("diff_metadata", {}, "from_version"),
        ("diff_metadata", {"from_version": 1}, "to_version"),
        ("rollback_metadata", {}, "to_version"),
        ("get_action_log", {}, "offset"),
    ],
)
def test_out_of_range_integers_name_the_field(
    client: TestClient, type_: str, args: dict[str, Any], field: str, value: int
) -> None:
    response = query(client, type_, {**args, field: value})
    assert response.status_code == 400, response.text
    assert response.json()["code"] == "parse-failed"
    assert response.json()["path"] == f"$.args.{field}"
    assert query(client, "export_metadata", {}, version=2).json()["resource_version"] == 1


def test_an_integer_no_column_holds_names_its_argument(client: TestClient, source_url: str) -> None:
    create_shop(source_url)
    assert query(client, "add_source", {"name": "shop", "url": source_url}).status_code == 200
    definition = {
        "sql": {"source": "shop", "statement": "SELECT {{n}} AS n"},
        "arguments": [{"name": "n", "type": "bigint"}],
        "type": "query",
    }
    assert query(client, "create_action", {"name": "echo", "definition": definition}).status_code == 200
    assert query(client, "run_action", {"name": "echo", "input": {"n": 2**62}}).status_code == 200
    response = query(client, "run_action", {"name": "echo", "input": {"n": 2**63}})
    assert response.status_code == 400, response.text
    assert response.json()["path"] == "$.args.input.n"
    assert response.json()["code"] == "validation-failed"


BRACES = "{" * 100_000


# A quadratic scan of 100,000 characters takes minutes; a linear one milliseconds. The timeout
# only turns a stall into a failure.
@pytest.mark.timeout(20)
@pytest.mark.parametrize(
    "text",
    [BRACES, "{{" + " " * 100_000, "{{ a " * 20_000, "{{a}" * 25_000],
    ids=["braces", "spaces", "unclosed", "half-closed"],
)
def test_template_scans_are_linear(client: TestClient, text: str) -> None:
    types = {"objects": [{"name": "Out", "fields": [{"name": "ok", "type": "Boolean"}]}]}
    assert query(client, "set_custom_types", types).status_code == 200
    webhook = {"name": "w", "definition": {"handler": "http://127.0.0.1:9/" + text, "output_type": "Out"}}
    assert query(client, "create_action", webhook).status_code == 200
    response = query(client, "run_action", {"name": "w", "input": {}})
    assert response.status_code in (400, 502), response.text

    sql = {"name": "s", "definition": {"sql": {"source": "none", "statement": "SELECT " + text}}}
    response = query(client, "create_action", sql)
    assert response.status_code == 400, response.text

    preview = {"webhook_url": "http://x/" + text, "body": {}, "request_transform": {"template_engine": "Kriti"}}
    assert query(client, "test_webhook_transform", preview).status_code in (200, 400)

    transform = {"body": {"action": "transform", "template": text}, "url": "{{$base_url}}/" + text}
    definition = {"handler": "http://127.0.0.1:9/", "output_type": "Out", "request_transform": transform}
    assert query(client, "create_action", {"name": "t", "definition": definition}).status_code == 400


def test_a_client_hanging_up_mid_body_is_not_an_error(tmp_path: Path) -> None:
    server = ServerProcess(tmp_path, database_url=f"sqlite:///{tmp_path}/sb.db", log_level="info")
    try:
        for _ in range(3):
            with socket.create_connection(("127.0.0.1", server.port)) as conn:
                conn.sendall(b"POST /v1/query HTTP/1.1\r\nHost: x\r\nContent-Length: 1000\r\n\r\n")
                conn.sendall(b'{"type": "export_meta')
            time.sleep(0.2)
        assert server.query("export_metadata", {}, version=2)["resource_version"] == 1
    finally:
        server.stop()
    log = server.log_text()
    assert "unexpected error" not in log
    assert "Traceback" not in log


def test_the_signature_of_a_table_action(client: TestClient, source_url: str) -> None:
    """Found by tests/test_fuzz.py: a table's column names are SQLAlchemy's `quoted_name`, which
    the encoder of derived arguments refused (500)."""
    create_shop(source_url)
    assert query(client, "add_source", {"name": "shop", "url": source_url}).status_code == 200
    table = {"source": "shop", "table": "orders", "operation": "delete"}
    assert query(client, "create_action", {"name": "remove_order", "definition": {"table": table}}).status_code == 200
    response = query(client, "get_action_signature", {"name": "remove_order"})
    assert response.status_code == 200, response.text
    assert response.json()["arguments"] == [{"name": "id", "type": "Int!"}]


@pytest.mark.parametrize(
    ("type_", "args", "field"),
    [
        ("add_source", {"name": "shop\x00", "url": "sqlite:///shop.db"}, "name"),
        ("get_action_result", {"id": "\x00"}, "id"),
        ("get_action_log", {"action": "a\x00"}, "action"),
        ("create_api_key", {"name": "ci\x00", "role": "user"}, "name"),
        ("create_api_key", {"name": "ci", "role": "user\x00"}, "role"),
        ("revoke_api_key", {"name": "ci\x00"}, "name"),
    ],
)
def test_a_nul_character_in_stored_text_names_the_field(
    client: TestClient, type_: str, args: dict[str, Any], field: str
) -> None:
    """Found by tests/test_fuzz.py: PostgreSQL's text holds no NUL, and the driver's refusal was
    taken for an unreachable store (503)."""
    response = query(client, type_, args)
    assert response.status_code == 400, response.text
    assert response.json() == {
        "path": f"$.args.{field}",
        "error": "NUL characters are not allowed",
        "code": "parse-failed",
    }
    assert query(client, "export_metadata", {}, version=2).json()["resource_version"] == 1


@pytest.mark.parametrize(
    "url",
    [
        "nosuchdialect://x",
        "mysql+aiomysql://u@127.0.0.1:1/x",
        "sqlite+pysqlite:///x.db",
        "sqlite:///x.db?timeout=abc",
        "sqlite:///x\x00.db",
        "postgresql://u@127.0.0.1:1/x?sslmode=bogus",
        "postgresql://u@127.0.0.1:99999/x",
    ],
    ids=["dialect", "driver", "sync-driver", "option", "nul", "pg-option", "port"],
)
def test_a_source_url_no_driver_can_use(client: TestClient, url: str) -> None:
    """Found by tests/test_fuzz.py: a URL that parses but names a dialect or driver that is not
    there, or options the driver refuses, failed every use of the source with a 500."""
    assert query(client, "add_source", {"name": "odd", "url": url}).status_code == 200
    sql = {"sql": {"source": "odd", "statement": "SELECT 1"}, "type": "query"}
    assert query(client, "create_action", {"name": "q", "definition": sql}).status_code == 200
    response = query(client, "run_action", {"name": "q"})
    assert response.status_code in (400, 502), response.text
    assert 'source "odd"' in response.json()["error"]
    # A preview needs the dialect only, not a connection.
    assert query(client, "run_action", {"name": "q", "dry_run": True}).status_code in (200, 400)
    table = {"table": {"source": "odd", "table": "t", "operation": "insert"}}
    response = query(client, "create_action", {"name": "t", "definition": table})
    assert response.status_code in (400, 502), response.text
    response = query(client, "get_inconsistent_metadata", {})
    assert response.status_code == 200, response.text
    assert {o["name"] for o in response.json()["inconsistent_objects"]} == {"source odd", "action q"}


@pytest.mark.parametrize("expires_at", ["9999-12-31T23:59:59-23:59", "9999-12-31T23:59:59.999999"])
def test_an_api_key_expiring_past_year_9999_in_utc(client: TestClient, expires_at: str) -> None:
    """Found by tests/test_fuzz.py: the key was stored, then showing its expiry in UTC failed
    (500), and so did every list_api_keys after."""
    args = {"name": "ci", "role": "user", "expires_at": expires_at}
    response = query(client, "create_api_key", args)
    assert response.status_code == 400, response.text
    assert response.json() == {
        "path": "$.args.expires_at",
        "error": "expires_at is out of range",
        "code": "validation-failed",
    }
    assert query(client, "list_api_keys", {}).json() == {"api_keys": []}


@pytest.mark.parametrize("database_url", ["postgres"], indirect=True)
def test_rows_of_types_json_has_no_form_for(client: TestClient, source_url: str) -> None:
    """Found while widening the fuzz test's statements: a statement returning an inet, a bit
    string or a range (any role may run it) answered 500. They come back as PostgreSQL's text."""
    assert query(client, "add_source", {"name": "pg", "url": source_url}).status_code == 200
    statement = (
        "SELECT '1.2.3.4'::inet AS ip, '10.0.0.0/8'::cidr AS net, B'101' AS bits, int4range(1, 5) AS r,"
        " 'empty'::int4range AS e, daterange('2026-01-01', NULL, '[]') AS d,"
        " int4multirange(int4range(1, 2), int4range(5, 7)) AS m"
    )
    definition = {"sql": {"source": "pg", "statement": statement}, "type": "query"}
    assert query(client, "create_action", {"name": "odd", "definition": definition}).status_code == 200
    response = query(client, "run_action", {"name": "odd"})
    assert response.status_code == 200, response.text
    assert response.json()["output"]["returning"] == [
        {"ip": "1.2.3.4", "net": "10.0.0.0/8", "bits": "101", "r": "[1,5)", "e": "empty", "d": "[2026-01-01,)",
         "m": ["[1,2)", "[5,7)"]}
    ]  # fmt: skip


def test_a_bulk_holds_nothing_it_could_not_undo(client: TestClient, source_url: str) -> None:
    """Found by tests/test_fuzz.py: a bulk refused by a later envelope kept the API key (never
    shown) and the run of its earlier ones."""
    create_shop(source_url)
    assert query(client, "add_source", {"name": "shop", "url": source_url}).status_code == 200
    definition = {"sql": {"source": "shop", "statement": "INSERT INTO log (line) VALUES ('x')"}}
    assert query(client, "create_action", {"name": "note", "definition": definition}).status_code == 200
    for type_, args in [
        ("create_api_key", {"name": "ci", "role": "user"}),
        ("revoke_api_key", {"name": "ci"}),
        ("run_action", {"name": "note"}),
        ("run_public_action", {"uuid": "00000000-0000-0000-0000-000000000000"}),
    ]:
        response = query(
            client, "bulk", [{"type": type_, "args": args}, {"type": "drop_action", "args": {"name": "x"}}]
        )
        assert response.status_code == 400, response.text
        assert response.json() == {
            "path": "$.args[0].type",
            "error": f'"{type_}" cannot run inside bulk: a refused bulk could not undo it',
            "code": "parse-failed",
        }
    assert query(client, "list_api_keys", {}).json() == {"api_keys": []}
    assert sql(source_url, "SELECT line FROM log") == []


@pytest.mark.parametrize(
    ("handler", "headers", "text"),
    [
        ("//127.0.0.1/x", [], "x"),
        ("http://{host}/x", [{"name": "X-Note", "value": "a\nb"}], "x"),
        ("http://{host}/x", [], "a\r\nX-Injected: 1"),
        ("http://{host}/x", [], "\x01"),
    ],
    ids=["no-scheme", "header", "header-from-input", "control-character"],
)
def test_a_request_no_client_can_send(
    client: TestClient, webhook: Webhook, handler: str, headers: list[Any], text: str
) -> None:
    """Found by tests/test_fuzz.py: a URL without a scheme tripped an assertion in aiohttp, and a
    header value with a control character (configured, or from a transform of the input) a
    ValueError: 500. The webhook cannot be called: 502, as for any other failed call."""
    types = {"objects": [{"name": "Out", "fields": [{"name": "ok", "type": "Boolean"}]}]}
    assert query(client, "set_custom_types", types).status_code == 200
    transform = {"version": 2, "request_headers": {"add_headers": {"X-Text": "{{ $body.input.text }}"}}}
    definition = {
        "handler": handler.format(host=webhook.url("")[len("http://") :]),
        "output_type": "Out",
        "headers": headers,
        "arguments": [{"name": "text", "type": "String"}],
        "request_transform": transform,
    }
    assert query(client, "create_action", {"name": "w", "definition": definition}).status_code == 200
    response = query(client, "run_action", {"name": "w", "input": {"text": text}})
    assert response.status_code == 502, response.text
    assert response.json()["error"] == "http exception when calling webhook"
    assert webhook.received == []


@pytest.mark.parametrize("user_id", ["a\x00b", "u\ud800"])
def test_a_token_whose_session_variables_hold_a_nul(make_client: ClientFactory, webhook: Webhook, user_id: str) -> None:
    """Found following the fuzz test's NUL find to tokens: x-hasura-user-id is kept with
    the runs a session starts, and PostgreSQL's text holds no NUL: the run was a false 503. A lone
    surrogate (JSON's "\\ud800", which no UTF-8 text holds) was a 500 and a traceback."""
    secret = {"X-Hasura-Admin-Secret": "s3cret"}
    client = make_client(admin_secret="s3cret", jwt_secret={"type": "HS256", "key": "k" * 32})
    types = {"objects": [{"name": "Out", "fields": [{"name": "ok", "type": "Boolean!"}]}]}
    assert query(client, "set_custom_types", types, headers=secret).status_code == 200
    definition = {"handler": webhook.respond("/who", body={"ok": True}), "output_type": "Out", "kind": "asynchronous"}
    assert (
        query(client, "create_action", {"name": "later", "definition": definition}, headers=secret).status_code == 200
    )
    grant = {"action": "later", "role": "user"}
    assert query(client, "create_action_permission", grant, headers=secret).status_code == 200
    claims = {"x-hasura-allowed-roles": ["user"], "x-hasura-default-role": "user", "x-hasura-user-id": user_id}
    token = jwt.encode({"https://hasura.io/jwt/claims": claims, "exp": int(time.time()) + 60}, "k" * 32, "HS256")
    response = query(client, "run_action", {"name": "later"}, headers={"Authorization": f"Bearer {token}"})
    assert response.status_code == 400, response.text
    assert response.json() == {
        "path": "$",
        "error": "session variables may not contain NUL characters or lone surrogates",
        "code": "jwt-invalid-claims",
    }
    assert query(client, "get_action_log", {}, headers=secret).json() == {"runs": [], "next": None}


def test_a_handler_never_receives_the_callers_api_key(make_client: ClientFactory, webhook: Webhook) -> None:
    """Found by tests/test_fuzz.py: with forward_client_headers, a caller's X-Api-Key (as good as
    the admin secret for an admin key) was forwarded to the handler, and kept with async runs."""
    secret = {"X-Hasura-Admin-Secret": "s3cret"}
    client = make_client(admin_secret="s3cret")
    types = {"objects": [{"name": "Out", "fields": [{"name": "ok", "type": "Boolean!"}]}]}
    assert query(client, "set_custom_types", types, headers=secret).status_code == 200
    for kind in ("synchronous", "asynchronous"):
        handler = webhook.respond(f"/{kind}", body={"ok": True})
        definition = {"handler": handler, "output_type": "Out", "kind": kind, "forward_client_headers": True}
        assert (
            query(client, "create_action", {"name": kind, "definition": definition}, headers=secret).status_code == 200
        )
    key = query(client, "create_api_key", {"name": "ci", "role": "admin"}, headers=secret).json()["key"]
    caller = {"X-Api-Key": key, "X-Custom": "kept"}
    assert query(client, "run_action", {"name": "synchronous"}, headers=caller).status_code == 200
    assert query(client, "run_action", {"name": "asynchronous"}, headers=caller).status_code == 200
    deadline = time.time() + 10
    while not webhook.calls("/asynchronous") and time.time() < deadline:
        time.sleep(0.05)
    for path in ("/synchronous", "/asynchronous"):
        [call] = webhook.calls(path)
        assert call.headers["x-custom"] == "kept"
        assert "x-api-key" not in call.headers


@pytest.mark.parametrize("number", ["1e9990", "1" * 5000, "-2.5e2000"])
@pytest.mark.parametrize("template", ["{{ N }}", '"n = {{ N }}"'], ids=["value", "text"])
def test_a_template_number_too_large_to_write(client: TestClient, number: str, template: str) -> None:
    """Found by fuzzing Kriti templates: a literal like 1e9990 is an integer of 9,991 digits, which
    Python will not write (500 when a body held it); 5,000 digits did not even lex."""
    transform = {"version": 2, "body": {"action": "transform", "template": template.replace("N", number)}}
    response = query(client, "test_webhook_transform", {"webhook_url": "http://x", "request_transform": transform})
    assert response.status_code == 400, response.text
    assert response.json()["error"] == "request transform validation failed"
    [problem] = response.json()["internal"]
    assert problem["error_code"] == "Lex Error"
    assert problem["detail"].startswith("Lex Error: the number ")
    types = {"objects": [{"name": "Out", "fields": [{"name": "ok", "type": "Boolean"}]}]}
    assert query(client, "set_custom_types", types).status_code == 200
    definition = {"handler": "http://127.0.0.1:9/", "output_type": "Out", "request_transform": transform}
    response = query(client, "create_action", {"name": "big", "definition": definition})
    assert response.status_code == 400, response.text
    assert response.json()["error"] == "request transform validation failed"


@pytest.mark.parametrize(
    ("type_", "args", "path"),
    [
        (
            "create_action",
            {"name": "N", "definition": {"handler": "http://x/", "output_type": "Boolean"}},
            "$.args.name",
        ),
        ("set_custom_types", {"scalars": [{"name": "N"}]}, "$.args.scalars[0]"),
        ("add_source", {"name": "N", "url": "sqlite:///x.db"}, "$.args.name"),
        ("create_api_key", {"name": "N", "role": "user"}, "$.args.name"),
        ("create_api_key", {"name": "ci", "role": "N"}, "$.args.role"),
    ],
)
def test_a_name_longer_than_the_store_keys(client: TestClient, type_: str, args: dict[str, Any], path: str) -> None:
    """Found while widening the fuzz test's names: names key the store's rows, and PostgreSQL's
    index holds at most ~2.7 kB a row, so an incompressible name of 3,000 characters failed the
    write (a false 503, with the statement shown to admins). Names are at most 512 characters."""
    rng = random.Random(1)
    letters = string.ascii_letters + string.digits
    for length, status in ((512, 200), (513, 400), (10_000, 400)):
        name = "a" + "".join(rng.choice(letters) for _ in range(length - 1))
        response = query(client, type_, json.loads(json.dumps(args).replace('"N"', f'"{name}"')))
        assert response.status_code == status, response.text[:300]
        if status == 400:
            assert response.json()["code"] == "parse-failed"
            assert response.json()["path"] == path
            assert len(response.text) < 300
