"""Action relationships to tables, with a real GraphQL client (gql) against a real server, on a
PostgreSQL and a SQLite source: object and array relationships, their arguments, select
permissions with session variables, one query per relationship per request, async runs, and
inconsistencies reported rather than refused."""

from __future__ import annotations

import asyncio
import subprocess
import sys
from pathlib import Path
from typing import Any

import httpx2 as httpx
import pytest
import sqlalchemy as sa
from gql import Client, GraphQLRequest
from gql.transport.aiohttp import AIOHTTPTransport
from graphql import GraphQLError

from tests.conftest import Served, ServeFactory
from tests.shop import sql
from tests.webhook import Webhook

ADMIN = {"X-Hasura-Admin-Secret": "s3cret"}
USER = {**ADMIN, "X-Hasura-Role": "user", "X-Hasura-User-Id": "1"}
TYPES = {
    "objects": [
        {
            "name": "UserId",
            "fields": [{"name": "id", "type": "Int!"}],
            "relationships": [
                {"name": "user", "type": "object", "remote_table": "user", "field_mapping": {"id": "id"}},
                {"name": "articles", "type": "array", "remote_table": "article", "field_mapping": {"id": "user_id"}},
            ],
        },
        {
            "name": "Message",
            "fields": [{"name": "content", "type": "String!"}, {"name": "user_name", "type": "String!"}],
            "relationships": [
                {
                    "name": "user",
                    "type": "object",
                    "remote_table": {"schema": "public", "name": "user"},
                    "field_mapping": {"user_name": "name"},
                },
            ],
        },
    ]
}


def tables(url: str) -> None:
    postgres = url.startswith("postgresql")
    serial = "SERIAL PRIMARY KEY" if postgres else "INTEGER PRIMARY KEY"
    boolean = "BOOLEAN NOT NULL DEFAULT false" if postgres else "BOOLEAN NOT NULL DEFAULT 0"
    for statement in [
        f'CREATE TABLE "user" (id {serial}, name TEXT NOT NULL, email TEXT NOT NULL, is_admin {boolean})',
        f'CREATE TABLE article (id {serial}, name TEXT NOT NULL, user_id INTEGER REFERENCES "user" (id))',
        """INSERT INTO "user" (name, email) VALUES ('Clarke', 'clarke@gmail.com'), ('Bellamy', 'b@x.org')""",
        "INSERT INTO article (name, user_id) VALUES ('foo', 1), ('bar', 1), ('bar', 1), ('baz', 2)",
    ]:
        sql(url, statement)


def meta(served: Served, type_: str, args: Any) -> Any:
    response = httpx.post(f"{served.url}/v1/query", json={"type": type_, "args": args}, headers=ADMIN, timeout=30)
    assert response.status_code == 200, response.text
    return response.json()


@pytest.fixture
def served(serve: ServeFactory, source_url: str, webhook: Webhook) -> Served:
    tables(source_url)
    served = serve(admin_secret="s3cret")
    one = webhook.respond("/user", body={"id": 1})
    many = webhook.respond("/users", body=[{"id": 1}, {"id": 2}, {"id": 1}, {"id": 3}])
    messages = webhook.respond(
        "/messages", body=[{"content": "hi", "user_name": "Clarke"}, {"content": "yo", "user_name": "Nobody"}]
    )
    later = webhook.respond("/later", body={"id": 2}, delay=0.2)
    steps: list[dict[str, Any]] = [
        {"type": "add_source", "args": {"name": "default", "url": source_url}},
        {"type": "pg_track_table", "args": {"table": {"schema": "public", "name": "user"}}},
        {"type": "track_table", "args": {"schema": "public", "name": "article"}},
        {"type": "set_custom_types", "args": TYPES},
        {
            "type": "create_action",
            "args": {"name": "get_user", "definition": {"type": "query", "output_type": "UserId!", "handler": one}},
        },
        {
            "type": "create_action",
            "args": {"name": "get_users", "definition": {"type": "query", "output_type": "[UserId]!", "handler": many}},
        },
        {
            "type": "create_action",
            "args": {
                "name": "get_messages",
                "definition": {"type": "query", "output_type": "[Message]", "handler": messages},
            },
        },
        {
            "type": "create_action",
            "args": {
                "name": "later",
                "definition": {"output_type": "UserId", "handler": later, "kind": "asynchronous"},
            },
        },
        {
            "type": "pg_create_select_permission",
            "args": {
                "table": "user",
                "role": "user",
                "permission": {"columns": ["id", "name", "email"], "filter": {"id": "X-Hasura-User-Id"}},
            },
        },
        *(
            {"type": "create_action_permission", "args": {"action": a, "role": "user"}}
            for a in ("get_user", "get_users", "later")
        ),
    ]
    meta(served, "bulk", steps)
    return served


