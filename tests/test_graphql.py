"""/v1/graphql with a real GraphQL client (gql over aiohttp) against a real uvicorn and real
webhook servers: sync and async actions, roles, validation and handler errors, transforms, sql
and table actions, introspection, batching, cookies, JWT sessions."""

from __future__ import annotations

import asyncio
import time
from typing import Any

import graphql
import httpx2 as httpx
import jwt
import pytest
from gql import Client, GraphQLRequest, gql
from gql.transport.aiohttp import AIOHTTPTransport
from gql.transport.exceptions import TransportQueryError

from tests.conftest import Served, ServeFactory
from tests.shop import create_shop, sql
from tests.webhook import Received, Webhook


def fields(**types: str) -> list[dict[str, str]]:
    return [{"name": name, "type": type_} for name, type_ in types.items()]


TYPES = {
    "objects": [
        {
            "name": "UserOutput",
            "description": "a user",
            "fields": fields(id="Int!", email="String", tags="[String!]", best_friend="Friend", friends="[Friend!]"),
        },
        {"name": "Friend", "fields": fields(name="String!", plan="Plan")},
    ],
    "input_objects": [{"name": "UserInput", "fields": fields(email="String!", plan="Plan")}],
    "enums": [{"name": "Plan", "values": [{"value": "FREE"}, {"value": "PRO", "description": "pays"}]}],
}
ANSWER = {
    "id": 7, "email": "a@b.c", "tags": ["x"], "best_friend": {"name": "Ann", "plan": "PRO"},
    "friends": [{"name": "Bo"}, {"name": "Cy", "plan": "FREE"}], "ignored": True,
}  # fmt: skip
ADMIN = {"X-Hasura-Admin-Secret": "s3cret"}
USER = {**ADMIN, "X-Hasura-Role": "user", "X-Hasura-User-Id": "42"}


def meta(served: Served, type_: str, args: Any) -> Any:
    response = httpx.post(f"{served.url}/v1/query", json={"type": type_, "args": args}, headers=ADMIN, timeout=30)
    assert response.status_code == 200, response.text
    return response.json()


def define(served: Served, handler: str, name: str = "create_user", **definition: Any) -> None:
    if "custom_types" not in meta(served, "export_metadata", {}):
        meta(served, "set_custom_types", TYPES)
    arguments = [{"name": "user", "type": "UserInput!", "description": "who signs up"}, *fields(count="Int")]
    definition = {"handler": handler, "output_type": "UserOutput", "arguments": arguments, **definition}
    meta(served, "create_action", {"name": name, "comment": "signs a user up", "definition": definition})
    meta(served, "create_action_permission", {"action": name, "role": "user"})


async def execute(
    served: Served, query: str, variables: dict[str, Any] | None = None, headers: dict[str, str] | None = None,
    fetch_schema: bool = True,
) -> tuple[Any, AIOHTTPTransport]:  # fmt: skip
    transport = AIOHTTPTransport(url=served.graphql, headers=headers or ADMIN)
    async with Client(transport=transport, fetch_schema_from_transport=fetch_schema) as session:
        result = await session.execute(GraphQLRequest(query, variable_values=variables))
    return result, transport


def run(coroutine: Any) -> Any:
    return asyncio.run(coroutine)


@pytest.fixture
def served(serve: ServeFactory) -> Served:
    return serve(admin_secret="s3cret")


MUTATION = """
mutation SignUp($user: UserInput!) {
  signed: create_user(user: $user, count: 2) {
    __typename
    id
    ...More
    best_friend { name __typename }
    friends { name plan }
  }
}
fragment More on UserOutput { email tags nope: email }
"""


def test_a_sync_mutation_through_gql(served: Served, webhook: Webhook) -> None:
    define(served, webhook.respond("/create", body=ANSWER, headers={"Set-Cookie": "session=abc; Path=/"}))
    result, transport = run(execute(served, MUTATION, {"user": {"email": "a@b.c", "plan": "PRO"}}, USER))
    assert result == {
        "signed": {
            "__typename": "UserOutput",
            "id": 7,
            "email": "a@b.c",
            "tags": ["x"],
            "nope": "a@b.c",
            "best_friend": {"name": "Ann", "__typename": "Friend"},
            "friends": [{"name": "Bo"}, {"name": "Cy", "plan": "FREE"}],  # left out inside a list, as Hasura
        }
    }
    [call] = webhook.calls("/create")
    assert call.body["input"] == {"user": {"email": "a@b.c", "plan": "PRO"}, "count": 2}
    assert call.body["session_variables"] == {"x-hasura-role": "user", "x-hasura-user-id": "42"}
    # Hasura's payload carries the document as the client sent it.
    assert graphql.print_ast(graphql.parse(call.body["request_query"])) == graphql.print_ast(gql(MUTATION).document)
    assert transport.response_headers is not None
    assert transport.response_headers.getall("Set-Cookie") == ["session=abc; Path=/"]


