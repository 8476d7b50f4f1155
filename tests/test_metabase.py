"""Metabase's REST API at /api: a real Metabase client library (metabase-api) against a real
server, and every convention and status in-process on both store backends, with real source
databases and a real webhook server for http actions."""

from __future__ import annotations

import json
import re
import time
from typing import Any

import pytest
import sqlalchemy as sa
from metabase_api import Metabase_API
from starlette.testclient import TestClient

from tests.conftest import ClientFactory, ServeFactory, query
from tests.shop import create_shop, sql
from tests.webhook import Webhook

ADMIN = {"X-Hasura-Admin-Secret": "s3cret"}
PASSWORD = "secret123"


def superuser(client: TestClient, email: str = "ann@example.com") -> dict[str, str]:
    """A superuser made through /v1/query, signed in: its session header."""
    made = query(client, "create_user", {"email": email, "password": PASSWORD, "superuser": True}, headers=ADMIN)
    assert made.status_code == 200, made.text
    return signed_in(client, email)


def signed_in(client: TestClient, email: str) -> dict[str, str]:
    response = client.post("/api/session", json={"username": email, "password": PASSWORD})
    assert response.status_code == 200, response.text
    client.cookies.clear()  # the header alone authenticates the calls below
    return {"X-Metabase-Session": response.json()["id"]}


def ok(response: Any, status: int = 200) -> Any:
    assert response.status_code == status, response.text
    return response.json() if response.content else None


TAGS = {
    "price": {"id": "p-price", "name": "price", "display-name": "Price", "type": "number", "required": True},
    "id": {"id": "p-id", "name": "id", "display-name": "Id", "type": "number", "required": True},
}
PARAMETERS = [
    {"id": "p-price", "slug": "price", "type": "number/=", "target": ["variable", ["template-tag", "price"]]},
    {"id": "p-id", "slug": "id", "type": "number/=", "target": ["variable", ["template-tag", "id"]]},
]


class Shop:
    """A signed-in superuser, a source database with actions enabled, and a model on products."""

    def __init__(self, client: TestClient, source_url: str) -> None:
        self.client, self.source_url = client, source_url
        create_shop(source_url)
        ok(query(client, "add_source", {"name": "shop", "url": source_url}, headers=ADMIN))
        self.session = superuser(client)
        [database] = ok(client.get("/api/database", headers=self.session))["data"]
        self.database = database["id"]
        tables = ok(client.get(f"/api/database/{self.database}/metadata", headers=self.session))["tables"]
        self.tables = {t["name"]: t for t in tables}
        settings = {"settings": {"database-enable-actions": True}}
        ok(client.put(f"/api/database/{self.database}", json=settings, headers=self.session))
        self.model = self.card("products")["id"]

    def card(self, table: str) -> Any:
        body = {
            "name": f"{table} model",
            "type": "model",
            "display": "table",
            "visualization_settings": {},
            "dataset_query": {
                "database": self.database,
                "type": "query",
                "query": {"source-table": self.tables[table]["id"]},
            },
        }
        return ok(self.client.post("/api/card", json=body, headers=self.session))

    def query_action(
        self, name: str = "Set price", statement: str = "UPDATE products SET price = {{price}} WHERE id = {{id}}"
    ) -> Any:
        body = {
            "name": name,
            "type": "query",
            "model_id": self.model,
            "database_id": self.database,
            "dataset_query": {
                "database": self.database,
                "type": "native",
                "native": {"query": statement, "template-tags": TAGS},
            },
            "parameters": PARAMETERS,
        }
        return ok(self.client.post("/api/action", json=body, headers=self.session))

    def implicit(self, kind: str) -> Any:
        body = {"name": f"products {kind}", "type": "implicit", "kind": kind, "model_id": self.model}
        return ok(self.client.post("/api/action", json=body, headers=self.session))

    def execute(self, action: int, parameters: dict[str, Any], headers: dict[str, str] | None = None) -> Any:
        return self.client.post(
            f"/api/action/{action}/execute", json={"parameters": parameters}, headers=headers or self.session
        )


@pytest.fixture
def shop(make_client: ClientFactory, source_url: str) -> Shop:
    return Shop(make_client(admin_secret="s3cret"), source_url)


