"""sql actions against real source databases (a SQLite file, a PostgreSQL database): bound
parameters, optional clauses, one transaction, database errors, dry runs, sources."""

from __future__ import annotations

import time
from typing import Any

import pytest
from starlette.testclient import TestClient

from tests.conftest import ClientFactory, query
from tests.shop import create_shop, sql


@pytest.fixture
def shop(client: TestClient, source_url: str) -> TestClient:
    create_shop(source_url)
    response = query(client, "add_source", {"name": "shop", "url": source_url})
    assert response.status_code == 200, response.text
    return client


def define(client: TestClient, name: str, statements: str | list[str], arguments: dict[str, str], **more: Any) -> None:
    runner = {"statement": statements} if isinstance(statements, str) else {"statements": statements}
    definition = {
        "sql": {"source": "shop", **runner},
        "arguments": [{"name": n, "type": t} for n, t in arguments.items()],
        **more,
    }
    response = query(client, "create_action", {"name": name, "definition": definition})
    assert response.status_code == 200, response.text


def run(client: TestClient, action: str, **input: Any) -> Any:
    return query(client, "run_action", {"name": action, "input": input})


def test_update_with_bound_parameters(shop: TestClient, source_url: str) -> None:
    define(
        shop,
        "set_price",
        "UPDATE products SET price = {{price}} WHERE sku = {{sku}}",
        {"price": "Float!", "sku": "String!"},
    )
    response = run(shop, "set_price", price=12.25, sku="A1")
    assert response.status_code == 200, response.text
    assert response.json() == {"output": {"rows_affected": [1], "returning": []}}
    assert float(sql(source_url, "SELECT price FROM products WHERE sku = 'A1'")[0]["price"]) == 12.25


def test_returning_and_select_rows(shop: TestClient) -> None:
    define(
        shop,
        "add_product",
        "INSERT INTO products (sku, name, price) VALUES ({{sku}}, {{name}}, {{price}}) RETURNING id, sku, price",
        {"sku": "String!", "name": "String!", "price": "numeric!"},
    )
    response = run(shop, "add_product", sku="C3", name="Clock", price="7.50")
    assert response.status_code == 200, response.text
    assert response.json()["output"] == {"rows_affected": [1], "returning": [{"id": 3, "sku": "C3", "price": 7.5}]}

    define(shop, "products", "SELECT sku, name FROM products ORDER BY id", {}, type="query")
    response = run(shop, "products")
    assert response.json()["output"]["returning"] == [
        {"sku": "A1", "name": "Anvil"},
        {"sku": "B2", "name": "Bell"},
        {"sku": "C3", "name": "Clock"},
    ]


def test_optional_clauses_are_kept_only_with_a_value(shop: TestClient) -> None:
    define(
        shop,
        "find",
        "SELECT sku FROM products WHERE 1 = 1 [[AND name = {{name}}]] [[AND price <= {{max_price}}]] ORDER BY sku",
        {"name": "String", "max_price": "Float"},
        type="query",
    )

    def skus(**input: Any) -> list[str]:
        response = run(shop, "find", **input)
        assert response.status_code == 200, response.text
        return [row["sku"] for row in response.json()["output"]["returning"]]

    assert skus() == ["A1", "B2"]
    assert skus(name="Bell") == ["B2"]
    assert skus(name=None, max_price=5) == ["B2"]  # an explicit null is no value either
    assert skus(name="Anvil", max_price=5) == []


def test_a_failing_statement_rolls_back_the_ones_before(shop: TestClient, source_url: str) -> None:
    define(
        shop,
        "rename_and_copy",
        [
            "UPDATE products SET name = {{name}} WHERE sku = 'A1'",
            "INSERT INTO products (sku, name, price) VALUES ('B2', {{name}}, 1)",  # B2 exists
        ],
        {"name": "String!"},
    )
    response = run(shop, "rename_and_copy", name="Renamed")
    assert response.status_code == 400, response.text
    body = response.json()
    assert body["code"] == "constraint-violation"
    assert body["extensions"]["kind"] == "unique"
    assert "sku" in body["extensions"]["column"]
    assert sql(source_url, "SELECT name FROM products WHERE sku = 'A1'") == [{"name": "Anvil"}]


