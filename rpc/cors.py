"""CORS, as Hasura configures it (HASURA_GRAPHQL_CORS_DOMAIN, HASURA_GRAPHQL_DISABLE_CORS).

`cors_domain` is `*` (any origin, the default) or a list of origins, as a YAML list or Hasura's
comma-separated string: `https://app.example.com, https://*.example.com, http://localhost:3000`.
A `*` in an origin's host stands for any subdomain (one label or more); ports must match. Browsers
on an allowed origin get their preflights answered and `Access-Control-Allow-Origin` (with
credentials) on every endpoint; a websocket whose `Origin` is not allowed is refused (403).
Starlette's CORSMiddleware does the work for requests that carry an `Origin`; the others (API
clients, the run path under load) only get its `Vary: Origin`, added without it. With
`disable_cors` nothing is added and nothing checked.
"""

from __future__ import annotations

import re

from starlette.middleware import Middleware
from starlette.middleware.cors import CORSMiddleware
from starlette.types import Message, Receive, Scope, Send

MAX_AGE = 1728000  # seconds a preflight is cached (Hasura's)
_VARY = (b"vary", b"Origin")


class Cors(CORSMiddleware):
    """Starlette's middleware, skipped by requests without an Origin: for those it only adds
    `Vary: Origin`, yet its header objects and send wrapper were about 8% of a synchronous run's CPU."""

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or any(name == b"origin" for name, _ in scope["headers"]):
            await super().__call__(scope, receive, send)
            return

        async def varied(message: Message) -> None:
            if message["type"] == "http.response.start":
                message["headers"] = [*message.get("headers", ()), _VARY]
            await send(message)

        await self.app(scope, receive, varied)


class Origins:
    def __init__(self, domains: str | list[str], disabled: bool) -> None:
        listed = [d.strip() for d in (domains.split(",") if isinstance(domains, str) else domains) if d.strip()]
        self.disabled = disabled
        self.any = "*" in listed
        self.exact = [d.rstrip("/") for d in listed if "*" not in d]
        patterns = [_pattern(d.rstrip("/")) for d in listed if "*" in d and d != "*"]
        self.regex = "|".join(patterns) or None
        self._compiled = re.compile(self.regex) if self.regex else None

    def allows(self, origin: str) -> bool:
        if self.disabled or self.any or origin in self.exact:
            return True
        return self._compiled is not None and self._compiled.fullmatch(origin) is not None

    def middleware(self) -> list[Middleware]:
        if self.disabled:
            return []
        return [
            Middleware(
                Cors,
                allow_origins=["*"] if self.any else self.exact,
                allow_origin_regex=self.regex,
                allow_methods=["GET", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"],
                allow_headers=["*"],  # the request's own, x-hasura-* among them
                allow_credentials=True,
                max_age=MAX_AGE,
            )
        ]


def _pattern(domain: str) -> str:
    """`https://*.example.com:8080` as a regular expression of the origins it allows."""
    scheme, _, rest = domain.rpartition("://")
    labels = rest.split(".")
    parts = [r"[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)*" if label == "*" else re.escape(label) for label in labels]
    return (re.escape(scheme + "://") if scheme else "") + r"\.".join(parts)