# --- a real client ---------------------------------------------------------------------------------


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
def test_a_real_metabase_client_drives_actions(serve: ServeFactory, source_url: str) -> None:
    """metabase-api logs in with POST /api/session, checks its session with GET /api/user/current
    before every call, and sends X-Metabase-Session."""
    served = serve(admin_secret="s3cret")
    create_shop(source_url)
    import httpx2 as httpx

    for type_, args in [
        ("add_source", {"name": "shop", "url": source_url}),
        ("create_user", {"email": "ann@example.com", "password": PASSWORD, "superuser": True}),
    ]:
        assert (
            httpx.post(f"{served.url}/v1/query", json={"type": type_, "args": args}, headers=ADMIN).status_code == 200
        )
    mb = Metabase_API(served.url, "ann@example.com", PASSWORD)
    [database] = mb.get("/api/database")["data"]
    assert database["name"] == "shop" and database["settings"] == {}
    assert mb.put(f"/api/database/{database['id']}", json={"settings": {"database-enable-actions": True}}) == 200
    products = next(t for t in mb.get(f"/api/database/{database['id']}/metadata")["tables"] if t["name"] == "products")
    model = mb.post(
        "/api/card",
        json={
            "name": "Products",
            "type": "model",
            "display": "table",
            "visualization_settings": {},
            "dataset_query": {"database": database["id"], "type": "query", "query": {"source-table": products["id"]}},
        },
    )
    action = mb.post(
        "/api/action",
        json={
            "name": "Set price",
            "type": "query",
            "model_id": model["id"],
            "database_id": database["id"],
            "dataset_query": {
                "database": database["id"],
                "type": "native",
                "native": {"query": "UPDATE products SET price = {{price}} WHERE id = {{id}}", "template-tags": TAGS},
            },
            "parameters": PARAMETERS,
        },
    )
    assert action["switchboard_name"] == "set_price"
    executed = mb.post(f"/api/action/{action['id']}/execute", json={"parameters": {"p-price": "12.5", "p-id": 1}})
    assert executed == {"rows-affected": 1}
    assert float(sql(source_url, "SELECT price FROM products WHERE id = 1")[0]["price"]) == 12.5
    assert [a["id"] for a in mb.get("/api/action", params={"model-id": model["id"]})] == [action["id"]]
    link = mb.post(f"/api/action/{action['id']}/public_link")
    public = httpx.post(
        f"{served.url}/api/public/action/{link['uuid']}/execute", json={"parameters": {"p-price": 3, "p-id": 2}}
    )
    assert public.json() == {"rows-affected": 1}
    assert mb.delete(f"/api/action/{action['id']}") == 204
    assert mb.get(f"/api/action/{action['id']}", "raw").status_code == 404
    # The same action through /v1/query: there, and gone with it.
    listed = httpx.post(f"{served.url}/v1/query", json={"type": "list_actions", "args": {}}, headers=ADMIN).json()
    assert listed["total"] == 0


# --- conventions and sessions -------------------------------------------------------------------


def test_credentials_and_conventions(make_client: ClientFactory) -> None:
    client = make_client(admin_secret="s3cret")
    for headers in ({}, {"X-Metabase-Session": "no-such-session"}, ADMIN, {"X-Api-Key": "sb_wrong"}):
        refused = client.get("/api/user/current", headers=headers)
        assert (refused.status_code, refused.text) == (401, "Unauthenticated")
        assert refused.headers["content-type"].startswith("text/plain")
    session = superuser(client)
    assert ok(client.get("/api/user/current", headers=session))["email"] == "ann@example.com"
    missing = client.get("/api/action/99999", headers=session)
    assert (missing.status_code, missing.text) == (404, "Not found.")
    assert client.get("/api/action/99999999999999999999", headers=session).status_code == 404
    unknown = client.get("/api/dashboard/1", headers=session)
    assert (unknown.status_code, unknown.text) == (404, "API endpoint does not exist.")
    invalid = client.post("/api/card", json={"name": "x"}, headers=session)
    assert invalid.status_code == 400
    assert invalid.json()["errors"] == {"dataset_query": "Value must be a map."}
    not_json = client.post("/api/action", content=b"[[[", headers=session)
    assert not_json.status_code == 400 and "errors" in not_json.json()
    # A non-superuser: 403 for what needs one.
    ok(query(client, "create_user", {"email": "bo@example.com", "password": PASSWORD, "role": "editor"}, headers=ADMIN))
    bo = signed_in(client, "bo@example.com")
    forbidden = client.get("/api/user", headers=bo)
    assert (forbidden.status_code, forbidden.text) == (403, "You don't have permissions to do that.")
    # The session cookie Metabase's own frontend uses works as the header does.
    client.post("/api/session", json={"username": "bo@example.com", "password": PASSWORD})
    assert ok(client.get("/api/user/current"))["switchboard_role"] == "editor"


