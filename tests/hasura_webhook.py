"""The action handlers of Hasura's own action tests (server/tests-py/context.py's
ActionsWebhookHandler), on a real webhook server: serve_hasura_actions installs them on a
tests/webhook.py Webhook; HasuraWebhookServer serves them as Hasura's http.server does, byte for
byte (for tests that compare what Switchboard reports of the exchange).

Without a database URL, the behaviours that need no Hasura database: where Hasura's handler
inserts a user and answers its id, this one counts, and looking a user up by email answers id 1.
Given the URL of a data source holding Hasura's `user` table (sync/schema_setup.yaml's), the
handlers do what Hasura's do: create_user(s) insert real rows and answer their ids, and
get_user(s)_by_email answer the ids of the users with that email (ordered by id), so that an
action's relationships see the rows. Every answer carries `Set-Cookie: abcd`, as Hasura's does.
Scenario files reach it as `{{ACTION_WEBHOOK_HANDLER}}`.
"""

from __future__ import annotations

import asyncio
import inspect
import itertools
import json
import platform
import re
import threading
from collections.abc import Awaitable, Callable
from email.utils import formatdate
from http import HTTPStatus
from typing import Any
from urllib.parse import urlsplit

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncEngine, create_async_engine
from sqlalchemy.pool import NullPool

from metadata.data_sources import async_url
from tests.webhook import Received, Webhook

EMAIL = re.compile(r"^\w+([\.-]?\w+)*@\w+([\.-]?\w+)*(\.\w{2,3})+$")
INVALID_EMAIL = {"message": "Given email address is not valid", "code": "invalid-email"}
Answer = tuple[int, Any]
Handler = Callable[[Received], Answer | Awaitable[Answer]]


def _input(received: Received) -> Any:
    return received.body["input"]


class _Users:
    """Hasura's `user` table, as the handlers' GraphQL calls to Hasura reach it: rows in the
    source database, or (without one) a counter."""

    def __init__(self, database_url: str | None) -> None:
        self.ids = itertools.count(1)
        # The engine lives on the webhook's event loop (made on first use, there); NullPool: no
        # connection outlives a call, so the test's database can be dropped at any time.
        self.url = database_url
        self.engine: AsyncEngine | None = None

    def _engine(self) -> AsyncEngine:
        if self.engine is None:
            assert self.url is not None
            self.engine = create_async_engine(async_url(self.url), poolclass=NullPool)
        return self.engine

    async def insert(self, users: list[dict[str, Any]]) -> list[int]:
        """insert_user(objects: ...) { returning { id } }"""
        if self.url is None:
            return [next(self.ids) for _ in users]
        statement = sa.text('INSERT INTO "user" (name, email) VALUES (:name, :email) RETURNING id')
        async with self._engine().begin() as conn:
            return [
                (await conn.execute(statement, {"name": u["name"], "email": u["email"]})).scalar_one() for u in users
            ]

    async def by_email(self, email: str) -> list[int]:
        """user(where: {email: {_eq: $email}}, order_by: {id: asc}) { id }"""
        if self.url is None:
            return [1]
        statement = sa.text('SELECT id FROM "user" WHERE email = :email ORDER BY id')
        async with self._engine().connect() as conn:
            return list((await conn.execute(statement, {"email": email})).scalars())


def _handlers(database_url: str | None) -> dict[str, Handler]:
    """Hasura's handlers by path."""
    users = _Users(database_url)

    async def create_user(received: Received) -> Answer:
        if not EMAIL.search(_input(received)["email"]):
            return 400, INVALID_EMAIL
        [user_id] = await users.insert([_input(received)])
        return 200, {"id": user_id}

    async def create_users(received: Received) -> Answer:
        given = _input(received)["users"]
        for user in given:
            if not EMAIL.search(user["email"]):
                return 400, {"message": "Email address is not valid: " + user["email"], "code": "invalid-email"}
        return 200, [{"id": user_id} for user_id in await users.insert(given)]

    async def create_user_timeout(received: Received) -> Answer:
        await asyncio.sleep(3)
        return await create_user(received)

    async def create_user_nested(received: Received) -> Answer:
        status, body = await create_user(received)
        return status, {"userObj": body} if status == 200 else body

    async def get_users_by_email(received: Received) -> Answer:
        if not EMAIL.search(_input(received)["email"]):
            return 400, INVALID_EMAIL
        return 200, [{"id": user_id} for user_id in await users.by_email(_input(received)["email"])]

    async def get_user_by_email(received: Received) -> Answer:
        status, body = await get_users_by_email(received)
        if status != 200:
            return status, body
        if not body:  # Hasura's handler fails on the missing first row: no answer (here, a 500)
            raise LookupError(f"no user with email {_input(received)['email']!r}")
        return 200, body[0]

    async def nested(received: Received) -> Answer:
        status, body = await get_user_by_email(received)
        if status != 200:
            return status, body
        places = [{"city": "Bangalore", "country": "India"}, {"city": "Melbourne", "country": "Australia"}]
        return 200, {**body, "address": {"city": "New York", "country": "USA"}, "addresses": places, "user_id": body}

    def mirror_headers(received: Received) -> Answer:
        return 200, {"headers": [{"name": k, "value": v} for k, v in received.headers.items()]}

    recursive = {
        "direct": {"id": 1, "this": {"id": 2, "this": {"id": 3}}},
        "list": {"id": 1, "these": [{"id": 2, "these": [{"id": 3}]}, {"id": 4}]},
        "mutual": {"id": 1, "that": {"id": 2, "other": {"id": 3, "that": {"id": 4}}}},
    }
    messages = [{"content": "baz", "user_name": "foo"}, {"content": "foo", "user_name": "bar"}]
    return {
        "/create-user": create_user,
        "/create-user-timeout": create_user_timeout,
        "/create-users": create_users,
        "/create-user-nested": create_user_nested,
        "/mirror-action": lambda r: (200, _input(r)["arg"]),
        "/mirror-headers": mirror_headers,
        "/get-user-by-email": get_user_by_email,
        "/get-users-by-email": get_users_by_email,
        "/get-user-by-email-nested": nested,
        "/intentional-error": lambda r: (400, _input(r)["blob"]),
        "/null-response": lambda r: (200, None),
        "/omitted-response-field": lambda r: (200, {"country": "India"}),
        "/scalar-response": lambda r: (200, "some-string"),
        "/json-response": lambda r: (200, {"foo": "bar"}),
        "/custom-scalar-array-response": lambda r: (200, [{"foo": "bar"}]),
        "/scalar-array-response": lambda r: (200, ["foo", "bar", None]),
        "/recursive-output": lambda r: (200, recursive),
        "/get-results": lambda r: (200, {"result_ids": [1, 2, 3, 4]}),
        "/typed-nested-null": lambda r: (200, {"id": 1, "child": None}),
        "/typed-nested-null-wrong-field": lambda r: (200, {"id": None, "child": None}),
        "/get_messages": lambda r: (200, messages),
    }