INJECTIONS = [
    ("String!", "x'); DROP TABLE products; --"),
    ("String!", "Robert'); DELETE FROM products WHERE ('1' = '1"),
    ("ID!", "1 OR 1=1"),
    ("String!", "\\'; DROP TABLE products; --"),
    ("String!", "{{name}} :name ? $1 %s"),
]


@pytest.mark.parametrize(("type_", "value"), INJECTIONS)
def test_injection_attempts_are_only_data(shop: TestClient, source_url: str, type_: str, value: str) -> None:
    define(shop, "note", "UPDATE products SET note = {{text}} WHERE sku = 'A1'", {"text": type_})
    response = run(shop, "note", text=value)
    assert response.status_code == 200, response.text
    rows = sql(source_url, "SELECT sku, note FROM products ORDER BY id")
    assert rows == [{"sku": "A1", "note": value}, {"sku": "B2", "note": None}]


@pytest.mark.parametrize(
    "type_", ["Int!", "Float!", "Boolean!", "numeric!", "bigint!", "date!", "timestamptz!", "uuid!"]
)
def test_injection_through_typed_parameters_is_refused_before_the_database(
    shop: TestClient, source_url: str, type_: str
) -> None:
    define(shop, "wipe", "DELETE FROM products WHERE note = CAST({{value}} AS TEXT)", {"value": type_})
    for evil in ("1 OR 1=1", "1); DROP TABLE products; --", "' OR ''='"):
        response = run(shop, "wipe", value=evil)
        assert response.status_code == 400, (type_, evil, response.text)
        assert response.json()["code"] in ("validation-failed", "data-exception"), response.text
    assert len(sql(source_url, "SELECT id FROM products")) == 2


def test_typed_parameters(shop: TestClient, source_url: str) -> None:
    define(
        shop,
        "order",
        "INSERT INTO orders (product_id, qty, placed_on) VALUES ({{product}}, {{qty}}, {{day}}) RETURNING placed_on",
        {"product": "Int!", "qty": "Int!", "day": "date!"},
    )
    response = run(shop, "order", product=1, qty=2, day="2026-11-22")
    assert response.status_code == 200, response.text
    assert response.json()["output"]["returning"] == [{"placed_on": "2026-11-22"}]
    response = run(shop, "order", product=1, qty=2, day="22/11/2026")
    assert response.status_code == 400
    assert response.json()["path"] == "$.args.input.day"


@pytest.mark.parametrize(
    ("statement", "kind"),
    [
        ("INSERT INTO products (sku, name, price) VALUES ('A1', 'dup', 1)", "unique"),
        ("INSERT INTO products (sku, name, price) VALUES ('Z9', NULL, 1)", "not-null"),
        ("INSERT INTO orders (product_id) VALUES (999)", "foreign-key"),
        ("UPDATE products SET price = -1 WHERE sku = 'A1'", "check"),
    ],
)
def test_constraint_violations(shop: TestClient, statement: str, kind: str) -> None:
    define(shop, "bad", statement, {})
    response = run(shop, "bad")
    assert response.status_code == 400, response.text
    body = response.json()
    assert body["code"] == "constraint-violation"
    assert body["extensions"]["kind"] == kind
    if kind == "check":
        assert "price_not_negative" in body["extensions"]["constraint"] or "price" in body["error"]
    assert body["internal"]["statement"] == statement  # admins see the statement


def test_other_database_errors_are_data_exceptions(shop: TestClient) -> None:
    define(shop, "broken", "SELECT * FROM no_such_table", {})
    response = run(shop, "broken")
    assert response.status_code == 400, response.text
    assert response.json()["code"] == "data-exception"
    assert "no_such_table" in response.json()["error"]