def test_sign_in_failures_and_throttling(make_client: ClientFactory) -> None:
    client = make_client(admin_secret="s3cret")
    superuser(client)
    blank = client.post("/api/session", json={"username": " ", "password": "x"})
    assert blank.status_code == 400 and blank.json()["errors"] == {"username": "value must be a non-blank string."}
    for _ in range(10):
        wrong = client.post("/api/session", json={"username": "ann@example.com", "password": "wrong1"})
        assert (wrong.status_code, wrong.json()) == (401, {"errors": {"password": "did not match stored password"}})
    throttled = client.post("/api/session", json={"username": "ANN@example.com", "password": PASSWORD})
    assert throttled.status_code == 401
    assert re.fullmatch(
        r"Too many attempts! You must wait \d+ seconds before trying again\.", throttled.json()["errors"]["username"]
    )
    # Another username is not held back by this one's failures.
    ok(query(client, "create_user", {"email": "bo@example.com", "password": PASSWORD}, headers=ADMIN))
    assert client.post("/api/session", json={"username": "bo@example.com", "password": PASSWORD}).status_code == 200


def test_sessions_end_and_are_shared_by_servers_on_one_store(make_client: ClientFactory) -> None:
    first = make_client(admin_secret="s3cret")
    session = superuser(first)
    second = make_client(admin_secret="s3cret")  # another server on the same store
    assert ok(second.get("/api/user/current", headers=session))["email"] == "ann@example.com"
    assert first.delete("/api/session", headers=session).status_code == 204
    assert first.get("/api/user/current", headers=session).status_code == 401
    assert first.delete("/api/session", headers=session).status_code == 404
    # The other server asks the store again within seconds (it checked the session just now).
    second.app.state.metabase.sessions.forget(1)  # as if RECHECK_SECONDS had passed
    assert second.get("/api/user/current", headers=session).status_code == 401


def test_a_known_session_costs_no_store_query(make_client: ClientFactory) -> None:
    client = make_client(admin_secret="s3cret")
    session = superuser(client)
    client.get("/api/user/current", headers=session)
    statements: list[str] = []
    engine = client.app.state.runtime.store.engine.sync_engine
    listener = lambda *args: statements.append(args[2])  # noqa: E731
    sa.event.listen(engine, "before_cursor_execute", listener)
    try:
        for _ in range(20):
            assert client.get("/api/user/current", headers=session).status_code == 200
    finally:
        sa.event.remove(engine, "before_cursor_execute", listener)
    # (The store's own watcher may poll the version row meanwhile: that is not the session check.)
    assert [s for s in statements if "switchboard_sessions" in s or "switchboard_users" in s] == []


def test_users(make_client: ClientFactory) -> None:
    client = make_client(admin_secret="s3cret")
    key = ok(query(client, "create_api_key", {"name": "ops", "role": "admin"}, headers=ADMIN))["key"]
    by_key = {"X-Api-Key": key}  # an admin API key is a superuser: it makes the first one
    made = ok(
        client.post(
            "/api/user",
            json={"email": "Cy@Example.com", "password": PASSWORD, "first_name": "Cy", "switchboard_role": "editor"},
            headers=by_key,
        )
    )
    assert (made["email"], made["is_superuser"], made["switchboard_role"]) == ("cy@example.com", False, "editor")
    assert "password" not in json.dumps(made)
    taken = client.post("/api/user", json={"email": "cy@example.com", "password": PASSWORD}, headers=by_key)
    assert taken.json() == {"errors": {"email": "Email address already in use."}}
    weak = client.post("/api/user", json={"email": "dee@example.com", "password": "abc"}, headers=by_key)
    assert weak.json() == {"errors": {"password": "password is too common."}}
    listed = ok(client.get("/api/user", headers=by_key))
    assert (listed["total"], [u["email"] for u in listed["data"]]) == (1, ["cy@example.com"])
    cy = signed_in(client, "cy@example.com")
    assert ok(client.get(f"/api/user/{made['id']}", headers=cy))["first_name"] == "Cy"  # one's own
    assert client.put(f"/api/user/{made['id']}", json={"is_superuser": True}, headers=cy).status_code == 403
    changed = ok(client.put(f"/api/user/{made['id']}", json={"last_name": "Doe"}, headers=cy))
    assert changed["common_name"] == "Cy Doe"
    assert ok(client.delete(f"/api/user/{made['id']}", headers=by_key)) == {"success": True}
    assert client.get("/api/user/current", headers=cy).status_code == 401  # its sessions end
    disabled = client.post("/api/session", json={"username": "cy@example.com", "password": PASSWORD})
    assert (disabled.status_code, disabled.json()) == (401, {"errors": {"_error": "Your account is disabled."}})
    assert ok(client.get("/api/user", params={"status": "all"}, headers=by_key))["total"] == 1
    assert client.delete("/api/user/999", headers=by_key).status_code == 404


