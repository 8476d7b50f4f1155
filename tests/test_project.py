"""Hasura CLI project directories (metadata/project.py) with Switchboard's own parts: data
sources, public links, and sql/table actions with or without an output type. Round trips keep the
document exactly, key order included."""

from __future__ import annotations

import copy
import json
import sqlite3
from pathlib import Path
from typing import Any

import pytest
import yaml
from starlette.testclient import TestClient

from metadata.project import ProjectError, read_project, write_project
from tests.conftest import query

# As export_metadata writes it: its key orders, actions sorted by name, defaults omitted.
DOCUMENT: dict[str, Any] = {
    "version": 3,
    "sources": [],
    "actions": [
        {
            "name": "new_order",
            "definition": {
                "table": {"source": "shop", "table": "orders", "operation": "insert"},
                "type": "mutation",
                "kind": "synchronous",
            },
            "permissions": [{"role": "clerk"}],
        },
        {
            "name": "price_of",
            "definition": {
                "sql": {"source": "shop", "statement": "SELECT price FROM products WHERE id = {{id}}"},
                "output_type": "Float",
                "arguments": [{"name": "id", "type": "Int!"}],
                "type": "query",
            },
            "comment": "a price",
        },
        {
            "name": "restock",
            "definition": {
                "handler": "{{BASE_URL}}/restock",
                "output_type": "Stock!",
                "headers": [{"name": "X-Key", "value_from_env": "STOCK_KEY"}],
                "arguments": [{"name": "id", "type": "Int!", "description": "the product"}],
                "type": "mutation",
                "kind": "asynchronous",
                "timeout": 5,
            },
        },
        {
            "name": "set_price",
            "definition": {
                "sql": {
                    "source": "shop",
                    "statements": [
                        "UPDATE products SET price = {{price}} WHERE id = {{id}}",
                        "INSERT INTO audit (what) VALUES ('price')",
                    ],
                },
                "arguments": [{"name": "price", "type": "Float!"}, {"name": "id", "type": "Int!"}],
                "type": "mutation",
                "kind": "synchronous",
            },
            "comment": "changes a price",
            "permissions": [{"role": "manager", "comment": "managers only"}],
        },
    ],
    "custom_types": {
        "objects": [
            {
                "name": "Stock",
                "fields": [{"name": "count", "type": "Int!", "description": "on hand"}],
                "description": "Stock of a product.",
            }
        ],
    },
    "data_sources": [
        {"name": "shop", "url": "sqlite:///shop.db"},
        {"name": "warehouse", "url_from_env": "WAREHOUSE_DB"},
    ],
    "public_links": [{"action": "set_price", "uuid": "9b2f8a52-3c1d-4f5e-8a7b-6c9d0e1f2a3b"}],
}


def exact(document: Any) -> str:
    """Equality that also sees key order."""
    return json.dumps(document, ensure_ascii=False)


def files(directory: Path) -> dict[str, bytes]:
    return {str(p.relative_to(directory)): p.read_bytes() for p in sorted(directory.rglob("*")) if p.is_file()}


def test_round_trip_keeps_the_document_and_its_key_order(tmp_path: Path) -> None:
    written = write_project(DOCUMENT, tmp_path / "out")
    assert written == sorted(
        ["version.yaml", "actions.yaml", "actions.graphql", "data_sources.yaml", "public_links.yaml"]
    )
    read = read_project(tmp_path / "out")
    assert read == DOCUMENT
    assert exact(read) == exact(DOCUMENT)
    # Writing what was read gives the same bytes.
    write_project(read, tmp_path / "again")
    assert files(tmp_path / "again") == files(tmp_path / "out")


def test_layout_of_actions_with_and_without_output_type(tmp_path: Path) -> None:
    write_project(DOCUMENT, tmp_path)
    listed = {a["name"]: a for a in yaml.safe_load((tmp_path / "actions.yaml").read_text())["actions"]}
    # Without an output type, the whole definition stays in actions.yaml...
    assert listed["set_price"]["definition"]["arguments"] == DOCUMENT["actions"][3]["definition"]["arguments"]
    assert listed["set_price"]["definition"]["type"] == "mutation"
    assert listed["new_order"]["definition"] == {
        "kind": "synchronous",
        "table": {"source": "shop", "table": "orders", "operation": "insert"},
        "type": "mutation",
    }
    # ... with one (sql or webhook), arguments, output type and type are in actions.graphql.
    for name in ("price_of", "restock"):
        assert not {"arguments", "output_type", "type"} & set(listed[name]["definition"])
    sdl = (tmp_path / "actions.graphql").read_text()
    assert "set_price" not in sdl and "new_order" not in sdl
    assert "price_of(id: Int!): Float" in sdl.replace("\n", "").replace("  ", "")
    assert "type Mutation {" in sdl and "restock" in sdl
    assert yaml.safe_load((tmp_path / "data_sources.yaml").read_text()) == DOCUMENT["data_sources"]
    assert yaml.safe_load((tmp_path / "public_links.yaml").read_text()) == DOCUMENT["public_links"]


