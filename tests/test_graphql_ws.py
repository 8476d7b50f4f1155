"""The /v1/graphql websocket with a real client (gql's websockets transport) in both protocols,
graphql-transport-ws and Hasura's older graphql-ws: subscriptions to asynchronous runs pushed when
they finish (on this server, or from another server through PostgreSQL), queries and mutations,
errors, credentials (and their expiry)."""

from __future__ import annotations

import asyncio
import time
from typing import Any

import jwt
import pytest
from gql import Client, GraphQLRequest
from gql.transport.exceptions import TransportConnectionFailed, TransportQueryError, TransportServerError
from gql.transport.websockets import WebsocketsTransport
from websockets.exceptions import ConnectionClosed

from tests.conftest import Served, ServeFactory
from tests.test_graphql import ADMIN, ANSWER, USER, define
from tests.webhook import Webhook

PROTOCOLS = [WebsocketsTransport.GRAPHQLWS_SUBPROTOCOL, WebsocketsTransport.APOLLO_SUBPROTOCOL]
START = 'mutation { later(user: {email: "a@b.c"}) }'
RESULT = "subscription ($id: uuid!) { later(id: $id) { id errors output { id email } } }"


def transport(served: Served, protocol: str, headers: dict[str, str] = USER) -> WebsocketsTransport:
    return WebsocketsTransport(url=served.websocket, subprotocols=[protocol], init_payload={"headers": headers})


async def follow(served: Served, protocol: str, run_id: str, headers: dict[str, str] = USER) -> list[Any]:
    """The subscription's answers until one shows the run finished."""
    answers = []
    async with Client(transport=transport(served, protocol, headers)) as session:
        request = GraphQLRequest(RESULT, variable_values={"id": run_id})
        async for answer in session.subscribe(request):
            answers.append(answer)
            if answer["later"] is None or answer["later"]["output"] is not None or answer["later"]["errors"]:
                break
    return answers


@pytest.fixture
def served(serve: ServeFactory) -> Served:
    return serve(admin_secret="s3cret")


@pytest.mark.parametrize("protocol", PROTOCOLS)
def test_a_subscription_is_pushed_when_the_run_finishes(served: Served, webhook: Webhook, protocol: str) -> None:
    define(served, webhook.respond("/later", body=ANSWER, delay=0.5), name="later", kind="asynchronous")

    async def go() -> tuple[str, list[Any]]:
        ws = transport(served, protocol)
        async with Client(transport=ws) as session:  # a mutation over the websocket
            started = await session.execute(GraphQLRequest(START))
            assert ws.subprotocol == protocol
        return started["later"], await follow(served, protocol, started["later"])

    run_id, answers = asyncio.run(go())
    assert answers == [
        {"later": {"id": run_id, "errors": None, "output": None}},  # at once, while it runs
        {"later": {"id": run_id, "errors": None, "output": {"id": 7, "email": "a@b.c"}}},  # when it finishes
    ]


@pytest.mark.parametrize("protocol", PROTOCOLS)
def test_the_subscription_completes_once_the_run_finished(served: Served, webhook: Webhook, protocol: str) -> None:
    """Hasura sends `complete` after the finished run (its output has no relationships): a client
    looping over the subscription, without breaking out, comes to the end of it."""
    define(served, webhook.respond("/later", body=ANSWER, delay=0.3), name="later", kind="asynchronous")

    async def go() -> list[Any]:
        async with Client(transport=transport(served, protocol)) as session:
            run_id = (await session.execute(GraphQLRequest(START)))["later"]
            request = GraphQLRequest(RESULT, variable_values={"id": run_id})
            return [answer async for answer in session.subscribe(request)]

    answers = asyncio.run(asyncio.wait_for(go(), timeout=20))  # a subscription left open fails here
    assert [a["later"]["output"] for a in answers] == [None, {"id": 7, "email": "a@b.c"}]


@pytest.mark.parametrize("protocol", PROTOCOLS)
def test_failed_runs_and_other_users(served: Served, webhook: Webhook, protocol: str) -> None:
    # A handler answering what is not JSON (Hasura's test_async_actions_error_response_*_role).
    define(served, webhook.respond("/later", raw=b"oops"), name="later", kind="asynchronous")

    async def go() -> tuple[str, list[Any], list[Any], list[Any]]:
        async with Client(transport=transport(served, protocol)) as session:
            run_id = (await session.execute(GraphQLRequest(START)))["later"]
        mine = await follow(served, protocol, run_id)
        theirs = await follow(served, protocol, run_id, {**USER, "X-Hasura-User-Id": "9"})
        admins = await follow(served, protocol, run_id, ADMIN)
        return run_id, mine, theirs, admins

    run_id, mine, theirs, admins = asyncio.run(go())
    failed = {"path": "$", "error": "not a valid json response from webhook", "code": "unexpected"}
    assert mine[-1] == {"later": {"id": run_id, "errors": failed, "output": None}}
    assert theirs == [{"later": None}]  # as get_action_result: not theirs to see
    # Admins also see what was exchanged (Hasura's test_async_actions_error_response_admin_role).
    assert admins[-1]["later"]["errors"]["internal"]["response"]["body"] == "oops"