# --- databases, models, actions -----------------------------------------------------------------


def test_databases_and_models(shop: Shop) -> None:
    client, session = shop.client, shop.session
    database = ok(client.get(f"/api/database/{shop.database}", headers=session))
    assert database["settings"] == {"database-enable-actions": True}
    products = shop.tables["products"]
    fields = {f["name"]: f for f in products["fields"]}
    assert fields["id"]["semantic_type"] == "type/PK" and fields["id"]["database_is_auto_increment"]
    assert fields["sku"]["base_type"] == "type/Text" and fields["sku"]["database_required"]
    again = ok(client.get(f"/api/database/{shop.database}/metadata", headers=session))
    assert [t["id"] for t in again["tables"]] == [t["id"] for t in shop.tables.values()]  # stable ids
    card = ok(client.get(f"/api/card/{shop.model}", headers=session))
    assert card["dataset_query"]["query"] == {"source-table": products["id"]} and card["type"] == "model"
    renamed = ok(client.put(f"/api/card/{shop.model}", json={"name": "Our products"}, headers=session))
    assert renamed["name"] == "Our products"
    # A null setting removes it: actions are then refused on the database.
    ok(
        client.put(
            f"/api/database/{shop.database}", json={"settings": {"database-enable-actions": None}}, headers=session
        )
    )
    body = {"name": "New", "type": "implicit", "kind": "row/create", "model_id": shop.model}
    refused = client.post("/api/action", json=body, headers=session)
    assert refused.status_code == 400 and refused.json()["message"] == "Actions are not enabled."
    assert refused.json()["data"]["database-id"] == shop.database


def test_query_actions(shop: Shop) -> None:
    action = shop.query_action()
    assert action["type"] == "query" and action["database_id"] == shop.database
    assert action["dataset_query"]["native"]["template-tags"] == TAGS
    assert shop.execute(action["id"], {"p-price": 20, "p-id": 2}).json() == {"rows-affected": 1}
    assert float(sql(shop.source_url, "SELECT price FROM products WHERE id = 2")[0]["price"]) == 20
    unknown = shop.execute(action["id"], {"p-price": 1, "p-id": 1, "color": "red"})
    assert unknown.status_code == 400
    assert unknown.json()["message"] == 'No destination parameter found for #{"color"}. Found: #{"p-price" "p-id"}'
    missing = shop.execute(action["id"], {"p-price": 1})
    assert missing.status_code == 400 and set(missing.json()["errors"]) == {"p-id"}
    mistyped = shop.execute(action["id"], {"p-price": "lots", "p-id": 1})
    assert mistyped.status_code == 400 and set(mistyped.json()["errors"]) == {"p-price"}
    # A statement the database refuses: rolled back, the database's words in a 400.
    failing = shop.query_action(
        "Break", "UPDATE products SET price = {{price}} WHERE id = {{id}}; INSERT INTO nowhere VALUES (1)"
    )
    broken = shop.execute(failing["id"], {"p-price": 99, "p-id": 1})
    assert broken.status_code == 400 and broken.json()["message"].startswith("Error executing Action: ")
    assert float(sql(shop.source_url, "SELECT price FROM products WHERE id = 1")[0]["price"]) != 99
    # The same action through /v1/query: run_action runs it, history names the front door.
    name = action["switchboard_name"]
    ran = ok(query(shop.client, "run_action", {"name": name, "input": {"price": 5, "id": 1}}, headers=ADMIN))
    assert ran["output"]["rows_affected"] == [1]
    history = ok(query(shop.client, "get_metadata_history", {}, headers=ADMIN))["versions"]
    assert "metabase:create_action" in [v["operation"] for v in history]