def serve_hasura_actions(hook: Webhook, database_url: str | None = None) -> str:
    """Install the handlers on `hook`; returns its base URL. With `database_url` (a source with
    Hasura's `user` table), users are inserted into and looked up in that table."""
    for path, handler in _handlers(database_url).items():
        hook.respond(path, handler=handler, headers={"Set-Cookie": "abcd"})
    return hook.url("")


class HasuraWebhookServer:
    """The handlers on a server that answers exactly as Hasura's (a `http.server` handler):
    HTTP/1.0, `Content-Type: application/json` and `Set-Cookie: abcd` and no other header, the
    connection closed after the body; a path it does not know gets 204 (with `Server` and `Date`);
    a handler that fails closes the connection without an answer. What Switchboard reports of
    the exchange (`internal.response.headers`) is then what Hasura's tests expect."""

    def __init__(self, database_url: str | None = None) -> None:
        self.handlers = _handlers(database_url)
        self.received: list[Received] = []
        self.loop = asyncio.new_event_loop()
        started = threading.Event()
        self.thread = threading.Thread(target=self._serve, args=(started,), daemon=True)
        self.thread.start()
        started.wait(10)
        self.url = f"http://127.0.0.1:{self.port}"

    async def _answer(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            method, target, _ = (await reader.readline()).decode("latin-1").split(" ", 2)
            headers: dict[str, str] = {}
            while (line := (await reader.readline()).decode("latin-1").rstrip("\r\n")) != "":
                name, _, value = line.partition(":")
                headers[name.strip()] = value.strip()
            length = int(next((v for k, v in headers.items() if k.lower() == "content-length"), "0"))
            text = (await reader.readexactly(length)).decode() if length else ""
            path = urlsplit(target).path
            received = Received(method, path, {}, headers, text, json.loads(text) if text else None)
            self.received.append(received)
            handler = self.handlers.get(path)
            if handler is None:
                server = f"BaseHTTP/0.6 Python/{platform.python_version()}"
                head = f"HTTP/1.0 204 No Content\r\nServer: {server}\r\nDate: {formatdate(usegmt=True)}\r\n\r\n"
                writer.write(head.encode())
            else:
                answer = handler(received)
                status, body = await answer if inspect.isawaitable(answer) else answer
                head = f"HTTP/1.0 {status} {HTTPStatus(status).phrase}\r\n"
                head += "Content-Type: application/json\r\nSet-Cookie: abcd\r\n\r\n"
                writer.write(head.encode() + json.dumps(body).encode())
            await writer.drain()
        except Exception:  # as http.server: the connection closes, with no answer
            pass
        finally:
            writer.close()

    def _serve(self, started: threading.Event) -> None:
        asyncio.set_event_loop(self.loop)
        self.server = self.loop.run_until_complete(asyncio.start_server(self._answer, "127.0.0.1", 0))
        self.port = self.server.sockets[0].getsockname()[1]
        started.set()
        self.loop.run_forever()

    def close(self) -> None:
        async def stop() -> None:
            self.server.close()
            await self.server.wait_closed()
            # Exchanges still under way (a handler that sleeps, a connection that sent nothing)
            others = [task for task in asyncio.all_tasks() if task is not asyncio.current_task()]
            for task in others:
                task.cancel()
            await asyncio.gather(*others, return_exceptions=True)

        asyncio.run_coroutine_threadsafe(stop(), self.loop).result(10)
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join(10)
        self.loop.close()