def test_roles_see_only_their_actions(served: Served, webhook: Webhook) -> None:
    define(served, webhook.respond("/create", body=ANSWER))
    admin_only = {"handler": webhook.url("/x"), "output_type": "Int"}
    meta(served, "create_action", {"name": "admin_only", "definition": admin_only})
    schema_of = "{ __schema { mutationType { fields { name } } } }"
    admin, _ = run(execute(served, schema_of))
    user, _ = run(execute(served, schema_of, headers=USER))
    assert [f["name"] for f in admin["__schema"]["mutationType"]["fields"]] == ["admin_only", "create_user"]
    assert [f["name"] for f in user["__schema"]["mutationType"]["fields"]] == ["create_user"]
    with pytest.raises(TransportQueryError) as refused:
        run(execute(served, "mutation { admin_only }", headers=USER, fetch_schema=False))
    assert refused.value.errors == [
        {
            "message": "field 'admin_only' not found in type: 'mutation_root'",
            "extensions": {"path": "$.selectionSet.admin_only", "code": "validation-failed"},
        }
    ]
    assert not webhook.calls("/x")
    # Root fields are resolved before variable types, as Hasura does: a role with no actions, whose
    # schema has no Int, hears about the field; an unknown variable type no operation uses is no error.
    meta(served, "create_action", {"name": "lookup", "definition": {**admin_only, "type": "query"}})
    nobody = {**ADMIN, "X-Hasura-Role": "nobody"}
    with pytest.raises(TransportQueryError) as refused:
        run(execute(served, "query ($id: Int!) { lookup(id: $id) }", {"id": 1}, nobody, fetch_schema=False))
    assert refused.value.errors == [
        {
            "message": "field 'lookup' not found in type: 'query_root'",
            "extensions": {"path": "$.selectionSet.lookup", "code": "validation-failed"},
        }
    ]
    unused, _ = run(execute(served, "query ($x: Nope) { __typename }", None, USER, fetch_schema=False))
    assert unused == {"__typename": "query_root"}


def test_inherited_roles_see_their_parents_actions(served: Served, webhook: Webhook) -> None:
    """Hasura's roles_inheritance tests: a role inherits the actions any of its parents may run."""
    define(served, webhook.respond("/create", body=ANSWER))
    meta(served, "add_inherited_role", {"role_name": "staff", "role_set": ["user", "auditor"]})
    staff = {**ADMIN, "X-Hasura-Role": "staff"}
    schema_of = "{ __schema { mutationType { fields { name } } } }"
    answer, _ = run(execute(served, schema_of, headers=staff))
    assert [f["name"] for f in answer["__schema"]["mutationType"]["fields"]] == ["create_user"]
    created, _ = run(execute(served, 'mutation { create_user(user: {email: "a@b.c"}) { id } }', headers=staff))
    assert created == {"create_user": {"id": 7}}
    assert webhook.calls("/create")[-1].body["session_variables"]["x-hasura-role"] == "staff"
    meta(served, "drop_inherited_role", {"role_name": "staff"})
    with pytest.raises(TransportQueryError) as refused:
        mutation = 'mutation { create_user(user: {email: "a@b.c"}) { id } }'
        run(execute(served, mutation, headers=staff, fetch_schema=False))
    assert refused.value.errors[0]["message"] == "no mutations exist"


def test_input_and_handler_errors_reach_the_client(served: Served, webhook: Webhook) -> None:
    refusal = {"message": "taken", "code": "email-taken", "extensions": {"field": "email"}}
    define(served, webhook.respond("/create", status=400, body=refusal))
    with pytest.raises(TransportQueryError) as invalid:
        run(execute(served, "mutation { create_user(user: {plan: PRO}) { id } }", headers=USER, fetch_schema=False))
    assert invalid.value.errors == [
        {
            "message": "missing required field 'email'",
            "extensions": {"path": "$.selectionSet.create_user.args.user.email", "code": "validation-failed"},
        }
    ]
    assert not webhook.received  # nothing runs when an argument is wrong
    with pytest.raises(TransportQueryError) as refused:
        run(execute(served, 'mutation { create_user(user: {email: "a@b.c"}) { id } }', headers=USER))
    assert refused.value.errors == [{"message": "taken", "extensions": {"field": "email"}}]


