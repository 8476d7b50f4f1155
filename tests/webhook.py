"""A real aiohttp webhook server on a loopback port, in a thread of its own, that records what it
receives (any method: transforms may change it) and answers what a test told it to."""

from __future__ import annotations

import asyncio
import inspect
import json
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

from aiohttp import web

from tests.loopback import LoopbackServer


@dataclass
class Canned:
    status: int = 200
    body: Any = None  # JSON; ignored when raw is set
    raw: bytes | None = None
    delay: float = 0.0
    # Answers for the first calls, before falling back to the above (for retries).
    first: list[tuple[int, Any]] = field(default_factory=list)
    headers: dict[str, str] = field(default_factory=dict)  # sent with every answer
    # Computes (status, body) from what was received, instead of the canned status and body.
    handler: Callable[[Received], tuple[int, Any] | Awaitable[tuple[int, Any]]] | None = None


@dataclass
class Received:
    method: str
    path: str
    query: dict[str, str]
    headers: dict[str, str]  # names lowercased
    text: str
    body: Any  # the JSON body, None when it is not JSON


class Webhook(LoopbackServer):
    def __init__(self) -> None:
        self.received: list[Received] = []
        self.canned: dict[str, Canned] = {}
        super().__init__()

    def url(self, path: str) -> str:
        return f"http://127.0.0.1:{self.port}{path}"

    def respond(self, path: str, status: int = 200, body: Any = None, **options: Any) -> str:
        self.canned[path] = Canned(status, body, **options)
        return self.url(path)

    def calls(self, path: str) -> list[Received]:
        return [r for r in self.received if r.path == path]

    async def _handle(self, request: web.Request) -> web.StreamResponse:
        text = await request.text()
        try:
            body = json.loads(text) if text else None
        except ValueError:  # a form-encoded or otherwise transformed body
            body = None
        headers = {k.lower(): v for k, v in request.headers.items()}
        self.received.append(Received(request.method, request.path, dict(request.query), headers, text, body))
        canned = self.canned.get(request.path, Canned())
        if canned.delay:
            await asyncio.sleep(canned.delay)
        if canned.first:
            status, body = canned.first.pop(0)
            return web.json_response(body, status=status, headers=canned.headers)
        if canned.handler is not None:
            answer = canned.handler(self.received[-1])
            status, body = await answer if inspect.isawaitable(answer) else answer
            return web.json_response(body, status=status, headers=canned.headers)
        if canned.raw is not None:
            raw, status = canned.raw, canned.status
            return web.Response(body=raw, status=status, content_type="text/plain", headers=canned.headers)
        return web.json_response(canned.body, status=canned.status, headers=canned.headers)

    def app(self) -> web.Application:
        app = web.Application()
        app.router.add_route("*", "/{tail:.*}", self._handle)
        return app
