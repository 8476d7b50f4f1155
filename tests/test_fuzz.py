"""Fuzzing /v1/query: thousands of seeded bodies (tests/fuzz_bodies.py) across every registered
operation, sent through the real app on both store backends as admin, as a role (through the
admin secret, and through an API key), anonymously and with a wrong secret, against a realistic
metadata (custom types, webhook, SQL and table actions on a SQLite source, and a PostgreSQL one
on that backend, permissions, public links, API keys). Whatever is sent:

* the answer is never a 5xx other than 502/504 (a handler or source that failed or timed out; a
  transform failing at run time is the caller's 400, or a 502 on the handler's answer);
* every error is `{path, error, code}` (+ `internal` for admins only, never for a public run, +
  `extensions`), and no answer holds the admin secret or the caller's API key;
* a refused request, and any read, leaves the metadata as it was (`export_metadata` v2:
  resource_version and document), and a version is made only when the document changes; a
  refused request leaves the API keys as they were;
* handlers never receive the admin secret or an API key;
* a second server on the same store, opened at the end, serves the same metadata.

Beside them, Kriti templates of random tokens are parsed and rendered in-process (many more of
them than bodies could carry): only a KritiError may come out. /v1/graphql gets seeded documents
(tests/fuzz_graphql.py: near-valid, broken, enormous, batches, bodies that are no request) as
every kind of caller: always a GraphQL answer, never a bug. Its websocket gets sockets of both
protocols sending junk, binary, huge and near-valid frames: every message is JSON of its
protocol, every close has a protocol's code, nothing is logged as a bug. Metabase's REST API gets
seeded requests to every endpoint (tests/fuzz_metabase.py) as every kind of caller: never a 5xx,
and a refused request changes nothing.

Bodies are reproducible from SWITCHBOARD_FUZZ_SEED (default 9; a failure names its seed and the
body's number); SWITCHBOARD_FUZZ_BODIES (default 3000, over the 4 chunks of each backend) runs
more: `SWITCHBOARD_FUZZ_BODIES=50000 SWITCHBOARD_FUZZ_SEED=7 pytest tests/test_fuzz.py`.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import os
import random
import traceback
from collections import Counter
from pathlib import Path
from typing import Any

import aiohttp
import pytest
import websockets
from starlette.testclient import TestClient
from websockets.exceptions import ConnectionClosed

from handlers.registry import OPERATIONS
from metadata import kriti
from metadata.kriti import KritiError
from tests.conftest import ClientFactory, ServeFactory, query
from tests.fuzz_bodies import Bodies
from tests.fuzz_graphql import VALID, Documents
from tests.fuzz_metabase import Requests
from tests.fuzz_values import KRITI_TOKENS, World
from tests.shop import create_shop
from tests.webhook import Webhook

SEED = os.environ.get("SWITCHBOARD_FUZZ_SEED", "9")
CHUNKS = 4  # per backend, so that xdist spreads them
PER_CHUNK = max(1, int(os.environ.get("SWITCHBOARD_FUZZ_BODIES", "3000")) // (2 * CHUNKS))

SECRET = "fuzz-secret"
ADMIN = {"X-Hasura-Admin-Secret": SECRET}
ERROR_KEYS = {"path", "error", "code"}
ODD_HEADERS = ["X-Request-Id", "X-Hasura-User-Id", "X-Hasura-Role", "X-Api-Key", "Authorization", "X-Custom", "Host"]

TYPES = {
    "input_objects": [
        {"name": "UserInput", "fields": [{"name": "email", "type": "String!"}]},
        {"name": "Tree", "fields": [{"name": "value", "type": "Int"}, {"name": "child", "type": "Tree"}]},
    ],
    "objects": [
        {"name": "UserOutput", "fields": [{"name": "id", "type": "Int!"}, {"name": "email", "type": "String"}]}
    ],
    "scalars": [{"name": "Date"}],
    "enums": [{"name": "Plan", "values": [{"value": "FREE"}, {"value": "PRO"}]}],
}
TRANSFORM = {
    "version": 2,
    "url": "{{$base_url}}/{{ $body.input.s }}",
    "query_params": {"n": "{{ $body.input?.n ?? 0 }}"},
    "body": {"action": "transform", "template": '{"l": {{ $body.input.l }}, "b": {{ $body.input.b }}}'},
}
# name -> (definition without arguments, arguments, roles that may run it)
ACTIONS: dict[str, tuple[dict[str, Any], list[tuple[str, str]], list[str]]] = {
    "create_user": ({"handler": "/ok", "output_type": "UserOutput", "forward_client_headers": True},
                    [("user", "UserInput!"), ("plan", "Plan")], ["user", "anonymous"]),
    "grow_tree": ({"handler": "/ok", "output_type": "UserOutput", "type": "query", "forward_client_headers": True},
                  [("tree", "Tree")], ["user"]),
    "send_report": ({"handler": "/ok", "output_type": "UserOutput", "kind": "asynchronous",
                     "retry_conf": {"num_retries": 1, "retry_interval_seconds": 0}}, [("month", "String!")], ["user"]),
    "refuse": ({"handler": "/fail", "output_type": "UserOutput"}, [("n", "Int")], ["user"]),
    "crash": ({"handler": "/error", "output_type": "[UserOutput!]!", "timeout": 2}, [("id", "ID")], []),
    "reshape": ({"handler": "/ok", "output_type": "UserOutput", "request_transform": TRANSFORM,
                 "response_transform": {"version": 2, "body": {"action": "transform", "template": "{{ $body }}"}}},
                [("s", "String"), ("n", "Int"), ("l", "[String!]"), ("b", "Boolean")], ["anonymous"]),
    "tag": ({"handler": "/ok", "output_type": "UserOutput",
             "request_transform": {"version": 2, "request_headers": {"add_headers": {"X-Tag": "{{ $body.input.s }}"}}}},
            [("s", "String!")], ["user"]),
    "listing": ({"handler": "/list", "output_type": "[UserOutput!]!", "type": "query"}, [], ["user"]),
    "partial": ({"handler": "/partial", "output_type": "UserOutput"}, [("n", "Int")], []),
    "deep": ({"handler": "/deep", "output_type": "UserOutput", "response_transform":
              {"version": 2, "body": {"action": "transform", "template": "{{ $body[0] }}"}}}, [], []),
    "set_price": ({"sql": {"source": "shop", "statement": "UPDATE products SET price = {{price}} WHERE id = {{id}}"}},
                  [("price", "numeric!"), ("id", "Int!")], ["user"]),
    "find_products": ({"type": "query", "sql": {"source": "shop", "statement":
                       "SELECT * FROM products WHERE true [[AND name = {{name}}]] [[AND price <= {{max}}]]"}},
                      [("name", "String"), ("max", "numeric")], ["user", "anonymous"]),
    "echo": ({"type": "query", "sql": {"source": "shop", "statements": ["SELECT {{n}} AS n", "SELECT {{d}} AS d"]}},
             [("n", "bigint"), ("d", "date")], []),
    "lost": ({"sql": {"source": "down", "statement": "SELECT 1"}}, [], ["user"]),
    "new_order": ({"table": {"source": "shop", "table": "orders", "operation": "insert"}},
                  [("product_id", "Int!"), ("qty", "Int"), ("placed_on", "date"), ("note", "String")], ["user"]),
    "edit_product": ({"table": {"source": "shop", "table": "products", "operation": "update"}},
                     [("id", "Int!"), ("name", "String"), ("price", "numeric"), ("note", "String")], []),
    "remove_order": ({"table": {"source": "shop", "table": "orders", "operation": "delete"}}, [("id", "Int!")], []),
}  # fmt: skip


def on_postgres(actions: dict[str, Any]) -> dict[str, Any]:
    """The SQL and table actions again, on the PostgreSQL source (`pg_` before their names)."""
    out = {}
    for name, (definition, arguments, roles) in actions.items():
        runner = "sql" if "sql" in definition else "table" if "table" in definition else None
        if runner is not None and definition[runner]["source"] == "shop":
            moved = {**definition, runner: {**definition[runner], "source": "pg"}}
            out[f"pg_{name}"] = (moved, arguments, roles)
    return out


def ok(response: Any) -> Any:
    assert response.status_code == 200, f"{response.request.content[:300]!r} -> {response.text}"
    return response.json()


def seed(client: TestClient, webhook: Webhook, tmp_path: Path, pg_url: str | None) -> tuple[World, str]:
    """The metadata the bodies aim at, and an API key of the role `user`."""
    webhook.respond("/ok", body={"id": 1, "email": "a@b.c"})
    webhook.respond("/fail", 400, {"message": "refused by the handler", "code": "fz", "extensions": {"a": 1}})
    webhook.respond("/error", 500, {"oops": True})
    webhook.respond("/null", 200, None)
    # Answers for handlers the bodies point actions at: each wrong for some output type.
    for path, body in ANSWERS.items():
        webhook.respond(path, body=body)
    webhook.respond("/text", raw=b"not json", headers={"Content-Type": "text/plain"})
    webhook.respond("/refuse-oddly", 422, {"message": ["not", "a", "string"], "code": 5})
    webhook.respond("/deep", raw=b"[" * 100_000)
    shop_url = f"sqlite:///{tmp_path / 'shop.db'}"
    create_shop(shop_url)

    corpus: dict[str, list[Any]] = {}

    def admin(type_: str, args: Any) -> Any:
        corpus.setdefault(type_, []).append(args)
        return ok(query(client, type_, args, headers=ADMIN))

    admin("set_custom_types", TYPES)
    admin("add_source", {"name": "shop", "url": shop_url})
    admin("add_source", {"name": "down", "url": f"sqlite:///{tmp_path / 'missing' / 'down.db'}"})
    actions = dict(ACTIONS)
    if pg_url is not None:  # the shop on PostgreSQL too, where the store is one
        create_shop(pg_url)
        admin("add_source", {"name": "pg", "url": pg_url})
        actions.update(on_postgres(ACTIONS))
    for name, (definition, arguments, roles) in actions.items():
        definition = {**definition}
        if "handler" in definition:
            definition["handler"] = webhook.url(definition["handler"])
        if "table" not in definition:  # a table action's arguments are its table's columns
            definition["arguments"] = [{"name": arg, "type": type_} for arg, type_ in arguments]
        admin("create_action", {"name": name, "definition": definition, "comment": f"fuzzed {name}"})
        for role in roles:
            admin("create_action_permission", {"action": name, "role": role})
    links = {admin("create_action_public_link", {"action": a})["uuid"]: a for a in ("create_user", "new_order")}
    key = admin("create_api_key", {"name": "ci", "role": "user"})["key"]
    admin("create_api_key", {"name": "spare", "role": "manager"})
    run_id = admin("run_action", {"name": "send_report", "input": {"month": "2026-10"}})["action_id"]
    exported = export(client)
    return World(
        webhook=webhook.url(""),
        shop_url=shop_url,
        actions={name: arguments for name, (_, arguments, _) in actions.items()},
        document=exported["metadata"],
        links=links,
        corpus=corpus,
        run_ids=[run_id],
        api_keys=["spare", "ghost"],
        version=exported["resource_version"],
    ), key


def export(client: TestClient) -> Any:
    return ok(query(client, "export_metadata", {}, headers=ADMIN, version=2))


# Operations that may create or revoke API keys, which are not metadata.
ANSWERS: dict[str, Any] = {
    "/list": [{"id": 1, "email": None}, {"id": "2"}],
    "/scalar": "x",
    "/number": 2**70,
    "/enum": "GOLD",
    "/partial": {"email": "a@b.c", "extra": {"nested": [1, 2]}},
    "/nested": {"id": 1, "email": {"not": "a string"}},
}
KEY_OPERATIONS = {"create_api_key", "revoke_api_key", "bulk"}


def api_keys(client: TestClient) -> list[str]:
    return [key["name"] for key in ok(query(client, "list_api_keys", {}, headers=ADMIN))["api_keys"]]


class Bugs(logging.Handler):
    """The tracebacks the app logs for answers it did not expect to give (500 unexpected)."""

    def __init__(self) -> None:
        super().__init__(logging.ERROR)
        self.seen: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        if record.exc_info:
            self.seen.append("".join(traceback.format_exception(*record.exc_info))[-3000:])


def problems(response: Any, admin: bool, secrets: tuple[str, ...]) -> list[str]:
    """What is wrong with an answer; `admin`: whether it may carry `internal`."""
    found = [f"the answer holds a secret: {secret[:6]}..." for secret in secrets if secret in response.text]
    status = response.status_code
    try:
        body = response.json()
    except ValueError:
        return [f"{status}, not JSON: {response.text[:300]!r}"]
    if status >= 400:
        if not isinstance(body, dict) or not ERROR_KEYS <= set(body) <= ERROR_KEYS | {"internal", "extensions"}:
            found.append(f"error body is not {{path, error, code}}: {str(body)[:300]}")
        elif not all(isinstance(body[key], str) for key in ERROR_KEYS):
            found.append(f"error body fields are not strings: {str(body)[:300]}")
        elif "internal" in body and not admin:
            found.append("a non-admin caller got internal")
    if status >= 500 and status not in (502, 504):
        found.append(f"status {status}")
    return found


def shorten(body: bytes) -> str:
    text = repr(body)
    return text if len(text) < 600 else text[:400] + f" ... ({len(body)} bytes) ... " + text[-150:]


@pytest.mark.parametrize("chunk", range(CHUNKS))
def test_fuzz(
    make_client: ClientFactory, database_url: str, source_url: str, webhook: Webhook, tmp_path: Path, chunk: int
) -> None:
    backend = database_url.split(":")[0]
    settings: dict[str, Any] = {"admin_secret": SECRET, "public_rate_limit": 10_000, "async_workers": 1}
    if chunk % 2:
        settings["unauthorized_role"] = "anonymous"
    client = make_client(**settings)
    world, key = seed(client, webhook, tmp_path, None if source_url.startswith("sqlite") else source_url)
    bodies = Bodies(f"{SEED}-{backend}-{chunk}", world)
    rng = bodies.rng
    callers = [  # (who, headers, weight)
        ("admin", ADMIN, 45),
        ("user via the admin secret", {**ADMIN, "X-Hasura-Role": "user", "X-Hasura-User-Id": "7"}, 15),
        ("user via an API key", {"X-Api-Key": key}, 15),
        ("anonymous", {}, 15),
        ("a wrong secret", {"X-Hasura-Admin-Secret": "wrong", "X-Hasura-Role": "admin"}, 10),
    ]
    bugs = Bugs()
    logging.getLogger("switchboard").addHandler(bugs)
    failures: list[str] = []
    sent: set[str] = set()
    before = export(client)
    try:
        for i in range(PER_CHUNK):
            op, body = bodies.next()
            sent.add(op)
            caller, headers, _ = rng.choices(callers, weights=[c[2] for c in callers])[0]
            if rng.random() < 0.2:  # odd headers: forwarded to handlers, logged, kept with runs
                headers = {**headers, rng.choice(ODD_HEADERS): rng.choice(["", " x ", "x" * 4000, "r-1", "%00"])}
            path = rng.choice(["/v1/query", "/v1/query", "/v1/metadata"])
            keys = api_keys(client) if op in KEY_OPERATIONS else None
            response = client.post(path, content=body, headers={"Content-Type": "application/json", **headers})
            # A public run's errors carry no internals, whoever calls.
            found = problems(response, caller == "admin" and op != "run_public_action", (SECRET, key))
            succeeded = 200 <= response.status_code < 300
            after = export(client)
            if after != before and not (succeeded and op in OPERATIONS and OPERATIONS[op].modifies):
                found.append(f"metadata changed: version {before['resource_version']} -> {after['resource_version']}")
            elif (after["metadata"] == before["metadata"]) != (after["resource_version"] == before["resource_version"]):
                found.append(f"version {after['resource_version']} made with no change to the document, or the reverse")
            if keys is not None and not succeeded and api_keys(client) != keys:
                found.append("API keys changed")
            if found or bugs.seen:
                failures.append(
                    f"#{i} {op} as {caller} on {path}: {'; '.join(found)}\n  sent {shorten(body)}\n"
                    f"  got {response.status_code} {response.text[:500]}\n" + "".join(bugs.seen)
                )
                bugs.seen.clear()
            if succeeded and op in ("create_action", "update_action"):
                bodies.learn(body)  # later bodies may run it
            if after["metadata"] != world.document and rng.random() < 0.3:
                ok(query(client, "replace_metadata", world.document, headers=ADMIN))  # back to the seeded one
                after = export(client)
            before = after
            world.version = after["resource_version"]
            if len(failures) >= 20:
                break
    finally:
        logging.getLogger("switchboard").removeHandler(bugs)
    assert not failures, f"seed {SEED}-{backend}-{chunk}: {len(failures)} failure(s)\n" + "\n".join(failures)
    if 2 * len(OPERATIONS) <= PER_CHUNK:
        assert sent >= set(OPERATIONS), sorted(set(OPERATIONS) - sent)
    # Handlers never see the caller's credentials (client headers are forwarded to some).
    leaked = [r.path for r in webhook.received if {SECRET, key} & set(r.headers.values())]
    assert not leaked, f"the admin secret or an API key reached a handler: {leaked[:5]}"
    # What this server answers is what the store holds: a second server reads the same.
    assert export(make_client(**settings)) == before


ENVS: list[dict[str, Any]] = [
    {
        "$body": {"input": {"s": "x", "n": 2**70, "f": 1e308, "l": [[1, 2], ["a", None]], "o": {"": 1}}},
        "$session_variables": {"x-hasura-role": "r"},
        "$base_url": "http://x",
        "$query_params": {},
    },
    {"$body": None},
    {"$body": [1, "a", True, {}, []]},
]


def test_fuzz_kriti_templates() -> None:
    """Templates of random tokens, parsed as JSON and as text templates and rendered on a few
    bodies, in-process: only a KritiError may come out, and what renders can be written as JSON."""
    rng = random.Random(f"{SEED}-kriti")
    for _ in range(PER_CHUNK * 30):
        text = "".join(rng.choice(KRITI_TOKENS) for _ in range(rng.randrange(1, 25)))
        source = "{{ " + text + " }}" if rng.random() < 0.5 else text
        for parser in (kriti.parse, kriti.parse_text):
            try:
                template = parser(source)
                for env in ENVS:
                    with contextlib.suppress(KritiError):
                        json.dumps(template.render(env))
            except KritiError:
                continue
            except Exception as exc:
                raise AssertionError(f"{parser.__name__}({source!r}): {exc!r}") from exc


def graphql_problems(response: Any, secrets: tuple[str, ...]) -> list[str]:
    """What is wrong with a /v1/graphql answer: anything but 200 (413 for a body too large) with
    GraphQL responses whose errors have a message and Hasura's extensions, none unexpected."""
    found = [f"the answer holds a secret: {secret[:6]}..." for secret in secrets if secret in response.text]
    if response.status_code not in (200, 413):
        return [*found, f"status {response.status_code}"]
    try:
        body = response.json()
    except ValueError:
        return [*found, f"not JSON: {response.text[:300]!r}"]
    for answer in body if isinstance(body, list) else [body]:
        if not isinstance(answer, dict) or not {"data", "errors"} & set(answer):
            found.append(f"not a GraphQL response: {str(answer)[:300]}")
            continue
        for error in answer.get("errors") or []:
            if not isinstance(error.get("message"), str) or not isinstance(error.get("extensions"), dict):
                found.append(f"an error without message and extensions: {str(error)[:300]}")
            elif error["extensions"].get("code") == "unexpected" and error["message"] == "unexpected error":
                found.append("an unexpected error (a bug)")
    return found