def test_a_failing_handler_shows_internals_to_admins_only(served: Served, webhook: Webhook) -> None:
    define(served, webhook.respond("/create", status=500, body={"oops": True}))
    query = 'mutation { create_user(user: {email: "a@b.c"}) { id } }'
    with pytest.raises(TransportQueryError) as user:
        run(execute(served, query, headers=USER))
    with pytest.raises(TransportQueryError) as admin:
        run(execute(served, query))
    assert user.value.errors == [
        {
            "message": "expecting 2xx or 4xx status code, but found 500",
            "extensions": {"path": "$", "code": "unexpected"},
        }
    ]
    assert admin.value.errors is not None
    assert admin.value.errors[0]["extensions"]["internal"]["response"]["status"] == 500


def test_transforms_apply(served: Served, webhook: Webhook) -> None:
    transform = {
        "version": 2,
        "template_engine": "Kriti",
        "method": "PUT",
        "body": {"action": "transform", "template": '{"mail": {{$body.input.user.email}}}'},
    }
    answer = {"version": 2, "body": {"action": "transform", "template": '{"id": {{$body.n}}, "email": "x"}'}}
    url = webhook.respond("/create", body={"n": 9})
    define(served, url, request_transform=transform, response_transform=answer)
    result, _ = run(execute(served, 'mutation { create_user(user: {email: "a@b.c"}) { id email } }', headers=USER))
    assert result == {"create_user": {"id": 9, "email": "x"}}
    [call] = webhook.calls("/create")
    assert (call.method, call.body) == ("PUT", {"mail": "a@b.c"})


def test_query_actions_run_concurrently_in_one_request(served: Served, webhook: Webhook) -> None:
    arrived: list[str] = []

    async def meet(received: Received) -> tuple[int, Any]:
        """Answers once both handlers have been called (or after 10 s): a handler called only
        after the other answered would see one arrival."""
        arrived.append(received.path)
        for _ in range(1000):
            if len(arrived) == 2:
                break
            await asyncio.sleep(0.01)
        return 200, {"id": len(arrived)}

    for name in ("a", "b"):
        define(served, webhook.respond(f"/{name}", handler=meet), name=name, type="query")
    result, _ = run(execute(served, 'query { a(user: {email: "x"}) { id } b(user: {email: "y"}) { id } }'))
    assert result == {"a": {"id": 2}, "b": {"id": 2}}


def test_batches_and_introspection_for_clients(served: Served, webhook: Webhook) -> None:
    define(served, webhook.respond("/create", body=ANSWER))

    async def go() -> list[Any]:
        transport = AIOHTTPTransport(url=served.graphql, headers=USER)
        async with Client(transport=transport, fetch_schema_from_transport=True) as session:
            assert session.client.schema is not None
            field = session.client.schema.mutation_type.fields["create_user"]  # type: ignore[union-attr]
            assert field.description == "signs a user up"
            assert field.args["user"].description == "who signs up"
            plan = session.client.schema.type_map["Plan"]
            assert isinstance(plan, graphql.GraphQLEnumType) and plan.values["PRO"].description == "pays"
            requests = [
                GraphQLRequest('mutation { create_user(user: {email: "a"}) { id } }'),
                GraphQLRequest("query { __typename }"),
            ]
            return await session.execute_batch(requests)

    assert run(go()) == [{"create_user": {"id": 7}}, {"__typename": "query_root"}]


def test_asynchronous_actions_and_their_runs(served: Served, webhook: Webhook) -> None:
    define(served, webhook.respond("/later", body=ANSWER), name="later", kind="asynchronous")
    started, _ = run(execute(served, 'mutation { later(user: {email: "a@b.c"}) }', headers=USER))
    run_id = started["later"]
    query = "query ($id: uuid!) { later(id: $id) { __typename id created_at errors output { id email } } }"
    deadline = time.monotonic() + 10
    while True:
        result, _ = run(execute(served, query, {"id": run_id}, USER))
        if result["later"]["output"] is not None or time.monotonic() > deadline:
            break
        time.sleep(0.05)
    assert result["later"]["__typename"] == "later"
    assert result["later"]["id"] == run_id and result["later"]["created_at"].endswith("Z")
    assert result["later"]["output"] == {"id": 7, "email": "a@b.c"} and result["later"]["errors"] is None
    # Another user of the same role sees nothing, as get_action_result shows nothing.
    stranger, _ = run(execute(served, query, {"id": run_id}, {**USER, "X-Hasura-User-Id": "7"}))
    assert stranger == {"later": None}
    assert webhook.calls("/later")[0].body["request_query"] is None  # as Hasura: async calls carry none


