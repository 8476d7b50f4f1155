"""What websockets may cost the real server: their own cap (HTTP always gets through), the time to
send connection_init on both protocols, operations per socket, binary frames, and API keys revoked
under an open socket, on this server and on another sharing the store."""

from __future__ import annotations

import asyncio
import json
import time
from pathlib import Path
from typing import Any

import httpx2 as httpx
import pytest
import websockets
from websockets.asyncio.client import ClientConnection
from websockets.exceptions import ConnectionClosed, InvalidStatus

from tests.conftest import ServeFactory
from tests.processes import ServerProcess
from tests.test_graphql import ANSWER, define
from tests.webhook import Webhook

MODERN, LEGACY = "graphql-transport-ws", "graphql-ws"
ADMIN = {"X-Hasura-Admin-Secret": "s3cret"}


def ws_url(url: str) -> str:
    return url.replace("http://", "ws://") + "/v1/graphql"


async def connect(url: str, protocol: str | None = None) -> ClientConnection:
    return await websockets.connect(ws_url(url), subprotocols=[protocol] if protocol else None, open_timeout=5)  # type: ignore[list-item]


async def initialised(url: str, headers: dict[str, str], protocol: str = MODERN) -> ClientConnection:
    socket = await connect(url, protocol)
    await socket.send(json.dumps({"type": "connection_init", "payload": {"headers": headers}}))
    assert json.loads(await socket.recv())["type"] == "connection_ack"
    return socket


async def closed_with(socket: ClientConnection, seconds: float = 10) -> tuple[int, str]:
    """The close code and reason the server ends `socket` with (messages before it are dropped)."""
    try:
        async with asyncio.timeout(seconds):
            while True:
                await socket.recv()
    except ConnectionClosed as closed:
        assert closed.rcvd is not None, "closed without a close frame"
        return closed.rcvd.code, closed.rcvd.reason
    raise AssertionError("unreachable")


def test_a_flood_of_websockets_never_keeps_http_out(tmp_path: Path) -> None:
    """More idle sockets than both caps, uninitialised (the legacy protocol, no subprotocol) and
    then authenticated: /healthz and run_action answer throughout, within a second."""
    server = ServerProcess(
        tmp_path,
        database_url=f"sqlite:///{tmp_path}/sb.db",
        admin_secret="s3cret",
        max_connections=40,
        max_websockets=50,
        websocket_init_timeout_seconds=60,
    )

    def http_answers() -> None:
        started = time.monotonic()
        assert httpx.get(f"{server.url}/healthz", timeout=1).status_code == 200
        body = {"type": "run_action", "args": {"name": "nothing"}}
        refused = httpx.post(f"{server.url}/v1/query", json=body, headers=ADMIN, timeout=1)
        assert refused.status_code == 400 and refused.json()["code"] == "not-exists"
        assert time.monotonic() - started < 1

    async def go() -> None:
        idle = [await connect(server.url) for _ in range(60)]  # past both caps: the oldest make room
        http_answers()
        # A newcomer with credentials gets in: an uninitialised socket is closed for it.
        authenticated = [await initialised(server.url, ADMIN) for _ in range(50)]
        closes = await asyncio.gather(*(closed_with(s, 5) for s in idle))
        assert set(closes) == {(4408, "Connection initialisation timeout")}
        http_answers()
        # Every socket is authenticated now: the next is refused, HTTP still answers.
        with pytest.raises(InvalidStatus) as refused:
            await connect(server.url, MODERN)
        assert refused.value.response.status_code == 503
        assert json.loads(refused.value.response.body or b"{}")["code"] == "unavailable"
        http_answers()
        for socket in idle + authenticated:
            await socket.close()

    try:
        asyncio.run(go())
    finally:
        server.stop()
    assert "Traceback" not in server.log_text()


@pytest.mark.parametrize("protocol", [MODERN, LEGACY, None])
def test_connection_init_must_come_in_time(serve: ServeFactory, protocol: str | None) -> None:
    served = serve(admin_secret="s3cret", websocket_init_timeout_seconds=0.5)

    async def go() -> tuple[int, str]:
        socket = await connect(served.url, protocol)
        return await closed_with(socket)

    assert asyncio.run(go()) == (4408, "Connection initialisation timeout")