async def _run(served: Served, query: str, headers: dict[str, str] = ADMIN, variables: Any = None) -> Any:
    transport = AIOHTTPTransport(url=served.graphql, headers=headers)
    async with Client(transport=transport, fetch_schema_from_transport=True) as session:
        return await session.execute(GraphQLRequest(query, variable_values=variables))


def run(served: Served, query: str, headers: dict[str, str] = ADMIN, variables: Any = None) -> Any:
    return asyncio.run(_run(served, query, headers, variables))


def test_object_and_array_relationships(served: Served) -> None:
    """Hasura's create_user_relationship.yaml: the related row, the related rows, and the array's
    limit and distinct_on (its aggregates are not served)."""
    answer = run(served, "{ get_user { __typename id user { __typename name email is_admin } articles { name } } }")
    assert answer == {
        "get_user": {
            "__typename": "UserId",
            "id": 1,
            "user": {"__typename": "user", "name": "Clarke", "email": "clarke@gmail.com", "is_admin": False},
            "articles": [{"name": "foo"}, {"name": "bar"}, {"name": "bar"}],
        }
    }
    limited = run(served, "{ get_user { articles(limit: 1, order_by: {id: asc}) { name } } }")
    assert limited == {"get_user": {"articles": [{"name": "foo"}]}}
    distinct = run(served, "{ get_user { articles(distinct_on: name) { name } } }")
    assert distinct == {"get_user": {"articles": [{"name": "bar"}, {"name": "foo"}]}}
    where = run(served, '{ get_user { articles(where: {name: {_neq: "foo"}}, offset: 1) { id name } } }')
    assert where == {"get_user": {"articles": [{"id": 3, "name": "bar"}]}}
    # A relationship on a field that is not the table's key (relationships/basic: Message.user_name).
    messages = run(served, "{ get_messages { content user { id } } }")
    assert messages == {"get_messages": [{"content": "hi", "user": {"id": 1}}, {"content": "yo", "user": None}]}


def test_one_query_per_relationship_whatever_the_answer(served: Served, source_url: str) -> None:
    """A list answer of four objects: one SELECT for `user` and one for `articles`."""
    engine = served.server.config.app.state.runtime.engines  # the running app's data source pools
    statements: list[str] = []

    def count(conn: Any, cursor: Any, statement: str, *rest: Any) -> None:
        if statement.lstrip().upper().startswith("SELECT"):
            statements.append(statement)

    run(served, "{ __typename }")  # the pools are made on first use
    run(served, "{ get_users { id user { name } } }")
    [pool] = engine._engines.values()
    sa.event.listen(pool.sync_engine, "before_cursor_execute", count)
    try:
        answer = run(served, "{ get_users { id user { name } articles { name } } }")
    finally:
        sa.event.remove(pool.sync_engine, "before_cursor_execute", count)
    assert [u["user"] for u in answer["get_users"]] == [
        {"name": "Clarke"},
        {"name": "Bellamy"},
        {"name": "Clarke"},
        None,
    ]
    assert [len(u["articles"]) for u in answer["get_users"]] == [3, 1, 3, 0]
    assert len(statements) == 2, statements


def test_select_permissions_decide_what_a_role_sees(served: Served) -> None:
    """query_action_relationship_with_permission.yaml: the permitted columns, the rows its filter
    lets through (X-Hasura-User-Id), and no field for a table the role may not read."""
    answer = run(served, "{ get_users { id user { id name email } } }", USER)
    assert [u["user"] for u in answer["get_users"]] == [
        {"id": 1, "name": "Clarke", "email": "clarke@gmail.com"},
        None,
        {"id": 1, "name": "Clarke", "email": "clarke@gmail.com"},
        None,
    ]
    for query, field, type_ in [
        ("{ get_user { user { is_admin } } }", "is_admin", "user"),
        ("{ get_user { articles { name } } }", "articles", "UserId"),
    ]:
        # The client, holding the role's schema, refuses it before sending; so does the server.
        with pytest.raises(GraphQLError, match=f"Cannot query field '{field}' on type '{type_}'"):
            run(served, query, USER)
        refused = httpx.post(served.graphql, json={"query": query}, headers=USER, timeout=30).json()
        assert refused["errors"][0]["message"] == f"field '{field}' not found in type: '{type_}'"
    other = run(served, "{ get_user { user { name } } }", {**USER, "X-Hasura-User-Id": "2"})
    assert other == {"get_user": {"user": None}}


def test_an_async_runs_output_relationships(served: Served) -> None:
    started = run(served, "mutation { later }", USER)
    query = "query ($id: uuid!) { later(id: $id) { output { id user { name } } } }"
    for _ in range(100):
        answer = run(served, query, USER, {"id": started["later"]})
        if answer["later"]["output"] is not None:
            break
        asyncio.run(asyncio.sleep(0.1))
    # The run is user 1's (X-Hasura-User-Id 1); its output points at user 2, whom user 1 may not read.
    assert answer == {"later": {"output": {"id": 2, "user": None}}}
    admin = run(served, query, ADMIN, {"id": started["later"]})
    assert admin == {"later": {"output": {"id": 2, "user": {"name": "Bellamy"}}}}