@pytest.mark.parametrize("protocol", PROTOCOLS)
def test_errors_over_the_websocket(served: Served, webhook: Webhook, protocol: str) -> None:
    define(served, webhook.respond("/create", status=400, body={"message": "taken", "code": "taken"}))

    async def go() -> tuple[Any, Any]:
        async with Client(transport=transport(served, protocol)) as session:
            with pytest.raises(TransportQueryError) as invalid:  # before anything runs: `error`
                await session.execute(GraphQLRequest("mutation { nope }"))
            with pytest.raises(TransportQueryError) as refused:  # while running: a result with errors
                await session.execute(GraphQLRequest('mutation { create_user(user: {email: "a"}) { id } }'))
            return invalid.value.errors, refused.value.errors

    invalid, refused = asyncio.run(go())
    assert invalid == [
        {
            "message": "field 'nope' not found in type: 'mutation_root'",
            "extensions": {"path": "$.selectionSet.nope", "code": "validation-failed"},
        }
    ]
    assert refused == [{"message": "taken", "extensions": {"path": "$", "code": "taken"}}]


def test_refused_credentials(served: Served) -> None:
    async def connect(protocol: str) -> None:
        async with Client(transport=transport(served, protocol, {"X-Hasura-Admin-Secret": "wrong"})) as session:
            await session.execute(GraphQLRequest("{ __typename }"))

    with pytest.raises(TransportServerError, match="invalid x-hasura-admin-secret"):
        asyncio.run(connect(WebsocketsTransport.APOLLO_SUBPROTOCOL))
    with pytest.raises(TransportConnectionFailed) as closed:  # graphql-transport-ws closes with 4403 Forbidden
        asyncio.run(connect(WebsocketsTransport.GRAPHQLWS_SUBPROTOCOL))
    cause = closed.value.__cause__
    assert isinstance(cause, ConnectionClosed) and cause.rcvd is not None
    assert (cause.rcvd.code, cause.rcvd.reason) == (4403, "Forbidden")


@pytest.mark.parametrize("database_url", ["postgres"], indirect=True)
def test_a_run_finished_by_another_server_is_pushed(serve: ServeFactory, webhook: Webhook) -> None:
    """The subscriber's server runs no workers: the push comes through PostgreSQL's NOTIFY."""
    runner = serve(admin_secret="s3cret")
    listener = serve(admin_secret="s3cret", async_workers=0)
    define(runner, webhook.respond("/later", body=ANSWER, delay=0.5), name="later", kind="asynchronous")

    async def go() -> tuple[str, list[Any]]:
        async with Client(transport=transport(listener, PROTOCOLS[0])) as session:
            run_id = (await session.execute(GraphQLRequest(START)))["later"]  # queued by the listener
        return run_id, await asyncio.wait_for(follow(listener, PROTOCOLS[0], run_id), 20)

    run_id, answers = asyncio.run(go())
    assert answers[0]["later"]["output"] is None
    assert answers[-1] == {"later": {"id": run_id, "errors": None, "output": {"id": 7, "email": "a@b.c"}}}


@pytest.mark.parametrize("protocol", PROTOCOLS)
def test_the_connection_closes_when_its_token_expires(serve: ServeFactory, webhook: Webhook, protocol: str) -> None:
    """As Hasura does at a JWT's exp: the open subscription ends with the connection."""
    served = serve(admin_secret="s3cret", jwt_secret={"type": "HS256", "key": "k" * 32})
    define(served, webhook.respond("/later", body=ANSWER, delay=4), name="later", kind="asynchronous")
    claims = {"x-hasura-allowed-roles": ["user"], "x-hasura-default-role": "user", "x-hasura-user-id": "5"}
    expiring = {"https://hasura.io/jwt/claims": claims, "exp": int(time.time()) + 2}
    bearer = {"Authorization": f"Bearer {jwt.encode(expiring, 'k' * 32, algorithm='HS256')}"}

    async def go() -> tuple[list[Any], BaseException, float]:
        answers: list[Any] = []
        async with Client(transport=transport(served, protocol, bearer)) as session:
            started = await session.execute(GraphQLRequest(START))
            request = GraphQLRequest(RESULT, variable_values={"id": started["later"]})
            try:
                async for answer in session.subscribe(request):
                    answers.append(answer)
            except Exception as exc:  # the connection went away under the subscription
                return answers, exc, time.time()
        raise AssertionError("the subscription ended without the connection closing")

    answers, closed, at = asyncio.run(go())
    assert [answer["later"]["output"] for answer in answers] == [None]  # still running when it closed
    assert at >= expiring["exp"] - 1
    cause = closed.__cause__ if closed.__cause__ is not None else closed
    assert isinstance(cause, ConnectionClosed) and cause.rcvd is not None
    assert (cause.rcvd.code, cause.rcvd.reason) == (4401, "Unauthorized: the credentials expired")