def test_only_actions_without_output_type_leave_no_sdl_root(tmp_path: Path) -> None:
    document = {"version": 3, "sources": [], "actions": [DOCUMENT["actions"][0], DOCUMENT["actions"][3]]}
    write_project(document, tmp_path)
    assert (tmp_path / "actions.graphql").read_text() == ""
    assert exact(read_project(tmp_path)) == exact(document)


def test_files_of_missing_sections_are_removed(tmp_path: Path) -> None:
    write_project(DOCUMENT, tmp_path)
    smaller = {k: v for k, v in DOCUMENT.items() if k not in ("data_sources", "public_links")}
    write_project(smaller, tmp_path)
    assert not (tmp_path / "data_sources.yaml").exists()
    assert not (tmp_path / "public_links.yaml").exists()
    assert exact(read_project(tmp_path)) == exact(smaller)
    # Empty sections are no sections.
    write_project({**smaller, "data_sources": [], "public_links": []}, tmp_path)
    assert not (tmp_path / "data_sources.yaml").exists()
    assert exact(read_project(tmp_path)) == exact(smaller)


def test_keys_are_put_in_export_order_whatever_the_files_order(tmp_path: Path) -> None:
    write_project(DOCUMENT, tmp_path)
    listed = yaml.safe_load((tmp_path / "actions.yaml").read_text())
    for entry in listed["actions"]:
        entry["definition"] = dict(reversed(entry["definition"].items()))
        for key in ("permissions", "comment"):  # comment after permissions
            if key in entry:
                entry[key] = entry.pop(key)
    (tmp_path / "actions.yaml").write_text(yaml.safe_dump(listed, sort_keys=False))
    assert exact(read_project(tmp_path)) == exact(DOCUMENT)


def test_sql_entry_with_output_type_needs_its_sdl_field(tmp_path: Path) -> None:
    write_project(DOCUMENT, tmp_path)
    listed = yaml.safe_load((tmp_path / "actions.yaml").read_text())
    for entry in listed["actions"]:
        if entry["name"] == "set_price":
            entry["definition"]["output_type"] = "Boolean"
    (tmp_path / "actions.yaml").write_text(yaml.safe_dump(listed, sort_keys=False))
    with pytest.raises(ProjectError, match=r'^actions\.yaml: action "set_price" has an output_type but is not '):
        read_project(tmp_path)


def test_webhook_entry_without_sdl_field_is_refused(tmp_path: Path) -> None:
    (tmp_path / "actions.yaml").write_text(
        "actions:\n- name: ping\n  definition:\n    handler: http://h\n    type: query\ncustom_types: {}\n"
    )
    with pytest.raises(ProjectError, match=r'^actions\.yaml: action "ping" is not declared in actions\.graphql$'):
        read_project(tmp_path)
    document = {"version": 3, "sources": [], "actions": [{"name": "ping", "definition": {"handler": "http://h"}}]}
    with pytest.raises(ProjectError, match=r'^action "ping": a webhook action needs an output_type$'):
        write_project(document, tmp_path / "out")


def test_sdl_keys_in_actions_yaml_are_ignored_as_the_hasura_cli_ignores_them(tmp_path: Path) -> None:
    """The Hasura CLI builds an action's type, arguments and output type from actions.graphql
    only (its ActionConfig.Build never copies them from actions.yaml), and never refuses them."""
    write_project(DOCUMENT, tmp_path)
    listed = yaml.safe_load((tmp_path / "actions.yaml").read_text())
    for entry in listed["actions"]:
        if entry["name"] == "price_of":
            entry["definition"] |= {"arguments": [{"name": "x", "type": "Int!"}], "output_type": "Nope", "type": "bad"}
            entry["definition"]["kind"] = ""
    (tmp_path / "actions.yaml").write_text(yaml.safe_dump(listed, sort_keys=False))
    [read] = [a for a in read_project(tmp_path)["actions"] if a["name"] == "price_of"]
    [want] = [a for a in DOCUMENT["actions"] if a["name"] == "price_of"]
    for key in ("arguments", "output_type", "type"):
        assert read["definition"].get(key) == want["definition"].get(key), key
    assert read["definition"]["kind"] == ""


