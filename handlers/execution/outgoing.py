"""Outgoing HTTP: the server's one client for webhooks (sync and async runs), `http` actions and
the JWK set (handlers/execution/http11.py, on the server's event loop).

* Each URL goes directly or through the proxy that handlers/execution/proxies.py picks for it
  from HTTP_PROXY / HTTPS_PROXY / NO_PROXY, read once at start; nothing else is read from the
  environment or from `~/.netrc`.
* No cookies are kept: a cookie a handler sets for one caller never goes with another caller's
  call (the caller receives Set-Cookie, as with Hasura).
* A call that gets no answer raises TimeoutError (past its timeout) or CallFailed, in the words of
  Hasura's `internal.error` ("Connection failure", "Too many redirects", "HTTP Exception
  occurred.") with the reason as detail; a URL or header that cannot be sent is refused the same
  way, before anything is sent.
"""

from __future__ import annotations

from handlers.execution.http11 import BadAnswer, Client, Reply, TooManyRedirects
from handlers.execution.proxies import Proxies

__all__ = ["CallFailed", "Outgoing", "Reply"]


class CallFailed(Exception):
    """No answer: `message` in Hasura's words, `detail` the reason."""

    def __init__(self, message: str, detail: str) -> None:
        super().__init__(detail)
        self.message, self.detail = message, detail


class Outgoing:
    def __init__(self, proxies: Proxies) -> None:
        self.proxies = proxies
        self._client = Client()

    async def send(self, method: str, url: str, headers: dict[str, str], body: bytes | None, timeout: float) -> Reply:
        route = self.proxies.route(url)
        try:
            return await self._client.request(method, url, headers, body, timeout, route.proxy, route.authorization)
        except TimeoutError:
            raise
        except TooManyRedirects as exc:
            raise CallFailed("Too many redirects", str(exc)) from None
        except OSError as exc:  # unreachable, refused, reset, TLS
            raise CallFailed("Connection failure", str(exc) or type(exc).__name__) from None
        except (ValueError, BadAnswer) as exc:  # a URL or header that cannot be sent; not HTTP
            raise CallFailed("HTTP Exception occurred.", str(exc)) from None

    def close(self) -> None:
        self._client.close()
