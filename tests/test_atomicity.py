"""Every refused or failed request leaves the store exactly as it was, rows and all."""

from __future__ import annotations

import asyncio
from typing import Any

import sqlalchemy as sa
from starlette.testclient import TestClient

from metadata import tables
from metadata.store import Store
from tests.conftest import query

GOOD_TYPES = {
    "objects": [{"name": "UserOutput", "fields": [{"name": "id", "type": "Int!"}]}],
    "input_objects": [{"name": "UserInput", "fields": [{"name": "email", "type": "String!"}]}],
    "enums": [{"name": "Color", "values": [{"value": "RED"}, {"value": "BLUE"}]}],
}
ACTION: dict[str, Any] = {
    "name": "create_user",
    "definition": {
        "handler": "http://localhost:3000",
        "output_type": "UserOutput",
        "arguments": [{"name": "user", "type": "UserInput!"}, {"name": "color", "type": "Color"}],
    },
}

REFUSED: list[tuple[str, Any]] = [
    ("create_action", ACTION),  # duplicate
    ("create_action", {**ACTION, "name": "x", "definition": {**ACTION["definition"], "output_type": "Nope"}}),
    ("create_action", {"name": "y", "definition": {"handler": "h", "output_type": "UserOutput", "timeout": "s"}}),
    ("update_action", {**ACTION, "name": "missing"}),
    ("drop_action", {"name": "missing"}),
    ("create_action_permission", {"action": "create_user", "role": "user"}),  # duplicate
    ("create_action_permission", {"action": "missing", "role": "user"}),
    ("drop_action_permission", {"action": "create_user", "role": "nobody"}),
    ("set_custom_types", {"objects": GOOD_TYPES["objects"]}),  # would break create_user
    ("set_custom_types", {"enums": [{"name": "E", "values": [{"value": "A"}, {"value": "A"}]}]}),
    ("replace_metadata", {"version": 3, "actions": [{**ACTION, "definition": {"handler": "h", "output_type": "X"}}]}),
    ("replace_metadata", {"metadata": {"version": 3, "actions": [{"name": "bad name"}]}}),
    ("rollback_metadata", {"to_version": 999}),
    # A bulk whose last envelope fails: its first two would have applied on their own.
    (
        "bulk",
        [
            {"type": "drop_action_permission", "args": {"action": "create_user", "role": "user"}},
            {"type": "set_custom_types", "args": {}},
            {"type": "drop_action", "args": {"name": "missing"}},
        ],
    ),
    ("bulk", [{"type": "clear_metadata", "args": {}}, {"type": "nope", "args": {}}]),
    ("bulk", [{"type": "clear_metadata", "args": {}}, {"type": "create_action", "args": {"name": 1}}]),
]


def dump_tables(url: str) -> dict[str, list[Any]]:
    async def run() -> dict[str, list[Any]]:
        store = Store(url)
        try:
            async with store.engine.connect() as conn:
                return {
                    table.name: sorted(tuple(row) for row in (await conn.execute(sa.select(table))).all())
                    for table in tables.schema.sorted_tables
                }
        finally:
            await store.close()

    return asyncio.run(run())


def test_refused_requests_change_nothing(client: TestClient, database_url: str) -> None:
    assert query(client, "set_custom_types", GOOD_TYPES).status_code == 200
    assert query(client, "create_action", ACTION).status_code == 200
    assert query(client, "create_action_permission", {"action": "create_user", "role": "user"}).status_code == 200
    before = dump_tables(database_url)
    exported = query(client, "export_metadata", version=2).json()
    for type_, args in REFUSED:
        response = query(client, type_, args)
        assert response.status_code == 400, (type_, response.text)
        assert set(response.json()) >= {"path", "error", "code"}
        assert dump_tables(database_url) == before, type_
        assert query(client, "export_metadata", version=2).json() == exported, type_
    # A non-admin's modifying request is refused before anything runs.
    response = query(client, "clear_metadata", headers={"X-Hasura-Role": "user"})
    assert response.status_code == 400
    assert dump_tables(database_url) == before


def test_no_op_creates_no_version(client: TestClient) -> None:
    assert query(client, "set_custom_types", GOOD_TYPES).json()["resource_version"] == 2
    assert query(client, "set_custom_types", GOOD_TYPES).json()["resource_version"] == 2
    document = query(client, "export_metadata").json()
    assert query(client, "replace_metadata", document).json()["resource_version"] == 2
    assert len(query(client, "get_metadata_history").json()["versions"]) == 2
