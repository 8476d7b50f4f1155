"""The /v1/graphql websocket, in both protocols Hasura's clients speak.

* `graphql-transport-ws` (graphql-ws): connection_init -> connection_ack; subscribe -> next ...
  complete, or error (a list of errors); complete from the client stops an operation; ping/pong.
  Closes as the protocol says: 4400 bad message, 4401 subscribe before init, 4403 refused
  credentials, 4408 no init in time, 4409 a duplicate id, 4429 a second init.
* `graphql-ws` (subscriptions-transport-ws, Hasura's older default, also when no subprotocol is
  asked for): connection_init -> connection_ack + `ka` keep-alives; start -> data ... complete,
  or error (one error); stop -> complete; connection_terminate; refused credentials are a
  connection_error.

Credentials are the handshake's headers, overridden by connection_init's `payload.headers` (or
the payload's own string values), authenticated as /v1/query does. Queries and mutations answer
once; a subscription answers with the run now and again when it finishes.

What one client may hold (`Sockets`): at most `max_websockets` sockets are open; at the cap, the
oldest socket that has not sent connection_init yet is closed to make room (4408), and when every
socket has, the newcomer is answered 503. A socket must send connection_init within
`websocket_init_timeout_seconds` (4408, both protocols), runs at most
`max_subscriptions_per_websocket` operations at once (more are refused one by one), and sends
text frames only (a binary one closes it: 4400). A browser page's socket whose Origin `cors_domain`
does not allow is refused (403). A socket closes with 4401 when its credentials
expire (a JWT's exp, an API key's expires_at) or its API key is revoked, on any server sharing
the store (checked every second while such sockets are open).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from typing import Any

import msgspec
from starlette.responses import Response
from starlette.websockets import WebSocket, WebSocketDisconnect

from handlers.context import Session
from handlers.graphql.errors import RequestError, error, from_switchboard
from handlers.graphql.execute import GraphQLRequest, execute
from handlers.graphql.service import GraphQL
from metadata.api_keys import ApiKeys
from metadata.decoding import convert
from metadata.errors import SwitchboardError
from rpc.auth import Authenticator
from rpc.cors import Origins

log = logging.getLogger("switchboard.graphql")
MODERN, LEGACY = "graphql-transport-ws", "graphql-ws"
KEEP_ALIVE = 5.0  # seconds between graphql-ws `ka` messages
KEY_CHECK_SECONDS = 1.0  # how often the API keys of open sockets are checked for revocation
_encode = msgspec.json.Encoder().encode
_decode = msgspec.json.Decoder(dict[str, Any]).decode
_FULL = {"path": "$", "error": "too many websockets are open; try again later", "code": "unavailable"}


class Sockets:
    """The open websockets of one server, oldest first, and what they may hold."""

    def __init__(self, api_keys: ApiKeys, cap: int, init_timeout: float, max_operations: int) -> None:
        self.api_keys, self.cap, self.init_timeout, self.max_operations = api_keys, cap, init_timeout, max_operations
        self.open: dict[_Connection, None] = {}  # a dict keeps the order they opened in
        self._checking: asyncio.Task[None] | None = None

    def admit(self) -> bool:
        """Whether one more socket may open, closing the oldest uninitialised one to make room."""
        if len(self.open) < self.cap:
            return True
        waiting = next((c for c in self.open if c.session is None and not c.closed), None)
        if waiting is None:
            return False
        self.open.pop(waiting)
        waiting.close_soon(4408, "Connection initialisation timeout")
        return True

    def authenticated(self, connection: _Connection) -> None:
        if connection.session is not None and connection.session.api_key is not None and self._checking is None:
            self._checking = asyncio.create_task(self._check_keys())

    async def _check_keys(self) -> None:
        """Close the sockets whose API key was revoked (on this server or another), while any
        socket holds a key."""
        try:
            while True:
                await asyncio.sleep(KEY_CHECK_SECONDS)
                held = {c: c.session.api_key for c in self.open if c.session is not None and c.session.api_key}
                if not held:
                    return
                try:
                    live = await self.api_keys.existing(set(held.values()))
                except Exception:  # the store is unreachable for now: the keys stand until it is back
                    continue
                for connection, key in held.items():
                    if key not in live:
                        connection.close_soon(4401, "Unauthorized: the API key was revoked")
        finally:
            self._checking = None

    async def stop(self) -> None:
        if self._checking is not None:
            self._checking.cancel()
            await asyncio.gather(self._checking, return_exceptions=True)


def graphql_socket(graphql: GraphQL, auth: Authenticator, sockets: Sockets, origins: Origins) -> Any:
    async def endpoint(websocket: WebSocket) -> None:
        origin = websocket.headers.get("origin")
        if origin is not None and not origins.allows(origin):  # a browser page of another origin
            return await websocket.send_denial_response(Response(b"origin not allowed", 403))
        if not sockets.admit():
            response = Response(_encode(_FULL), 503, {"retry-after": "5"}, media_type="application/json")
            return await websocket.send_denial_response(response)
        offered = websocket.scope.get("subprotocols") or []
        protocol = MODERN if MODERN in offered else LEGACY
        await websocket.accept(subprotocol=protocol if protocol in offered else None)
        connection = _Connection(websocket, protocol, graphql, auth, sockets)
        sockets.open[connection] = None
        try:
            await connection.serve()
        finally:
            sockets.open.pop(connection, None)

    return endpoint


class _Connection:
    def __init__(
        self, websocket: WebSocket, protocol: str, graphql: GraphQL, auth: Authenticator, sockets: Sockets
    ) -> None:
        self.websocket, self.graphql, self.auth, self.sockets = websocket, graphql, auth, sockets
        self.modern = protocol == MODERN
        self.session: Session | None = None
        self.operations: dict[str, asyncio.Task[None]] = {}
        self.keep_alive: asyncio.Task[None] | None = None
        self.expiry: asyncio.Task[None] | None = None
        self.closing: asyncio.Task[None] | None = None
        self._sending = asyncio.Lock()
        self.closed = False

    async def send(self, message: dict[str, Any]) -> None:
        async with self._sending:
            if self.closed:
                return
            try:
                await self.websocket.send_text(_encode(message).decode())
            except (WebSocketDisconnect, RuntimeError, OSError):  # the client has gone
                self.closed = True

    async def close(self, code: int, reason: str) -> None:
        self.closed = True
        with contextlib.suppress(Exception):
            await self.websocket.close(code, reason)

    def close_soon(self, code: int, reason: str) -> None:
        """Close from outside the connection's own task (a timer, another socket, a check)."""
        if not self.closed and self.closing is None:
            self.closing = asyncio.create_task(self.close(code, reason))

    def _init_timed_out(self) -> None:
        if self.session is None:
            self.close_soon(4408, "Connection initialisation timeout")

    async def serve(self) -> None:
        timer = asyncio.get_running_loop().call_later(self.sockets.init_timeout, self._init_timed_out)
        try:
            while True:
                message = await self.websocket.receive()
                if message["type"] == "websocket.disconnect":
                    break
                text = message.get("text")
                if text is None:  # a binary frame: neither protocol has any
                    await self.close(4400, "Invalid message received: binary frames are not accepted")
                    break
                if not await self.handle(text):
                    break
        except (WebSocketDisconnect, RuntimeError):  # closed from outside while receiving
            pass
        finally:
            timer.cancel()
            for task in [*self.operations.values(), self.keep_alive, self.expiry]:
                if task is not None:
                    task.cancel()

    async def handle(self, text: str) -> bool:
        """Act on one client message; False once the connection is to end."""
        try:
            message = _decode(text)
        except msgspec.DecodeError:
            message = {}
        kind = message.get("type")
        ident = message.get("id")
        if kind == "connection_init":
            return await self.init(message.get("payload"))
        if kind == "ping" and self.modern:
            await self.send({"type": "pong"})
        elif kind == "pong" and self.modern:
            pass
        elif kind == ("subscribe" if self.modern else "start") and isinstance(ident, str):
            return await self.start(ident, message.get("payload"))
        elif kind == ("complete" if self.modern else "stop") and isinstance(ident, str):
            task = self.operations.pop(ident, None)
            if task is not None:
                task.cancel()
            if not self.modern:
                await self.send({"type": "complete", "id": ident})
        elif kind == "connection_terminate" and not self.modern:
            await self.close(1000, "Normal Closure")
            return False
        elif self.modern:
            await self.close(4400, "Invalid message received")
            return False
        else:
            await self.send({"type": "connection_error", "payload": f"unexpected message: {text[:200]}"})
        return True

    async def init(self, payload: Any) -> bool:
        if self.session is not None:
            if self.modern:
                await self.close(4429, "Too many initialisation requests")
                return False
            return True
        headers = dict(self.websocket.headers)
        if isinstance(payload, dict):
            nested = payload.get("headers")
            given = nested if isinstance(nested, dict) else payload
            headers |= {str(k).lower(): v for k, v in given.items() if isinstance(v, str)}
        try:
            self.session = await self.auth.session(headers)
        except SwitchboardError as exc:
            if self.modern:
                await self.close(4403, "Forbidden")
            else:
                await self.send({"type": "connection_error", "payload": exc.message})
                await self.close(1000, "Normal Closure")
            return False
        await self.send({"type": "connection_ack"})
        self.sockets.authenticated(self)
        if self.session.expires_at is not None:
            self.expiry = asyncio.create_task(self._expire(self.session.expires_at))
        if not self.modern:
            await self.send({"type": "ka"})
            self.keep_alive = asyncio.create_task(self._keep_alive())
        return True

    async def _expire(self, expires_at: float) -> None:
        """Close the connection when its credentials expire, as Hasura does at a JWT's exp: its
        subscriptions end with it, and the client must connect again with fresh credentials."""
        await asyncio.sleep(max(0.0, expires_at - time.time()))
        await self.close(4401, "Unauthorized: the credentials expired")

    async def _keep_alive(self) -> None:
        while True:
            await asyncio.sleep(KEEP_ALIVE)
            await self.send({"type": "ka"})

    async def start(self, ident: str, payload: Any) -> bool:
        if self.session is None:
            if self.modern:
                await self.close(4401, "Unauthorized")
                return False
            await self.send({"type": "connection_error", "payload": "start received before connection_init"})
            return True
        if ident in self.operations:
            if self.modern:
                await self.close(4409, f"Subscriber for {ident} already exists")
                return False
            await self.failed(ident, [error(f"an operation with id {ident} is already running")])
            return True
        if len(self.operations) >= self.sockets.max_operations:
            limit = self.sockets.max_operations
            await self.failed(ident, [error(f"at most {limit} operations may run at once on one websocket")])
            return True
        task = asyncio.create_task(self.run(ident, self.session, payload))
        self.operations[ident] = task
        task.add_done_callback(lambda done: self._finished(ident, done))
        return True

    def _finished(self, ident: str, task: asyncio.Task[None]) -> None:
        if self.operations.get(ident) is task:
            del self.operations[ident]

    async def failed(self, ident: str, errors: list[dict[str, Any]]) -> None:
        """A request that could not run: `error` (one error in the older protocol)."""
        await self.send({"type": "error", "id": ident, "payload": errors if self.modern else errors[0]})

    async def result(self, ident: str, body: dict[str, Any]) -> None:
        await self.send({"type": "next" if self.modern else "data", "id": ident, "payload": body})

    async def run(self, ident: str, session: Session, payload: Any) -> None:
        try:
            try:
                request = convert(payload, GraphQLRequest)
            except SwitchboardError as exc:
                raise RequestError(from_switchboard(exc, admin=False)) from None
            op = await self.graphql.operation(session, request)
            if op.kind == "subscription":
                async for body in self.graphql.subscribe(op):
                    await self.result(ident, body)
            else:
                await self.result(ident, (await execute(op)).body)
        except RequestError as exc:
            return await self.failed(ident, exc.errors)
        except SwitchboardError as exc:
            await self.result(ident, {"errors": [from_switchboard(exc, session.is_admin)]})
        except Exception:
            log.exception("graphql operation failed")
            return await self.failed(ident, [error("unexpected error", code="unexpected")])
        await self.send({"type": "complete", "id": ident})