def test_implicit_actions_and_prefill(shop: Shop) -> None:
    create, update, delete = (shop.implicit(kind) for kind in ("row/create", "row/update", "row/delete"))
    assert {p["id"] for p in create["parameters"]} == {"sku", "name", "price", "note"}
    assert [p["id"] for p in delete["parameters"]] == ["id"]
    created = ok(shop.execute(create["id"], {"sku": "Z9", "name": "Zed", "price": "4.50"}))["created-row"]
    assert (created["sku"], float(created["price"])) == ("Z9", 4.5)
    prefill = shop.client.get(
        f"/api/action/{update['id']}/execute",
        params={"parameters": json.dumps({"id": created["id"]})},
        headers=shop.session,
    )
    assert ok(prefill)["sku"] == "Z9"
    cannot = shop.client.get(f"/api/action/{create['id']}/execute", params={"parameters": "{}"}, headers=shop.session)
    assert (cannot.status_code, cannot.text) == (
        400,
        "Values can only be fetched for actions that require a Primary Key.",
    )
    assert ok(shop.execute(update["id"], {"id": created["id"], "name": "Zeta"})) == {"rows-updated": [1]}
    assert ok(shop.execute(delete["id"], {"id": created["id"]})) == {"rows-deleted": [1]}
    gone = shop.execute(delete["id"], {"id": created["id"]})
    assert gone.status_code == 400 and gone.json()["message"] == "Sorry, the row you're trying to delete doesn't exist"
    duplicate = shop.execute(create["id"], {"sku": "A1", "name": "Again", "price": 1})
    assert duplicate.status_code == 400 and duplicate.json()["message"] == "Unable to create a new record."


def test_http_actions_with_jq_handles(shop: Shop, webhook: Webhook) -> None:
    webhook.respond("/items", body={"item": {"title": "Bell", "n": 2}})
    webhook.respond("/down", status=500, body={"oops": True})
    template = {
        "method": "POST",
        "url": webhook.url("/items") + "?sku={{sku}}",
        "body": '{"qty": {{qty}}[[, "note": "{{note}}"]]}',
        "headers": '{"X-Shop": "{{sku}}"}',
    }
    parameters = [
        {"id": "sku", "type": "string/=", "target": ["variable", ["template-tag", "sku"]]},
        {"id": "qty", "type": "number/=", "target": ["variable", ["template-tag", "qty"]]},
        {"id": "note", "type": "string/=", "target": ["variable", ["template-tag", "note"]]},
    ]
    body = {"name": "Order", "type": "http", "model_id": shop.model, "template": template, "parameters": parameters}
    bad = shop.client.post("/api/action", json={**body, "response_handle": ".["}, headers=shop.session)
    assert bad.status_code == 400 and "response_handle" in bad.json()["errors"]
    action = ok(
        shop.client.post("/api/action", json={**body, "response_handle": ".body.item.title"}, headers=shop.session)
    )
    assert ok(shop.execute(action["id"], {"sku": "B2", "qty": "3"})) == "Bell"
    [call] = webhook.calls("/items")
    assert (call.query, call.body, call.headers["x-shop"]) == ({"sku": "B2"}, {"qty": 3}, "B2")
    assert call.headers["x-metabase-action"] == action["switchboard_name"]
    down = ok(
        shop.client.put(
            f"/api/action/{action['id']}",
            json={"template": {**template, "url": webhook.url("/down")}},
            headers=shop.session,
        )
    )
    assert down["template"]["url"] == webhook.url("/down")
    failed = shop.execute(action["id"], {"sku": "B2", "qty": 1, "note": "x"})
    assert (failed.status_code, failed.json()) == (400, {"remote-status": 500})


