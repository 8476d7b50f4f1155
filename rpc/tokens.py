"""JWT sessions as Hasura reads them (HASURA_GRAPHQL_JWT_SECRET): the token from the
Authorization header or a cookie, verified with a configured key or a JWK set fetched from
`jwk_url`, checked for audience, issuer and expiry (with `allowed_skew`), and its claims found
under a namespace key, a JSON path (stringified or not), or mapped one by one by `claims_map`.

The JWK set is fetched at start-up and again when its Cache-Control max-age (or s-maxage, or
Expires) says it is stale; a failed fetch keeps the keys already held and is retried a minute
later. A token signed by a key the set does not hold yet triggers a fetch (at most every 10 s),
so a rotated key works without waiting for the refresh.
"""

from __future__ import annotations

import asyncio
import contextlib
import email.utils
import json
import logging
import re
import time
from collections.abc import Mapping
from http.cookies import CookieError, SimpleCookie
from typing import Any

import jwt
import msgspec

from handlers.execution.outgoing import CallFailed, Outgoing, Reply
from metadata.errors import SwitchboardError
from rpc.config import JwtSecret, parse_json_path

log = logging.getLogger("switchboard.jwt")
DEFAULT_NAMESPACE = "https://hasura.io/jwt/claims"
RETRY_SECONDS = 60.0  # after a failed fetch, as Hasura
UNKNOWN_KEY_FETCH_SECONDS = 10.0  # at most one fetch this often for tokens of unknown keys
FETCH_TIMEOUT = 10.0  # seconds
_MAX_AGE = re.compile(r"(?:^|[,\s])(?:s-maxage|max-age)\s*=\s*\"?(\d+)")


class InvalidJwt(SwitchboardError):
    code, status = "invalid-jwt", 401


class InvalidHeaders(SwitchboardError):
    code, status = "invalid-headers", 400


class InvalidClaims(SwitchboardError):
    code, status = "jwt-invalid-claims", 400


class MissingRoleClaims(SwitchboardError):
    code, status = "jwt-missing-role-claims", 400


# PyJWT's refusals under the names Hasura's (jose's) errors have.
_JOSE_NAMES: tuple[tuple[type[Exception], str], ...] = (
    (jwt.ExpiredSignatureError, "JWTExpired"),
    (jwt.ImmatureSignatureError, "JWTNotYetValid"),
    (jwt.InvalidAudienceError, "JWTNotInAudience"),
    (jwt.InvalidIssuerError, "JWTNotInIssuer"),
    (jwt.InvalidSignatureError, "JWSError JWSInvalidSignature"),
)


_MISSING = object()


def _follow(value: Any, steps: list[str | int]) -> Any:
    """The value at a JSON path, or _MISSING."""
    for step in steps:
        if isinstance(value, dict) and isinstance(step, str):
            value = value.get(step, _MISSING)
        elif isinstance(value, list) and isinstance(step, int):
            value = value[step] if step < len(value) else _MISSING
        else:
            return _MISSING
        if value is _MISSING:
            return value
    return value


def _text(value: Any) -> str:
    return value if isinstance(value, str) else json.dumps(value, separators=(",", ":"))


