"""A real forward HTTP proxy on a loopback port, in a thread of its own, that records what it is
asked to forward.

Plain-HTTP requests (absolute-form, `GET http://host:port/path`) are forwarded to their host with
aiohttp and the answer relayed back; a CONNECT (an https:// URL's tunnel) is recorded and refused
with a 403, as a proxy that does not allow the destination would (the tests have no TLS servers).
"""

from __future__ import annotations

from dataclasses import dataclass

import aiohttp
from aiohttp import web

from tests.loopback import LoopbackServer

# Hop-by-hop headers (RFC 9110 7.6.1) and the proxy's own: not passed on.
HOP_BY_HOP = frozenset(
    {
        "connection", "keep-alive", "proxy-authenticate", "proxy-authorization", "proxy-connection", "te",
        "trailer", "transfer-encoding", "upgrade", "host", "content-length",
    }
)  # fmt: skip


@dataclass
class Forwarded:
    method: str
    target: str  # the absolute URL asked for, or host:port of a CONNECT
    headers: dict[str, str]  # names lowercased, Proxy-Authorization included


class Proxy(LoopbackServer):
    def __init__(self) -> None:
        self.forwarded: list[Forwarded] = []
        super().__init__()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def targets(self) -> list[str]:
        return [f"{f.method} {f.target}" for f in self.forwarded]

    async def _handle(self, request: web.BaseRequest) -> web.StreamResponse:
        headers = {k.lower(): v for k, v in request.headers.items()}
        if request.method == "CONNECT":
            self.forwarded.append(Forwarded("CONNECT", request.raw_path, headers))
            return web.Response(status=403, text="tunnels are not allowed here")
        if not request.url.is_absolute() or not request.raw_path.startswith("http://"):
            return web.Response(status=400, text="not a proxy request")
        self.forwarded.append(Forwarded(request.method, request.raw_path, headers))
        body = await request.read()
        passed = {k: v for k, v in request.headers.items() if k.lower() not in HOP_BY_HOP}
        async with (
            aiohttp.ClientSession(auto_decompress=False) as session,
            session.request(request.method, request.raw_path, headers=passed, data=body or None) as answer,
        ):
            content = await answer.read()
            relayed = {k: v for k, v in answer.headers.items() if k.lower() not in HOP_BY_HOP}
            return web.Response(status=answer.status, body=content, headers=relayed)

    def app(self) -> web.Server:
        return web.Server(self._handle)