@pytest.mark.parametrize("database_url", ["sqlite", "postgres"], indirect=True)
def test_fuzz_graphql_documents(
    make_client: ClientFactory, database_url: str, webhook: Webhook, tmp_path: Path
) -> None:
    """Near-valid, broken and enormous documents, batches and bodies that are no request, to
    /v1/graphql as every kind of caller: always a GraphQL answer, never a bug."""
    backend = database_url.split(":")[0]
    client = make_client(admin_secret=SECRET, unauthorized_role="anonymous", async_workers=1)
    _, key = seed(client, webhook, tmp_path, None)
    documents = Documents(f"{SEED}-graphql-{backend}")
    callers = [ADMIN, {**ADMIN, "X-Hasura-Role": "user", "X-Hasura-User-Id": "7"}, {"X-Api-Key": key}, {}]
    bugs = Bugs()
    logging.getLogger("switchboard").addHandler(bugs)
    failures: list[str] = []
    try:
        for i in range(PER_CHUNK * 2):
            body = documents.body()
            headers = {"Content-Type": "application/json", **documents.rng.choice(callers)}
            response = client.post("/v1/graphql", content=body, headers=headers)
            found = graphql_problems(response, (SECRET, key))
            if found or bugs.seen:
                failures.append(f"#{i}: {'; '.join(found)}\n  sent {shorten(body)}\n  got {response.text[:500]}\n")
                failures[-1] += "".join(bugs.seen)
                bugs.seen.clear()
            if len(failures) >= 20:
                break
    finally:
        logging.getLogger("switchboard").removeHandler(bugs)
    assert not failures, f"seed {SEED}-graphql-{backend}: {len(failures)} failure(s)\n" + "\n".join(failures)