@pytest.fixture
def shop(served: Served, source_url: str) -> Served:
    create_shop(source_url)
    meta(served, "add_source", {"name": "shop", "url": source_url})
    changed = {"name": "Changed", "fields": fields(rows_affected="[Int!]!", returning="json")}
    order = {"name": "Order", "fields": fields(id="Int!", qty="Int!", note="String")}
    meta(served, "set_custom_types", {"objects": [changed, order]})
    return served


def test_sql_and_table_actions_through_graphql(shop: Served, source_url: str) -> None:
    sql_action = {
        "sql": {"source": "shop", "statement": "UPDATE products SET name = {{name}} WHERE sku = {{sku}}"},
        "arguments": [{"name": "name", "type": "String!"}, {"name": "sku", "type": "String!"}],
        "output_type": "Changed",
    }
    meta(shop, "create_action", {"name": "rename", "definition": sql_action})
    table_action = {"table": {"source": "shop", "table": "orders", "operation": "insert"}, "output_type": "Order"}
    meta(shop, "create_action", {"name": "new_order", "definition": table_action})
    renamed, _ = run(execute(shop, 'mutation { rename(name: "Anvil 2", sku: "A1") { rows_affected } }'))
    assert renamed == {"rename": {"rows_affected": [1]}}
    assert sql(source_url, "SELECT name FROM products WHERE sku = 'A1'") == [{"name": "Anvil 2"}]
    # The table action's arguments are its columns.
    ordered, _ = run(execute(shop, "mutation { new_order(product_id: 1, qty: 3) { id qty note } }"))
    assert ordered == {"new_order": {"id": 1, "qty": 3, "note": None}}
    with pytest.raises(TransportQueryError) as refused:
        run(execute(shop, "mutation { new_order(qty: 3) { id } }", fetch_schema=False))
    assert refused.value.errors is not None
    assert refused.value.errors[0]["message"] == "missing required field 'product_id'"


def test_jwt_sessions(serve: ServeFactory, webhook: Webhook) -> None:
    served = serve(admin_secret="s3cret", jwt_secret={"type": "HS256", "key": "k" * 32})
    define(served, webhook.respond("/create", body=ANSWER))
    claims = {"x-hasura-allowed-roles": ["user"], "x-hasura-default-role": "user", "x-hasura-user-id": "5"}
    token = jwt.encode({"https://hasura.io/jwt/claims": claims}, "k" * 32, algorithm="HS256")
    bearer = {"Authorization": f"Bearer {token}"}
    result, _ = run(execute(served, 'mutation { create_user(user: {email: "a"}) { id } }', headers=bearer))
    assert result == {"create_user": {"id": 7}}
    assert webhook.calls("/create")[0].body["session_variables"] == {"x-hasura-role": "user", "x-hasura-user-id": "5"}
    expired = jwt.encode({"https://hasura.io/jwt/claims": claims, "exp": 1}, "k" * 32, algorithm="HS256")
    with pytest.raises(TransportQueryError) as refused:
        run(execute(served, "{ __typename }", headers={"Authorization": f"Bearer {expired}"}, fetch_schema=False))
    assert refused.value.errors == [
        {"message": "Could not verify JWT: JWTExpired", "extensions": {"path": "$", "code": "invalid-jwt"}}
    ]


def test_roles_that_may_run_the_same_actions_share_one_schema(served: Served, webhook: Webhook) -> None:
    """One build for roles with the same actions (and table permissions); another for a role
    that differs; a change of metadata starts over."""
    define(served, webhook.respond("/create", body=ANSWER))
    meta(served, "create_action_permission", {"action": "create_user", "role": "staff"})
    graphql = served.server.config.app.state.graphql  # type: ignore[attr-defined]
    typename = "{ __schema { mutationType { name } } }"
    for role in ("user", "staff", "nobody"):
        run(execute(served, typename, headers={**ADMIN, "X-Hasura-Role": role}, fetch_schema=False))
    roles = graphql.schemas._roles
    assert roles["user"] is roles["staff"] and roles["nobody"] is not roles["user"]
    assert len(graphql.schemas._shared) == 2
    meta(served, "drop_action_permission", {"action": "create_user", "role": "staff"})
    staff, _ = run(execute(served, typename, headers={**ADMIN, "X-Hasura-Role": "staff"}, fetch_schema=False))
    assert staff == {"__schema": {"mutationType": None}}