def test_tags_must_be_declared_arguments_and_scalars(shop: TestClient) -> None:
    definition: dict[str, Any] = {"sql": {"source": "shop", "statement": "DELETE FROM products WHERE id = {{id}}"}}
    response = query(shop, "create_action", {"name": "undeclared", "definition": definition})
    assert response.status_code == 400
    assert response.json()["code"] == "parse-failed"
    assert '"{{id}}" is not a declared argument' in response.json()["error"]

    definition["arguments"] = [{"name": "id", "type": "[Int!]!"}]
    response = query(shop, "create_action", {"name": "listed", "definition": definition})
    assert response.status_code == 400
    assert response.json()["code"] == "invalid-configuration"

    for bad in ("SELECT [[ [[ 1 ]] ]]", "SELECT 1 ]]", "SELECT {{1x}}"):
        response = query(
            shop, "create_action", {"name": "bad", "definition": {"sql": {"source": "shop", "statement": bad}}}
        )
        assert response.status_code == 400, bad
        assert response.json()["code"] == "parse-failed"


def test_an_unknown_source_is_refused(shop: TestClient) -> None:
    definition = {"sql": {"source": "nope", "statement": "SELECT 1"}}
    response = query(shop, "create_action", {"name": "a", "definition": definition})
    assert response.status_code == 400
    assert response.json()["path"] == "$.args.definition.sql.source"


def test_dry_run_shows_statements_and_changes_nothing(shop: TestClient, source_url: str) -> None:
    define(
        shop,
        "set_price",
        ["UPDATE products SET price = {{price}} WHERE sku = {{sku}}", "SELECT 1 [[WHERE {{note}} IS NOT NULL]]"],
        {"price": "Float!", "sku": "String!", "note": "String"},
    )
    response = query(shop, "run_action", {"name": "set_price", "input": {"price": 1, "sku": "A1"}, "dry_run": True})
    assert response.status_code == 200, response.text
    assert response.json() == {
        "dry_run": True,
        "kind": "sql",
        "source": "shop",
        "statements": [
            {
                "statement": "UPDATE products SET price = :price WHERE sku = :sku",
                "parameters": {"price": 1.0, "sku": "A1"},
            },
            {"statement": "SELECT 1 ", "parameters": {}},
        ],
    }
    assert float(sql(source_url, "SELECT price FROM products WHERE sku = 'A1'")[0]["price"]) == 10.5
    query(shop, "create_action_permission", {"action": "set_price", "role": "user"})
    response = query(
        shop,
        "run_action",
        {"name": "set_price", "input": {"price": 1, "sku": "A1"}, "dry_run": True},
        headers={"X-Hasura-Role": "user"},
    )
    assert response.status_code == 400
    assert response.json()["code"] == "access-denied"


def test_async_sql_action(shop: TestClient, source_url: str) -> None:
    define(shop, "restock", "UPDATE stock SET qty = qty + {{n}} WHERE sku = 'A1'", {"n": "Int!"}, kind="asynchronous")
    response = run(shop, "restock", n=10)
    assert response.status_code == 200, response.text
    run_id = response.json()["action_id"]
    for _ in range(200):
        result = query(shop, "get_action_result", {"id": run_id}).json()
        if result["status"] in ("completed", "error"):
            break
        time.sleep(0.02)
    assert result["status"] == "completed", result
    assert result["output"] == {"rows_affected": [2], "returning": []}
    assert sql(source_url, "SELECT qty FROM stock ORDER BY shop") == [{"qty": 15}, {"qty": 17}]


def test_output_type_checks_the_result(shop: TestClient) -> None:
    query(
        shop,
        "set_custom_types",
        {"objects": [{"name": "Counted", "fields": [{"name": "rows_affected", "type": "[Int!]!"}]}]},
    )
    define(shop, "count", "UPDATE products SET note = 'x'", {}, output_type="Counted")
    response = run(shop, "count")
    assert response.json() == {"output": {"rows_affected": [2]}}


