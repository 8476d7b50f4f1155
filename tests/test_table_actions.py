"""table actions against real source databases: derived arguments, one row by primary key,
composite keys, explicit null against absent, rollback when not exactly one row, dry runs."""

from __future__ import annotations

from typing import Any

import pytest
from starlette.testclient import TestClient

from tests.conftest import query
from tests.shop import create_shop, sql


@pytest.fixture
def shop(client: TestClient, source_url: str) -> TestClient:
    create_shop(source_url)
    assert query(client, "add_source", {"name": "shop", "url": source_url}).status_code == 200
    return client


def define(client: TestClient, name: str, table: str, operation: str, schema: str | None = None, **more: Any) -> Any:
    located = {"schema": schema} if schema else {}
    definition = {"table": {"source": "shop", "table": table, "operation": operation, **located}, **more}
    return query(client, "create_action", {"name": name, "definition": definition})


def run(client: TestClient, action: str, **input: Any) -> Any:
    return query(client, "run_action", {"name": action, "input": input})


def test_insert_derives_arguments_and_returns_the_row(shop: TestClient, source_url: str) -> None:
    assert define(shop, "new_order", "orders", "insert").status_code == 200
    response = run(shop, "new_order", product_id=2, placed_on="2026-11-22")
    assert response.status_code == 200, response.text
    assert response.json() == {"output": {"id": 1, "product_id": 2, "qty": 1, "placed_on": "2026-11-22", "note": None}}
    # id is generated (not an argument); product_id is required (NOT NULL, no default).
    response = run(shop, "new_order", id=5, product_id=1)
    assert response.status_code == 400
    assert response.json()["error"] == 'unexpected argument "id" for action "new_order"'
    response = run(shop, "new_order", qty=3)
    assert response.status_code == 400
    assert response.json()["error"] == 'missing required argument "product_id" of type "Int!"'
    assert len(sql(source_url, "SELECT id FROM orders")) == 1


def test_update_null_sets_null_and_absent_leaves_unchanged(shop: TestClient, source_url: str) -> None:
    assert define(shop, "edit_product", "products", "update").status_code == 200
    sql(source_url, "UPDATE products SET note = 'fragile' WHERE id = 1")
    response = run(shop, "edit_product", id=1, price=11)
    assert response.status_code == 200, response.text
    assert response.json()["output"] == {"id": 1, "sku": "A1", "name": "Anvil", "price": 11, "note": "fragile"}
    response = run(shop, "edit_product", id=1, note=None)
    assert response.json()["output"]["note"] is None
    assert sql(source_url, "SELECT name, note FROM products WHERE id = 1") == [{"name": "Anvil", "note": None}]
    # A NOT NULL column set to null is the database's refusal, and nothing changes.
    response = run(shop, "edit_product", id=1, name=None)
    assert response.status_code == 400
    assert response.json()["code"] == "constraint-violation"
    assert response.json()["extensions"]["kind"] == "not-null"


def test_update_and_delete_of_no_row_roll_back(shop: TestClient, source_url: str) -> None:
    assert define(shop, "edit_product", "products", "update").status_code == 200
    assert define(shop, "remove_product", "products", "delete").status_code == 200
    for action, input in (("edit_product", {"id": 99, "name": "x"}), ("remove_product", {"id": 99})):
        response = run(shop, action, **input)
        assert response.status_code == 400, response.text
        assert response.json() == {
            "path": "$.args.input",
            "error": 'no row of table "products" has id = 99',
            "code": "not-exists",
        }
    response = run(shop, "edit_product", id=1)
    assert response.status_code == 400
    assert response.json()["code"] == "validation-failed"
    response = run(shop, "remove_product")
    assert response.json()["error"] == 'missing required argument "id" of type "Int!"'
    assert len(sql(source_url, "SELECT id FROM products")) == 2


def test_delete_returns_the_row_it_removed(shop: TestClient, source_url: str) -> None:
    assert define(shop, "remove_product", "products", "delete").status_code == 200
    response = run(shop, "remove_product", id=2)
    assert response.json() == {"output": {"id": 2, "sku": "B2", "name": "Bell", "price": 3, "note": None}}
    assert run(shop, "remove_product", id=2).json()["code"] == "not-exists"
    assert [row["sku"] for row in sql(source_url, "SELECT sku FROM products")] == ["A1"]


def test_composite_primary_keys(shop: TestClient, source_url: str) -> None:
    assert define(shop, "set_stock", "stock", "update").status_code == 200
    assert define(shop, "drop_stock", "stock", "delete").status_code == 200
    assert define(shop, "add_stock", "stock", "insert").status_code == 200
    response = run(shop, "set_stock", shop="south", sku="A1", qty=1)
    assert response.json() == {"output": {"shop": "south", "sku": "A1", "qty": 1}}
    assert sql(source_url, "SELECT shop, qty FROM stock ORDER BY shop") == [
        {"shop": "north", "qty": 5},
        {"shop": "south", "qty": 1},
    ]
    response = run(shop, "set_stock", sku="A1", qty=1)  # half a key
    assert response.json()["error"] == 'missing required argument "shop" of type "String!"'
    assert run(shop, "add_stock", shop="east", sku="A1", qty=2).status_code == 200
    response = run(shop, "add_stock", shop="east", sku="A1", qty=2)
    assert response.json()["code"] == "constraint-violation"
    assert run(shop, "drop_stock", shop="north", sku="A1").json()["output"]["qty"] == 5
    assert len(sql(source_url, "SELECT shop FROM stock")) == 2