def test_inconsistent_relationships_are_reported_not_refused(served: Served) -> None:
    broken = {
        "objects": [
            *TYPES["objects"],
            {
                "name": "Broken",
                "fields": [{"name": "id", "type": "Int!"}],
                "relationships": [
                    {"name": "gone", "type": "object", "remote_table": "missing", "field_mapping": {"id": "id"}},
                    {"name": "column", "type": "array", "remote_table": "article", "field_mapping": {"id": "owner"}},
                ],
            },
            {
                # Hasura refuses one object's relationships into two sources; another object may.
                "name": "Elsewhere",
                "fields": [{"name": "id", "type": "Int!"}],
                "relationships": [
                    {
                        "name": "elsewhere",
                        "type": "object",
                        "source": "nowhere",
                        "remote_table": "user",
                        "field_mapping": {"id": "id"},
                    },
                ],
            },
        ]
    }
    meta(served, "set_custom_types", broken)
    objects = meta(served, "get_inconsistent_metadata", {})["inconsistent_objects"]
    reasons = {o["name"]: o["reason"] for o in objects}
    assert reasons == {
        "relationship gone of object Broken": 'Inconsistent object: in relationship "gone" of object "Broken": '
        'the table "missing" is not tracked in source "default"',
        "relationship elsewhere of object Elsewhere": 'Inconsistent object: in relationship "elsewhere" of object '
        '"Elsewhere": the source "nowhere" is not one of the data sources',
        "relationship column of object Broken": 'Inconsistent object: in relationship "column" of object "Broken": '
        'table "article" has no column owner',
    }
    assert run(served, "{ get_user { id user { name } } }") == {"get_user": {"id": 1, "user": {"name": "Clarke"}}}


HASURA_DATABASES = """\
- name: default
  kind: postgres
  configuration:
    connection_info:
      database_url:
        from_env: HASURA_GRAPHQL_DATABASE_URL
      isolation_level: read-committed
      use_prepared_statements: false
  tables: "!include default/tables/tables.yaml"
"""
HASURA_TABLE = """\
table:
  name: user
  schema: public
select_permissions:
  - role: user
    permission:
      columns:
        - id
        - name
      filter:
        id:
          _eq: X-Hasura-User-Id
"""
HASURA_ACTIONS = """\
actions:
  - name: get_user
    definition:
      kind: ""
      handler: {handler}
    permissions:
      - role: user
custom_types:
  enums: []
  input_objects: []
  objects:
    - name: UserId
      relationships:
        - field_mapping:
            id: id
          name: user
          remote_table:
            name: user
            schema: public
          source: default
          type: object
  scalars: []
"""


def test_a_hasura_cli_project_moves_over_with_its_database(
    serve: ServeFactory, source_url: str, webhook: Webhook, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The files the Hasura CLI writes (databases/ with !include, a table's select permissions,
    actions.yaml with a relationship), applied with `switchboard metadata apply`; the source
    reads its URL from HASURA_GRAPHQL_DATABASE_URL as Hasura's does, with no add_source."""
    tables(source_url)
    monkeypatch.setenv("HASURA_GRAPHQL_DATABASE_URL", source_url)
    served = serve(admin_secret="s3cret")
    project = tmp_path / "metadata"
    (project / "databases" / "default" / "tables").mkdir(parents=True)
    (project / "version.yaml").write_text("version: 3\n")
    (project / "databases" / "databases.yaml").write_text(HASURA_DATABASES)
    (project / "databases" / "default" / "tables" / "tables.yaml").write_text('- "!include public_user.yaml"\n')
    (project / "databases" / "default" / "tables" / "public_user.yaml").write_text(HASURA_TABLE)
    (project / "actions.graphql").write_text("type Query {\n  get_user: UserId!\n}\n\ntype UserId {\n  id: Int!\n}\n")
    (project / "actions.yaml").write_text(HASURA_ACTIONS.format(handler=webhook.respond("/user", body={"id": 1})))
    switchboard = str(Path(sys.executable).with_name("switchboard"))
    applied = subprocess.run(
        [switchboard, "--endpoint", served.url, "--admin-secret", "s3cret", "metadata", "apply", str(project)],
        capture_output=True, text=True, timeout=60,
    )  # fmt: skip
    assert applied.returncode == 0, (applied.stdout, applied.stderr)
    assert meta(served, "get_inconsistent_metadata", {})["is_consistent"] is True
    assert run(served, "{ get_user { id user { id name } } }", USER) == {
        "get_user": {"id": 1, "user": {"id": 1, "name": "Clarke"}}
    }
    other = run(served, "{ get_user { user { name } } }", {**USER, "X-Hasura-User-Id": "2"})
    assert other == {"get_user": {"user": None}}
