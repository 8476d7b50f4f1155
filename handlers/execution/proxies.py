"""Outgoing HTTP through a forward proxy, configured as Hasura's HTTP client (Haskell's
http-client) and curl are: by environment variables, read once when the server starts.

* `HTTP_PROXY` is the proxy of `http://` URLs, `HTTPS_PROXY` of `https://` URLs (tunnelled with
  CONNECT). A value without a scheme is an `http://` proxy; `user:password@` in it is sent as
  Proxy-Authorization.
* `NO_PROXY` lists the hosts reached directly, comma-separated: a host name matches itself and
  its subdomains (`example.com` and `.example.com` both match `api.example.com`), an IP address
  or CIDR block (`10.0.0.0/8`) the addresses in it, an entry with `:port` only that port; `*`
  bypasses the proxy for every host. Nothing is bypassed implicitly, loopback included.
* Lowercase names (`http_proxy`, ...) win over uppercase ones, as with curl and Python's urllib;
  an empty value unsets the variable. `HTTP_PROXY` is ignored in a CGI process (REQUEST_METHOD
  set), where it could be a request's `Proxy:` header.

Every outgoing call of the server goes by this (handlers/execution/outgoing.py: webhooks, sync
and async, `http` actions, the JWK set); the HTTP client is never left to read the environment
itself (aiohttp's `trust_env`, for one, also sent `~/.netrc`'s credentials to webhooks).
"""

from __future__ import annotations

import ipaddress
import os
from collections.abc import Mapping
from functools import lru_cache
from typing import NamedTuple
from urllib.parse import urlsplit

from yarl import URL

from handlers.execution.http11 import basic_credentials


class Route(NamedTuple):
    """How to reach a URL: through `proxy` (its URL without credentials), or directly (None).
    `authorization` is the proxy's Proxy-Authorization: sent with the CONNECT of an https:// URL,
    with the request itself (which goes to the proxy) for an http:// URL."""

    proxy: str | None = None
    authorization: str | None = None


DIRECT = Route()


class InvalidProxy(ValueError):
    """A proxy variable this server cannot use: it refuses to start rather than go around the proxy."""


def _variable(environ: Mapping[str, str], name: str) -> str | None:
    value = environ.get(name.lower())
    if value is None:
        value = environ.get(name.upper())
    if value is None or not value.strip():
        return None
    return value.strip()


def _proxy(variable: str, value: str) -> Route:
    url = URL(value if "://" in value else f"http://{value}")
    if url.scheme not in ("http", "https") or not url.host:
        raise InvalidProxy(f"{variable}={value!r} is not an http:// proxy URL")
    if url.user is None:
        return Route(str(url))
    return Route(str(url.with_user(None)), basic_credentials(url.user, url.password or ""))


class Proxies:
    def __init__(self, environ: Mapping[str, str]) -> None:
        self.by_scheme: dict[str, Route] = {}
        for scheme, variable in (("http", "HTTP_PROXY"), ("https", "HTTPS_PROXY")):
            value = _variable(environ, variable)
            if scheme == "http" and "REQUEST_METHOD" in environ:
                value = None
            if value is not None:
                self.by_scheme[scheme] = _proxy(variable, value)
        self.no_proxy = _variable(environ, "NO_PROXY") or ""
        self.bypass = NoProxy(self.no_proxy)
        self.route = lru_cache(maxsize=1024)(self._route) if self.by_scheme else _direct

    @classmethod
    def from_environment(cls) -> Proxies:
        return cls(os.environ)

    def _route(self, url: str) -> Route:
        try:
            parts = urlsplit(url)
            scheme, host, port = parts.scheme.lower(), parts.hostname, parts.port
        except ValueError:  # refused by the caller
            return DIRECT
        chosen = self.by_scheme.get(scheme)
        if chosen is None or not host or self.bypass.matches(host, port or DEFAULT_PORTS[scheme]):
            return DIRECT
        return chosen

    def describe(self) -> str | None:
        """The proxies in use, for the start-up log (credentials left out), or None."""
        if not self.by_scheme:
            return None
        used = [f"{scheme}:// through {route.proxy}" for scheme, route in sorted(self.by_scheme.items())]
        return ", ".join(used) + (f" (not for {self.no_proxy})" if self.no_proxy else "")


DEFAULT_PORTS = {"http": 80, "https": 443}


class NoProxy:
    """NO_PROXY's entries: `*`, host names and domains (a leading dot or none: the name and its
    subdomains), IP addresses, CIDR blocks (`10.0.0.0/8`), each with an optional `:port`."""

    def __init__(self, value: str) -> None:
        self.everything = False
        self.names: list[tuple[str, int | None]] = []
        self.networks: list[tuple[ipaddress.IPv4Network | ipaddress.IPv6Network, int | None]] = []
        for raw in value.split(","):
            entry = raw.strip().lower()
            if entry == "*":
                self.everything = True
            elif entry:
                name, port = _split_port(entry)
                try:
                    self.networks.append((ipaddress.ip_network(name, strict=False), port))
                except ValueError:
                    self.names.append((name.lstrip("."), port))

    def matches(self, host: str, port: int) -> bool:
        if self.everything:
            return True
        host = host.lower().rstrip(".")
        for name, wanted in self.names:
            if wanted in (None, port) and (host == name or host.endswith("." + name)):
                return True
        if self.networks:
            try:
                address = ipaddress.ip_address(host)
            except ValueError:
                return False
            return any(wanted in (None, port) and address in network for network, wanted in self.networks)
        return False


def _split_port(entry: str) -> tuple[str, int | None]:
    """`host:port`, `[v6]:port`, `v6`, `10.0.0.0/8` -> (host, port or None)."""
    if entry.startswith("["):
        host, _, rest = entry[1:].partition("]")
        return host, int(rest[1:]) if rest[:1] == ":" and rest[1:].isdigit() else None
    host, colon, port = entry.rpartition(":")
    if colon and ":" not in host and port.isdigit():
        return host, int(port)
    return entry, None


def _direct(url: str) -> Route:
    return DIRECT