def test_declared_arguments_are_the_contract(shop: TestClient) -> None:
    arguments = [{"name": "id", "type": "Int!"}, {"name": "note", "type": "String!"}]
    assert define(shop, "annotate", "products", "update", arguments=arguments).status_code == 200
    response = run(shop, "annotate", id=1, price=1)
    assert response.json()["error"] == 'unexpected argument "price" for action "annotate"'
    assert run(shop, "annotate", id=1, note="ok").json()["output"]["note"] == "ok"
    response = define(shop, "bad", "products", "update", arguments=[{"name": "colour", "type": "String"}])
    assert response.status_code == 400
    assert response.json()["error"] == 'argument "colour" is not a column of table "products"'


def test_tables_are_checked_when_the_action_is_defined(shop: TestClient) -> None:
    response = define(shop, "a", "no_such_table", "insert")
    assert response.status_code == 400
    assert response.json() == {
        "path": "$.args.definition.table",
        "error": 'table "no_such_table" does not exist in source "shop"',
        "code": "invalid-configuration",
    }
    response = define(shop, "b", "log", "delete")
    assert response.status_code == 400
    assert "has no primary key" in response.json()["error"]
    assert define(shop, "c", "log", "insert").status_code == 200
    response = define(shop, "d", "products", "upsert")
    assert response.json()["code"] == "parse-failed"


def test_values_are_checked_against_column_types(shop: TestClient) -> None:
    assert define(shop, "new_order", "orders", "insert").status_code == 200
    response = run(shop, "new_order", product_id=1, placed_on="tomorrow")
    assert response.status_code == 400
    assert response.json() == {
        "path": "$.args.input.placed_on",
        "error": "expected a date (YYYY-MM-DD), got 'tomorrow'",
        "code": "validation-failed",
    }
    response = run(shop, "new_order", product_id="1; DROP TABLE orders")
    assert response.json()["code"] == "validation-failed"
    response = run(shop, "new_order", product_id=42)  # no such product
    assert response.json()["code"] == "constraint-violation"
    assert response.json()["extensions"]["kind"] == "foreign-key"


def test_injection_through_table_actions_is_only_data(shop: TestClient, source_url: str) -> None:
    assert define(shop, "edit_product", "products", "update").status_code == 200
    evil = "x'; DROP TABLE products; --"
    assert run(shop, "edit_product", id=1, name=evil).status_code == 200
    assert sql(source_url, "SELECT name FROM products WHERE id = 1") == [{"name": evil}]
    assert len(sql(source_url, "SELECT id FROM products")) == 2


def test_dry_run_shows_the_row_and_changes_nothing(shop: TestClient, source_url: str) -> None:
    assert define(shop, "remove_product", "products", "delete").status_code == 200
    response = query(shop, "run_action", {"name": "remove_product", "input": {"id": 1}, "dry_run": True})
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["kind"] == "table" and body["dry_run"] is True
    assert body["statement"].startswith("DELETE FROM products WHERE products.id = ")
    assert body["parameters"] == {"id": 1}
    assert body["rows"] == [{"id": 1, "sku": "A1", "name": "Anvil", "price": 10.5, "note": None}]
    assert len(sql(source_url, "SELECT id FROM products")) == 2


def test_a_table_that_goes_away_is_reported(shop: TestClient, source_url: str) -> None:
    assert define(shop, "add_log", "log", "insert").status_code == 200
    assert query(shop, "get_inconsistent_metadata").json() == {"is_consistent": True, "inconsistent_objects": []}
    sql(source_url, "DROP TABLE log")
    report = query(shop, "reload_metadata").json()
    assert report["is_consistent"] is False
    assert [(entry["name"], entry["reason"]) for entry in report["inconsistent_objects"]] == [
        ("action add_log", 'Inconsistent object: table "log" does not exist in source "shop"')
    ]
    response = run(shop, "add_log", line="x")
    assert response.status_code == 400
    assert response.json()["code"] == "not-exists"


def test_a_table_in_a_named_schema(shop: TestClient, database_url: str) -> None:
    schema = "main" if database_url.startswith("sqlite") else "public"
    assert define(shop, "add_stock", "stock", "insert", schema=schema).status_code == 200
    assert run(shop, "add_stock", shop="west", sku="B2", qty=4).json() == {
        "output": {"shop": "west", "sku": "B2", "qty": 4}
    }
    response = define(shop, "elsewhere", "stock", "insert", schema="nowhere")
    assert response.status_code == 400
    assert response.json()["code"] == "invalid-configuration"