def test_an_unreachable_source_is_a_502_and_the_server_stays_healthy(make_client: ClientFactory, tmp_path: Any) -> None:
    client = make_client()
    for name, url in (
        ("gone_pg", "postgresql://postgres@127.0.0.1:1/nothing"),
        ("gone_file", f"sqlite:///{tmp_path}/no/such/dir/x.db"),
    ):
        assert query(client, "add_source", {"name": name, "url": url}).status_code == 200
        definition = {"sql": {"source": name, "statement": "SELECT 1"}}
        assert query(client, "create_action", {"name": name, "definition": definition}).status_code == 200
        response = run(client, name)
        assert response.status_code == 502, response.text
        assert response.json()["error"] == f'source "{name}" cannot be reached'
    assert client.get("/healthz").status_code == 200
    report = query(client, "get_inconsistent_metadata").json()
    assert {entry["name"] for entry in report["inconsistent_objects"]} >= {"source gone_pg", "source gone_file"}


def test_url_from_env(make_client: ClientFactory, source_url: str, monkeypatch: pytest.MonkeyPatch) -> None:
    create_shop(source_url)
    client = make_client()
    assert query(client, "add_source", {"name": "shop", "url_from_env": "SHOP_DB_URL"}).status_code == 200
    define(client, "count", "SELECT count(*) AS n FROM products", {}, type="query")
    response = run(client, "count")
    assert response.status_code == 400
    assert response.json()["code"] == "invalid-configuration"
    monkeypatch.setenv("SHOP_DB_URL", source_url)
    assert run(client, "count").json() == {"output": {"rows_affected": [1], "returning": [{"n": 2}]}}
    response = query(client, "add_source", {"name": "x", "url_from_env": "SWITCHBOARD_DATABASE_URL"})
    assert response.status_code == 400


def test_drop_source(shop: TestClient, source_url: str) -> None:
    define(shop, "a", "SELECT 1", {})
    assert run(shop, "a").status_code == 200  # the source's pool is open
    response = query(shop, "drop_source", {"name": "shop"})
    assert response.status_code == 400
    assert response.json() == {
        "path": "$.args.name",
        "error": "cannot drop due to the following dependent objects : action a",
        "code": "dependency-error",
    }
    assert query(shop, "drop_source", {"name": "shop", "cascade": True}).status_code == 200
    if source_url.startswith("postgresql"):  # and its pool is closed: nothing holds the database
        others = (
            "SELECT count(*) AS n FROM pg_stat_activity WHERE datname = current_database() AND pid <> pg_backend_pid()"
        )
        assert sql(source_url, others) == [{"n": 0}]
    document = query(shop, "export_metadata").json()
    assert "actions" not in document and "data_sources" not in document


def test_literal_colons_question_marks_and_percents_stay_text(shop: TestClient, source_url: str) -> None:
    define(
        shop, "odd", "UPDATE products SET note = '10:30 ? %s %% $1 ::x :y' || {{x}} WHERE sku = 'A1'", {"x": "String!"}
    )
    response = run(shop, "odd", x="!")
    assert response.status_code == 200, response.text
    assert sql(source_url, "SELECT note FROM products WHERE sku = 'A1'") == [{"note": "10:30 ? %s %% $1 ::x :y!"}]


@pytest.mark.parametrize("database_url", ["postgres"], indirect=True)  # SQLite has no server to drop them
def test_a_dropped_pool_connection_is_replaced_and_the_run_goes_through(shop: TestClient, source_url: str) -> None:
    define(shop, "bump", "UPDATE stock SET qty = qty + 1 WHERE shop = 'north'", {})
    assert run(shop, "bump").status_code == 200  # the pool now holds a connection
    killed = sql(
        source_url,
        "SELECT count(pg_terminate_backend(pid)) AS n FROM pg_stat_activity "
        "WHERE datname = current_database() AND pid <> pg_backend_pid()",
    )
    assert killed[0]["n"] >= 1
    response = run(shop, "bump")
    assert response.status_code == 200, response.text
    assert sql(source_url, "SELECT qty FROM stock WHERE shop = 'north'") == [{"qty": 7}]  # 5 + 2: once each