class JwtVerifier:
    def __init__(self, secret: JwtSecret) -> None:
        self.secret = secret
        self.namespace_path = (
            parse_json_path(secret.claims_namespace_path) if secret.claims_namespace_path is not None else None
        )
        self.claim_paths = {
            name: parse_json_path(spec["path"])
            for name, spec in (secret.claims_map or {}).items()
            if isinstance(spec, dict) and isinstance(spec.get("path"), str)
        }
        self.key: Any = None
        self.algorithm = ""
        if secret.key is not None:
            self.algorithm, self.key = secret.signing_key()
        self.keys: dict[str | None, jwt.PyJWK] = {}  # by kid (None: keys without one)
        self._fetched_at = 0.0
        self._refresher: asyncio.Task[None] | None = None
        self._fetching: asyncio.Lock | None = None

    # -- the key set --------------------------------------------------------------------------

    async def start(self, http: Outgoing) -> None:
        """Fetch the JWK set (when there is one to fetch) and keep it fresh."""
        if self.secret.jwk_url is None:
            return
        self._http = http
        self._fetching = asyncio.Lock()
        delay = await self._fetch()
        self._refresher = asyncio.create_task(self._refresh(delay))

    async def stop(self) -> None:
        if self._refresher is not None:
            self._refresher.cancel()
            await asyncio.gather(self._refresher, return_exceptions=True)

    async def _refresh(self, delay: float | None) -> None:
        while delay is not None:  # no Cache-Control or Expires: keep the keys (as Hasura does)
            await asyncio.sleep(delay)
            delay = await self._fetch()

    async def _fetch(self) -> float | None:
        """Fetch the set; returns when to fetch it again (None: never, unless a key is missing)."""
        assert self._fetching is not None and self.secret.jwk_url is not None
        async with self._fetching:
            self._fetched_at = time.monotonic()
            url = self.secret.jwk_url
            try:
                reply = await self._http.send("GET", url, {}, None, FETCH_TIMEOUT)
                if not 200 <= reply.status < 300:
                    raise ValueError(f"Non-2xx response ({reply.status})")
                keys = jwt.PyJWKSet.from_dict(msgspec.json.decode(reply.body)).keys
            except (CallFailed, TimeoutError, ValueError, msgspec.DecodeError, jwt.PyJWTError) as exc:
                # The keys already held stay in use.
                log.warning("fetching the JWK set from %s failed (%s); retrying in %.0f s", url, exc, RETRY_SECONDS)
                return RETRY_SECONDS
            self.keys = {key.key_id: key for key in keys}
            return _expiry(reply)

    async def _signing_key(self, token: str) -> tuple[Any, str]:
        if self.key is not None:
            return self.key, self.algorithm
        try:
            kid = jwt.get_unverified_header(token).get("kid")
        except jwt.PyJWTError as exc:
            raise InvalidJwt(f"Could not verify JWT: JWSError {exc}") from None
        found = self._key_for(kid)
        if found is None and time.monotonic() - self._fetched_at >= UNKNOWN_KEY_FETCH_SECONDS:
            await self._fetch()
            found = self._key_for(kid)
        if found is None:
            raise InvalidJwt("Could not verify JWT: JWSError NoUsableKeys")
        return found.key, found.algorithm_name

    def _key_for(self, kid: str | None) -> jwt.PyJWK | None:
        if kid is None and len(self.keys) == 1:  # a token without `kid` and a set of one key
            return next(iter(self.keys.values()))
        return self.keys.get(kid)

    # -- sessions -----------------------------------------------------------------------------

    def token(self, headers: Mapping[str, str]) -> str | None:
        """The raw token of a request, or None when the header it travels in is absent."""
        where = self.secret.header
        if where.type == "Authorization":
            if "authorization" not in headers:
                return None
            scheme, _, token = headers["authorization"].strip().partition(" ")
            if scheme != "Bearer" or not token.strip() or " " in token.strip():
                raise InvalidHeaders("Malformed Authorization header")
            return token.strip()
        if "cookie" not in headers:
            return None
        assert where.name is not None
        cookies: SimpleCookie = SimpleCookie()
        with contextlib.suppress(CookieError):
            cookies.load(headers["cookie"])
        if where.name not in cookies:
            raise InvalidHeaders(f"Could not find {where.name} in Cookie header")
        return cookies[where.name].value

    async def claims(self, token: str) -> tuple[dict[str, Any], float | None]:
        """The verified token's x-hasura-* claims (lowercased), allowed and default role included,
        and when it expires (its `exp`, if it has one)."""
        key, algorithm = await self._signing_key(token)
        secret = self.secret
        try:
            claims = jwt.decode(
                token,
                key,
                algorithms=[algorithm],
                audience=secret.audience,
                issuer=secret.issuer,
                leeway=secret.allowed_skew or 0,
                options={"verify_aud": secret.audience is not None},
            )
        except jwt.PyJWTError as exc:
            name = next((name for kind, name in _JOSE_NAMES if isinstance(exc, kind)), str(exc))
            raise InvalidJwt(f"Could not verify JWT: {name}") from None
        exp = claims.get("exp")
        expires_at = float(exp) if isinstance(exp, int | float) and not isinstance(exp, bool) else None
        if secret.claims_map is not None:
            return self._mapped(claims), expires_at
        return self._namespaced(claims), expires_at

    def _namespaced(self, claims: dict[str, Any]) -> dict[str, Any]:
        secret = self.secret
        if self.namespace_path is not None:
            value = _follow(claims, self.namespace_path)
            where, missing = (
                f"claims_namespace_path {secret.claims_namespace_path}",
                f"claims not found at claims_namespace_path: '{secret.claims_namespace_path}'",
            )
        else:
            namespace = secret.claims_namespace or DEFAULT_NAMESPACE
            value = claims.get(namespace, _MISSING)
            where, missing = f"claims_namespace {namespace}", f"claims key: '{namespace}' not found"
        if value is _MISSING:
            raise InvalidClaims(missing)
        if secret.claims_format == "stringified_json":
            if not isinstance(value, str):
                raise InvalidClaims("expecting a string when claims_format is stringified_json")
            try:
                value = json.loads(value)
            except ValueError:
                raise InvalidClaims(f"expecting stringified json at: '{where}', but found: {value}") from None
        if not isinstance(value, dict):
            raise InvalidClaims(f"expecting a json object when claims_format is {secret.claims_format}")
        return {str(k).lower(): v for k, v in value.items() if str(k).lower().startswith("x-hasura-")}

    def _mapped(self, claims: dict[str, Any]) -> dict[str, Any]:
        out: dict[str, Any] = {}
        assert self.secret.claims_map is not None
        for name, spec in self.secret.claims_map.items():
            if name in self.claim_paths:
                value = _follow(claims, self.claim_paths[name])
                if value is _MISSING:
                    value = spec.get("default", _MISSING)
                if value is _MISSING:
                    if name in ("x-hasura-allowed-roles", "x-hasura-default-role"):
                        raise MissingRoleClaims(f"JWT claim does not contain {name}")
                    raise InvalidClaims(f"JWT claim from claims_map, {name} not found")
            else:
                value = spec
            out[name.lower()] = value
        return out

    @staticmethod
    def variables(claims: dict[str, Any]) -> dict[str, str]:
        return {k: _text(v) for k, v in claims.items()}


def _expiry(reply: Reply) -> float | None:
    """Seconds until the fetched set is stale, from Cache-Control (max-age, s-maxage) or Expires."""
    cache_control = reply.header("Cache-Control")
    if cache_control:
        match = _MAX_AGE.search(cache_control)
        if match:
            return float(match.group(1))
    expires = reply.header("Expires")
    if expires:
        with contextlib.suppress(TypeError, ValueError):
            moment = email.utils.parsedate_to_datetime(expires)
            return max(0.0, moment.timestamp() - time.time())
    return None