def test_listing_updating_and_permissions(shop: Shop) -> None:
    client = shop.client
    action = shop.query_action()
    other = shop.card("orders")
    assert [
        a["id"] for a in ok(client.get("/api/action", params={"model-id": other["id"]}, headers=shop.session))
    ] == []
    # An action made through /v1/query is listed too, with an id, as the Metabase action it would be.
    definition = {
        "sql": {"source": "shop", "statement": "DELETE FROM orders WHERE id = {{id}}"},
        "arguments": [{"name": "id", "type": "Int!"}],
    }
    ok(query(client, "create_action", {"name": "purge", "definition": definition}, headers=ADMIN))
    listed = {a["switchboard_name"]: a for a in ok(client.get("/api/action", headers=shop.session))}
    assert listed["purge"]["type"] == "query" and listed["purge"]["dataset_query"]["native"]["query"].startswith(
        "DELETE"
    )
    renamed = ok(
        client.put(f"/api/action/{action['id']}", json={"name": "Reprice", "description": "new"}, headers=shop.session)
    )
    assert (renamed["name"], renamed["switchboard_name"], renamed["description"]) == ("Reprice", "set_price", "new")
    # A user acting as "editor" runs what the role may run, and nothing else exists to it.
    ok(query(client, "create_user", {"email": "bo@example.com", "password": PASSWORD, "role": "editor"}, headers=ADMIN))
    bo = signed_in(client, "bo@example.com")
    assert client.get(f"/api/action/{action['id']}", headers=bo).status_code == 404
    assert shop.execute(action["id"], {"p-price": 1, "p-id": 1}, bo).status_code == 404
    ok(query(client, "create_action_permission", {"action": "set_price", "role": "editor"}, headers=ADMIN))
    assert [a["id"] for a in ok(client.get("/api/action", headers=bo))] == [action["id"]]
    assert ok(shop.execute(action["id"], {"p-price": 1, "p-id": 1}, bo)) == {"rows-affected": 1}
    assert client.delete(f"/api/action/{action['id']}", headers=bo).status_code == 403
    # Archived: gone from lists and runs; deleting the model takes its actions with it.
    ok(client.put(f"/api/action/{action['id']}", json={"archived": True}, headers=shop.session))
    assert shop.execute(action["id"], {"p-price": 1, "p-id": 1}).status_code == 404
    assert client.delete(f"/api/card/{shop.model}", headers=shop.session).status_code == 204
    assert ok(query(client, "list_actions", {}, headers=ADMIN))["total"] == 1  # purge only


def test_public_actions(make_client: ClientFactory, source_url: str) -> None:
    shop = Shop(make_client(admin_secret="s3cret", public_rate_limit=2), source_url)
    client = shop.client
    action = shop.query_action()
    hidden = {"fields": {"p-id": {"id": "p-id", "hidden": False}, "p-price": {"id": "p-price", "defaultValue": 7}}}
    ok(client.put(f"/api/action/{action['id']}", json={"visualization_settings": hidden}, headers=shop.session))
    uuid = ok(client.post(f"/api/action/{action['id']}/public_link", headers=shop.session))["uuid"]
    assert ok(client.post(f"/api/action/{action['id']}/public_link", headers=shop.session))["uuid"] == uuid
    assert ok(client.get("/api/action/public", headers=shop.session)) == [
        {"name": "Set price", "id": action["id"], "public_uuid": uuid, "model_id": shop.model}
    ]
    form = ok(client.get(f"/api/public/action/{uuid}"))
    assert set(form) == {"id", "name", "database_id", "visualization_settings", "parameters"}
    # The default fills the price; a third run within the second is refused.
    assert ok(client.post(f"/api/public/action/{uuid}/execute", json={"parameters": {"p-id": 1}})) == {
        "rows-affected": 1
    }
    assert float(sql(shop.source_url, "SELECT price FROM products WHERE id = 1")[0]["price"]) == 7
    client.post(f"/api/public/action/{uuid}/execute", json={"parameters": {"p-id": 1}})
    limited = client.post(f"/api/public/action/{uuid}/execute", json={"parameters": {"p-id": 1}})
    assert (
        limited.status_code == 429
        and limited.text.startswith("Too many attempts!")
        and "retry-after" in limited.headers
    )
    time.sleep(1.1)
    refused = client.post(f"/api/public/action/{uuid}/execute", json={"parameters": {"nope": 1}})
    assert (refused.status_code, refused.text) == (400, "An error occurred.")
    # The same link as create_action_public_link's.
    same = ok(query(client, "create_action_public_link", {"action": "set_price"}, headers=ADMIN))
    assert same["uuid"] == uuid
    assert client.delete(f"/api/action/{action['id']}/public_link", headers=shop.session).status_code == 204
    assert client.get(f"/api/public/action/{uuid}").status_code == 404
    assert client.delete(f"/api/action/{action['id']}/public_link", headers=shop.session).status_code == 404


def test_public_sharing_off(make_client: ClientFactory, source_url: str) -> None:
    shop = Shop(make_client(admin_secret="s3cret", enable_public_sharing=False), source_url)
    action = shop.query_action()
    refused = shop.client.post(f"/api/action/{action['id']}/public_link", headers=shop.session)
    assert (refused.status_code, refused.text) == (400, "Public sharing is not enabled.")
    denied = query(shop.client, "create_action_public_link", {"action": "set_price"}, headers=ADMIN)
    assert denied.status_code == 400 and denied.json()["code"] == "access-denied"
