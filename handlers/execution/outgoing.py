"""Outgoing HTTP: the server's one client for webhooks (sync and async runs), `http` actions and
the JWK set.

It is pyreqwest (Rust's reqwest): on the run path its calls cost about 40% less CPU than
aiohttp's client did, the largest part of a synchronous run's time (docs/benchmarks.md).
* One client per way out, made on first use: direct, or through each proxy that
  handlers/execution/proxies.py picks for a URL from HTTP_PROXY / HTTPS_PROXY / NO_PROXY. The
  clients never read the environment themselves.
* No cookie store: a cookie a handler sets for one caller never goes with another caller's call
  (the caller receives Set-Cookie, as with Hasura).
* Redirects are followed, up to 10, as aiohttp and Haskell's http-client do by default.
* A call that gets no answer raises TimeoutError (past its timeout) or CallFailed, in the words
  of Hasura's `internal.error` ("Connection failure", "Too many redirects", "HTTP Exception
  occurred."), with the client's reason as detail; a URL or header it will not send is refused the
  same way, before anything is sent.
"""

from __future__ import annotations

from datetime import timedelta
from functools import lru_cache
from typing import NamedTuple

from pyreqwest.client import Client, ClientBuilder
from pyreqwest.exceptions import NetworkError, PyreqwestError, RedirectError, RequestTimeoutError
from pyreqwest.http import HeaderMap
from pyreqwest.proxy import ProxyBuilder

from handlers.execution.proxies import Proxies, Route

MAX_REDIRECTS = 10


class Reply(NamedTuple):
    status: int
    headers: HeaderMap  # a Mapping with lowercased names; getall() for repeated ones
    body: bytes


class CallFailed(Exception):
    """No answer: `message` in Hasura's words, `detail` the client's own."""

    def __init__(self, message: str, detail: str) -> None:
        super().__init__(detail)
        self.message, self.detail = message, detail


@lru_cache(maxsize=64)
def _timeout(seconds: float) -> timedelta:
    return timedelta(seconds=seconds)


def _reason(exc: BaseException) -> str:
    """The client's reason: its message and the innermost cause ("connection error: Connection
    refused (os error 111)")."""
    if isinstance(exc, PyreqwestError):
        causes = (getattr(exc, "details", None) or {}).get("causes") or []
        return f"{exc.message}: {causes[-1]['message']}" if causes else exc.message
    return str(exc) or type(exc).__name__


class Outgoing:
    def __init__(self, proxies: Proxies) -> None:
        self.proxies = proxies
        self._clients: dict[Route, Client] = {}

    def _client(self, route: Route) -> Client:
        client = self._clients.get(route)
        if client is None:
            builder = ClientBuilder().follow_redirects(True).max_redirects(MAX_REDIRECTS)
            if route.proxy is None:
                builder = builder.no_proxy()
            else:
                proxy = ProxyBuilder.all(route.proxy)
                if route.authorization is not None:
                    proxy = proxy.custom_http_auth(route.authorization)
                builder = builder.proxy(proxy)
            client = self._clients[route] = builder.build()
        return client

    async def send(self, method: str, url: str, headers: dict[str, str], body: bytes | None, timeout: float) -> Reply:
        try:
            request = self._client(self.proxies.route(url)).request(method, url)
            request = request.headers(headers).timeout(_timeout(timeout))
            if body is not None:
                request = request.body_bytes(body)
            response = await request.build().send()
            return Reply(response.status, response.headers, bytes(await response.bytes()))
        except RequestTimeoutError:
            raise TimeoutError from None
        except RedirectError as exc:
            raise CallFailed("Too many redirects", _reason(exc)) from None
        except NetworkError as exc:
            raise CallFailed("Connection failure", _reason(exc)) from None
        # ValueError: a URL or a header the client will not send (pyreqwest's own errors are
        # ValueErrors too): from the definition, or from a transform of the input.
        except (PyreqwestError, ValueError) as exc:
            raise CallFailed("HTTP Exception occurred.", _reason(exc)) from None

    async def close(self) -> None:
        clients, self._clients = list(self._clients.values()), {}
        for client in clients:
            await client.close()