CLOSE_CODES = {1000, 1009, 4400, 4401, 4403, 4408, 4409, 4429}


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
def test_fuzz_websocket_frames(serve: ServeFactory, webhook: Webhook, tmp_path: Path) -> None:
    """Sockets of both protocols sending junk, binary, huge and near-valid frames: every message
    the server sends is JSON of its protocol, every close has a protocol's code, nothing is
    logged as a bug, and /healthz answers throughout."""
    served = serve(admin_secret=SECRET, websocket_init_timeout_seconds=1, max_body_bytes=200_000)
    documents = Documents(f"{SEED}-frames")
    rng = documents.rng
    seen: Counter[str] = Counter()  # what came back: message types and close codes
    bugs = Bugs()
    watched = [logging.getLogger(name) for name in ("switchboard", "uvicorn.error")]
    for logger in watched:
        logger.addHandler(bugs)
    failures: list[str] = []

    async def one(number: int) -> None:
        modern = rng.random() < 0.5
        protocol = "graphql-transport-ws" if modern else "graphql-ws"
        sent: list[str | bytes] = []
        try:
            async with websockets.connect(served.websocket, subprotocols=[protocol], max_size=None) as socket:  # type: ignore[list-item]
                if rng.random() < 0.85:
                    credentials = rng.choice([ADMIN, ADMIN, ADMIN, {}, {"X-Hasura-Admin-Secret": "wrong"}])
                    init = {"type": "connection_init", "payload": {"headers": credentials}}
                    await socket.send(json.dumps(init))
                    if rng.random() < 0.5 and credentials is ADMIN:  # a request that runs, answered before any junk
                        start = {"type": "subscribe" if modern else "start", "id": "v", "payload": rng.choice(VALID)}
                        await socket.send(json.dumps(start))
                        async with asyncio.timeout(10):
                            while (answer := json.loads(await socket.recv()))["type"] in ("connection_ack", "ka"):
                                seen[answer["type"]] += 1
                        seen[answer["type"]] += 1
                for _ in range(rng.randrange(1, 15)):
                    frame = documents.frame(modern)
                    sent.append(frame)
                    await socket.send(frame)
                with contextlib.suppress(TimeoutError):
                    async with asyncio.timeout(0.5):
                        async for message in socket:
                            answer = json.loads(message)
                            if not isinstance(answer, dict) or not isinstance(answer.get("type"), str):
                                failures.append(f"socket {number}: not a message: {str(message)[:300]}")
                            else:
                                seen[answer["type"]] += 1
        except ConnectionClosed as closed:
            code = closed.rcvd.code if closed.rcvd is not None else None
            seen[f"closed {code}"] += 1
            if code not in CLOSE_CODES:
                failures.append(f"socket {number} closed with {code}: sent {[str(f)[:80] for f in sent]}")
        except ValueError as exc:
            failures.append(f"socket {number}: {exc}")

    async def go() -> None:
        for batch in range(0, PER_CHUNK // 3, 10):
            await asyncio.gather(*(one(batch + n) for n in range(10)))
            async with aiohttp.ClientSession() as http, http.get(f"{served.url}/healthz") as health:
                assert health.status == 200

    try:
        asyncio.run(go())
    finally:
        for logger in watched:
            logger.removeHandler(bugs)
    assert not failures and not bugs.seen, "\n".join(failures[:20] + bugs.seen[:5])
    # The frames reached every part of both protocols.
    assert {"connection_ack", "next", "data", "error", "complete", "closed 4400"} <= set(seen), seen


@pytest.mark.parametrize("database_url", ["sqlite", "postgres"], indirect=True)
def test_fuzz_metabase_api(make_client: ClientFactory, database_url: str, source_url: str, tmp_path: Path) -> None:
    """Every /api endpoint, as a superuser, a user acting as a role, an admin API key, nobody and a
    stale session: never a 5xx, every answer text or JSON, and a refused request changes nothing."""
    backend = database_url.split(":")[0]
    client = make_client(admin_secret=SECRET, public_rate_limit=10_000)
    create_shop(source_url)
    ok(query(client, "add_source", {"name": "shop", "url": source_url}, headers=ADMIN))
    for email, extra in (("ann@example.com", {"superuser": True}), ("bo@example.com", {"role": "user"})):
        ok(query(client, "create_user", {"email": email, "password": "secret123", **extra}, headers=ADMIN))
    key = ok(query(client, "create_api_key", {"name": "mb", "role": "admin"}, headers=ADMIN))["key"]
    metabase = client.app.state.metabase  # type: ignore[attr-defined]

    def session_of(user_id: int) -> dict[str, str]:
        user = client.portal.call(metabase.users.get, user_id)  # type: ignore[union-attr]
        return {"X-Metabase-Session": client.portal.call(metabase.sessions.create, user)}  # type: ignore[union-attr]

    def headers_of(who: str) -> dict[str, str]:
        return {
            "superuser": lambda: session_of(1),
            "user": lambda: session_of(2),
            "admin key": lambda: {"X-Api-Key": key},
            "nobody": dict,
            "stale": lambda: {"X-Metabase-Session": "00000000-0000-0000-0000-000000000000"},
        }[who]()

    su = headers_of("superuser")
    [database] = ok(client.get("/api/database", headers=su))["data"]
    ok(client.put(f"/api/database/{database['id']}", json={"settings": {"database-enable-actions": True}}, headers=su))
    tables = ok(client.get(f"/api/database/{database['id']}/metadata", headers=su))["tables"]
    products = next(t for t in tables if t["name"] == "products")
    query_ = {"database": database["id"], "type": "query", "query": {"source-table": products["id"]}}
    card = {
        "name": "Products",
        "type": "model",
        "display": "table",
        "visualization_settings": {},
        "dataset_query": query_,
    }
    model = ok(client.post("/api/card", json=card, headers=su))
    action = {"name": "New product", "type": "implicit", "kind": "row/create", "model_id": model["id"]}
    made = ok(client.post("/api/action", json=action, headers=su))
    uuid = ok(client.post(f"/api/action/{made['id']}/public_link", headers=su))["uuid"]
    ids = {
        "database": [database["id"]],
        "table": [t["id"] for t in tables],
        "card": [model["id"]],
        "action": [made["id"]],
        "user": [1, 2],
    }
    requests = Requests(f"{SEED}-metabase-{backend}", ids, [uuid])
    rng = requests.rng
    seeded = export(client)["metadata"]
    callers = ["superuser"] * 4 + ["user", "admin key", "nobody", "stale"]
    bugs = Bugs()
    logging.getLogger("switchboard").addHandler(bugs)
    failures: list[str] = []
    try:
        for i in range(PER_CHUNK * 2):
            method, path, value = requests.request()
            body = requests.body(value)
            who = rng.choice(callers)
            before = export(client)
            response = client.request(method, path, content=body, headers=headers_of(who))
            client.cookies.clear()
            found = []
            if response.status_code >= 500 and response.status_code not in (502, 504):
                found.append(f"status {response.status_code}")
            if response.content and not response.headers.get("content-type", "").startswith(
                ("application/json", "text/plain")
            ):
                found.append(f"content-type {response.headers.get('content-type')}")
            if response.status_code >= 400 and export(client) != before:
                found.append("a refused request changed the metadata")
            if key in response.text:
                found.append("the answer holds the API key")
            if found or bugs.seen:
                failures.append(
                    f"#{i} {method} {path} as {who}: {'; '.join(found)}\n  sent {shorten(body)}\n"
                    f"  got {response.status_code} {response.text[:400]}\n" + "".join(bugs.seen)
                )
                bugs.seen.clear()
            if len(failures) >= 20:
                break
            if method == "DELETE" and path.startswith("/api/user/") and response.status_code == 200:
                for user_id in (1, 2):  # the callers' users, deactivated: active again
                    client.portal.call(lambda u=user_id: metabase.users.update(u, is_active=True))  # type: ignore[union-attr]
            if export(client)["metadata"] != seeded and rng.random() < 0.2:
                ok(query(client, "replace_metadata", seeded, headers=ADMIN))  # back to the seeded one
    finally:
        logging.getLogger("switchboard").removeHandler(bugs)
    assert not failures, f"seed {SEED}-metabase-{backend}: {len(failures)} failure(s)\n" + "\n".join(failures)
