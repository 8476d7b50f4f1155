"""Whole Hasura documents: what is applied comes back out the same, byte for byte, in Hasura's
key order, including the sections Switchboard keeps without serving them."""

from __future__ import annotations

from typing import Any

import msgspec
from starlette.testclient import TestClient

from tests.conftest import query

# Shaped like a real `hasura metadata export` (key order included).
HASURA_V3: dict[str, Any] = {
    "version": 3,
    "sources": [
        {
            "name": "default",
            "kind": "postgres",
            "tables": [{"table": {"schema": "public", "name": "users"}}],
            "configuration": {"connection_info": {"database_url": {"from_env": "PG_DATABASE_URL"}}},
        }
    ],
    "remote_schemas": [{"name": "legacy", "definition": {"url": "http://legacy/graphql", "timeout_seconds": 60}}],
    "actions": [
        {
            "name": "login",
            "definition": {
                "handler": "{{ACTION_BASE_URL}}/login",
                "output_type": "LoginOutput",
                "forward_client_headers": True,
                "headers": [{"name": "x-secret", "value_from_env": "ACTION_SECRET"}],
                "arguments": [
                    {"name": "email", "type": "String!"},
                    {"name": "password", "type": "String!", "description": "plain text"},
                ],
                "type": "mutation",
                "kind": "synchronous",
                "timeout": 10,
            },
            "comment": "log in",
            "permissions": [{"role": "anonymous"}, {"role": "user", "comment": "again"}],
        },
        {
            "name": "me",
            "definition": {
                "handler": "{{ACTION_BASE_URL}}/me",
                "output_type": "[User!]!",
                "arguments": [{"name": "at", "type": "timestamptz"}, {"name": "id", "type": "uuid!"}],
                "type": "query",
            },
        },
    ],
    "custom_types": {
        "input_objects": [{"name": "Filter", "fields": [{"name": "role", "type": "Role"}], "description": "d"}],
        "objects": [
            {"name": "LoginOutput", "fields": [{"name": "token", "type": "String!"}, {"name": "user", "type": "User"}]},
            {
                "name": "User",
                "fields": [{"name": "id", "type": "uuid!", "description": "key"}],
                "relationships": [
                    {
                        "name": "profile",
                        "type": "object",
                        "remote_table": {"schema": "public", "name": "users"},
                        "field_mapping": {"id": "id"},
                    }
                ],
            },
        ],
        "scalars": [{"name": "Date", "description": "ISO date"}],
        "enums": [{"name": "Role", "values": [{"value": "ADMIN", "description": "all"}, {"value": "USER"}]}],
    },
    "cron_triggers": [{"name": "nightly", "webhook": "http://x", "schedule": "0 0 * * *", "include_in_metadata": True}],
}


def test_a_hasura_document_round_trips_byte_for_byte(client: TestClient) -> None:
    applied = query(client, "replace_metadata", {"metadata": HASURA_V3}, version=2)
    assert applied.status_code == 200, applied.text
    body = applied.json()
    assert body["resource_version"] == 2
    # Unserved sections are reported by name, never dropped, and do not block.
    assert [(o["type"], o["name"]) for o in body["inconsistent_objects"]] == [
        ("cron_trigger", "cron_trigger nightly"),
        ("remote_schema", "remote_schema legacy"),
    ]
    # The source reads its URL from PG_DATABASE_URL, as in Hasura; unset here, it is reported
    # when the databases are tried.
    live = query(client, "get_inconsistent_metadata").json()["inconsistent_objects"]
    assert [(o["name"], o["reason"]) for o in live if o["type"] == "source"] == [
        (
            "source default",
            'Inconsistent object: the environment variable "PG_DATABASE_URL" of source "default" is not set',
        )
    ]
    exported = query(client, "export_metadata")
    assert exported.content == msgspec.json.encode(HASURA_V3)
    # Applying the export again changes nothing and creates no version.
    again = query(client, "replace_metadata", exported.json())
    assert again.json() == {"message": "success", "resource_version": 2}


def test_a_v2_document_keeps_its_shape(client: TestClient) -> None:
    v2 = {
        "version": 2,
        "tables": [{"table": {"schema": "public", "name": "users"}}],
        "actions": [{"name": "ping", "definition": {"handler": "http://x", "output_type": "String", "type": "query"}}],
    }
    assert query(client, "replace_metadata", v2).status_code == 200
    assert query(client, "export_metadata").json() == v2


def test_an_empty_store_exports_an_empty_v3_document(client: TestClient) -> None:
    assert query(client, "export_metadata").json() == {"version": 3, "sources": []}
    assert query(client, "replace_metadata", {"version": 3, "sources": []}).json()["resource_version"] == 1