def test_the_comment_comes_from_actions_yaml_only(tmp_path: Path) -> None:
    """As the Hasura CLI: actions.yaml's comment (or none), never the SDL field's description."""
    (tmp_path / "actions.graphql").write_text('type Query {\n  "described in SDL"\n  ping: String\n}\n')
    (tmp_path / "actions.yaml").write_text(
        "actions:\n- name: ping\n  definition:\n    kind: ''\n    handler: http://h\n"
    )
    [action] = read_project(tmp_path)["actions"]
    assert "comment" not in action
    (tmp_path / "actions.yaml").write_text(
        "actions:\n- name: ping\n  definition:\n    handler: http://h\n  comment: from yaml\n"
    )
    assert read_project(tmp_path)["actions"][0]["comment"] == "from yaml"


def test_an_action_listed_twice_is_refused(tmp_path: Path) -> None:
    write_project(DOCUMENT, tmp_path)
    listed = yaml.safe_load((tmp_path / "actions.yaml").read_text())
    listed["actions"].append(copy.deepcopy(listed["actions"][0]))
    (tmp_path / "actions.yaml").write_text(yaml.safe_dump(listed, sort_keys=False))
    with pytest.raises(ProjectError, match=r'^actions\.yaml: action "new_order" is listed twice$'):
        read_project(tmp_path)


# --- through the server --------------------------------------------------------------------------


def ok(client: TestClient, type_: str, args: Any = None, **envelope: Any) -> Any:
    response = query(client, type_, args, **envelope)
    assert response.status_code == 200, response.text
    return response


def test_export_write_read_replace_export_is_identical(client: TestClient, tmp_path: Path) -> None:
    with sqlite3.connect(tmp_path / "shop.db") as shop:  # a table action's table must exist
        shop.execute("CREATE TABLE orders (id INTEGER PRIMARY KEY, total REAL)")
    shop.close()
    ok(client, "add_source", {"name": "shop", "url": f"sqlite:///{tmp_path / 'shop.db'}"})
    ok(client, "add_source", {"name": "lazy", "url": f"sqlite:///{tmp_path / 'x.db'}"})  # unused: never connected
    ok(client, "add_source", {"name": "vault", "url_from_env": "VAULT_DB"})
    ok(
        client,
        "set_custom_types",
        {
            "input_objects": [{"name": "Item", "fields": [{"name": "sku", "type": "String!"}], "description": "one"}],
            "objects": [
                {
                    "name": "Stock",
                    "fields": [{"name": "count", "type": "Int!", "description": "on hand"}],
                    "description": "Stock of a product.",
                }
            ],
            "scalars": [{"name": "Date", "description": "ISO 8601"}],
            "enums": [{"name": "Size", "values": [{"value": "S", "description": "small"}], "description": "sizes"}],
        },
    )
    sql = "UPDATE products SET price = {{price}} WHERE id = {{id}}"
    args = [{"name": "price", "type": "Float!"}, {"name": "id", "type": "Int!"}]
    for action in (
        {"name": "set_price", "definition": {"sql": {"source": "lazy", "statement": sql}, "arguments": args}},
        {"name": "new_order", "definition": {"table": {"source": "shop", "table": "orders", "operation": "insert"}}},
        next(a for a in DOCUMENT["actions"] if a["name"] == "price_of"),
        {
            "name": "restock",
            "definition": {
                "handler": "http://localhost:1/restock",
                "output_type": "Stock",
                "arguments": [{"name": "items", "type": "[Item!]!", "description": "what"}],
                "timeout": 5,
            },
        },
    ):
        ok(client, "create_action", action)
    ok(client, "create_action_permission", {"action": "set_price", "role": "manager", "comment": "managers"})
    ok(client, "create_action_public_link", {"action": "set_price"})

    exported = ok(client, "export_metadata", {}).content
    document = json.loads(exported)
    assert [a["name"] for a in document["actions"]] == ["new_order", "price_of", "restock", "set_price"]
    assert "output_type" not in document["actions"][3]["definition"]
    assert list(document)[-2:] == ["data_sources", "public_links"]

    write_project(document, tmp_path)
    assert "set_price" not in (tmp_path / "actions.graphql").read_text()
    read = read_project(tmp_path)
    assert exact(read) == exact(document)

    version = ok(client, "export_metadata", {}, version=2).json()["resource_version"]
    ok(client, "replace_metadata", read)
    again = ok(client, "export_metadata", {}).content
    assert again == exported
    # Nothing changed, so nothing was stored.
    assert ok(client, "export_metadata", {}, version=2).json()["resource_version"] == version