@pytest.mark.parametrize("protocol", [MODERN, LEGACY])
def test_operations_per_socket_are_capped(serve: ServeFactory, webhook: Webhook, protocol: str) -> None:
    served = serve(admin_secret="s3cret", max_subscriptions_per_websocket=2)
    define(served, webhook.respond("/later", body=ANSWER, delay=5), name="later", kind="asynchronous")
    start, stop = ("subscribe", "complete") if protocol == MODERN else ("start", "stop")

    async def go() -> list[dict[str, Any]]:
        socket = await initialised(served.url, ADMIN, protocol)
        mutation = {"query": 'mutation { later(user: {email: "a@b.c"}) }'}
        await socket.send(json.dumps({"type": start, "id": "m", "payload": mutation}))
        messages = [json.loads(await socket.recv()) for _ in range(3 if protocol == LEGACY else 2)]
        run_id = next(m for m in messages if m["type"] in ("next", "data"))["payload"]["data"]["later"]
        query = "subscription ($id: uuid!) { later(id: $id) { id output { id } } }"
        for ident in ("a", "b", "c"):
            payload = {"query": query, "variables": {"id": run_id}}
            await socket.send(json.dumps({"type": start, "id": ident, "payload": payload}))
        got = []
        while len([m for m in got if m.get("id") in ("a", "b", "c")]) < 3:
            got.append(json.loads(await socket.recv()))
        # Once one ends, there is room for another.
        await socket.send(json.dumps({"type": stop, "id": "a"}))
        payload = {"query": query, "variables": {"id": run_id}}
        await socket.send(json.dumps({"type": start, "id": "d", "payload": payload}))
        while not any(m.get("id") == "d" for m in got):
            got.append(json.loads(await socket.recv()))
        await socket.close()
        return [m for m in got if m.get("id") in ("a", "b", "c", "d") and m["type"] != "ka"]

    messages = asyncio.run(go())
    refused = [m for m in messages if m["type"] == "error"]
    assert [m["id"] for m in refused] == ["c"]
    errors = refused[0]["payload"] if protocol == MODERN else [refused[0]["payload"]]
    assert errors[0]["message"] == "at most 2 operations may run at once on one websocket"
    assert {m["id"] for m in messages if m["type"] in ("next", "data")} == {"a", "b", "d"}


@pytest.mark.parametrize("protocol", [MODERN, LEGACY])
def test_a_binary_frame_closes_the_socket_with_4400(tmp_path: Path, protocol: str) -> None:
    server = ServerProcess(tmp_path, database_url=f"sqlite:///{tmp_path}/sb.db", admin_secret="s3cret")

    async def go() -> tuple[int, str]:
        socket = await initialised(server.url, ADMIN, protocol)
        await socket.send(b'{"type": "ping"}')
        return await closed_with(socket)

    try:
        code, _ = asyncio.run(go())
    finally:
        server.stop()
    assert code == 4400
    assert "Exception in ASGI application" not in server.log_text()


@pytest.mark.parametrize("database_url", ["sqlite", "postgres"], indirect=True)
def test_a_revoked_api_key_closes_its_sockets_on_every_server(serve: ServeFactory) -> None:
    first = serve(admin_secret="s3cret")
    second = serve(admin_secret="s3cret")
    body = {"type": "create_api_key", "args": {"name": "ci", "role": "admin"}}
    key = httpx.post(f"{first.url}/v1/query", json=body, headers=ADMIN).json()["key"]
    other = httpx.post(f"{first.url}/v1/query", json={**body, "args": {"name": "kept", "role": "admin"}}, headers=ADMIN)

    async def go() -> tuple[tuple[int, str], tuple[int, str], bool]:
        here = await initialised(first.url, {"X-Api-Key": key})
        there = await initialised(second.url, {"X-Api-Key": key}, LEGACY)
        kept = await initialised(second.url, {"X-Api-Key": other.json()["key"]})
        revoke = {"type": "revoke_api_key", "args": {"name": "ci"}}
        assert httpx.post(f"{first.url}/v1/query", json=revoke, headers=ADMIN).status_code == 200
        closes = await asyncio.gather(closed_with(here, 5), closed_with(there, 5))
        await kept.send(json.dumps({"type": "ping"}))
        still_open = json.loads(await kept.recv()) == {"type": "pong"}
        await kept.close()
        return closes[0], closes[1], still_open

    here, there, still_open = asyncio.run(go())
    assert here == there == (4401, "Unauthorized: the API key was revoked")
    assert still_open
