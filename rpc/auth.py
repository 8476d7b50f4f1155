"""Who is calling: admin secret, API key, JWT, role header and session variables, as Hasura reads them.

* No admin secret configured: the role is X-Hasura-Role (admin by default) and the session
  variables are the X-Hasura-* headers.
* An admin secret configured and sent (X-Hasura-Admin-Secret, or the old X-Hasura-Access-Key):
  it must match (constant time); the admin may act as another role and set session variables.
* An API key (X-Api-Key, from create_api_key): its role; an admin key acts as the admin secret.
* No secret sent: a JWT (rpc/tokens.py) when jwt_secret is configured, its claims giving the
  allowed roles, the default role and the session variables; else the unauthorized_role when
  configured, with no user session variables; else 401.
"""

from __future__ import annotations

import hmac
import time
from collections.abc import Mapping
from typing import Any

from handlers.context import ADMIN_ROLE, Session
from metadata.api_keys import ApiKeys
from metadata.errors import AccessDenied, Unauthorized
from rpc.config import Config
from rpc.tokens import InvalidClaims, InvalidHeaders, JwtVerifier, MissingRoleClaims

SECRET_HEADER = "x-hasura-admin-secret"
LEGACY_SECRET_HEADER = "x-hasura-access-key"  # Hasura still accepts its old name
ROLE = "x-hasura-role"
API_KEY = "x-api-key"
MISSING_TOKEN = "Missing 'Authorization' or 'Cookie' header in JWT authentication mode"  # Hasura's newest words


class Authenticator:
    """Turns a request's headers into a session; built once per server."""

    def __init__(self, config: Config, api_keys: ApiKeys) -> None:
        self.config = config
        self.api_keys = api_keys
        self.jwt = JwtVerifier(config.jwt_secret) if config.jwt_secret is not None else None

    async def session(self, headers: Mapping[str, str]) -> Session:
        config = self.config
        lowered = {name.lower(): value for name, value in headers.items()}
        variables = {
            name: value
            for name, value in lowered.items()
            if name.startswith("x-hasura-") and name not in (SECRET_HEADER, LEGACY_SECRET_HEADER)
        }
        given = lowered.get(SECRET_HEADER, lowered.get(LEGACY_SECRET_HEADER))
        if given is not None or (config.admin_secret is None and API_KEY not in lowered):
            if config.admin_secret is not None and not hmac.compare_digest(
                (given or "").encode(), config.admin_secret.encode()
            ):
                raise Unauthorized("invalid x-hasura-admin-secret/x-hasura-access-key")
            return _admin(variables, lowered)
        if API_KEY in lowered:
            return await self._key_session(lowered, variables)
        if self.jwt is not None:
            token = self.jwt.token(lowered)
            if token is not None:
                return await self._jwt_session(self.jwt, token, lowered)
        if config.unauthorized_role is not None:
            role = config.unauthorized_role
            return Session(role=role, variables={ROLE: role}, headers=lowered)
        if self.jwt is not None:
            raise InvalidHeaders(MISSING_TOKEN)
        raise Unauthorized("x-hasura-admin-secret/x-hasura-access-key required, but not found")

    async def _key_session(self, headers: dict[str, str], variables: dict[str, str]) -> Session:
        key = await self.api_keys.find(headers[API_KEY])
        if key is None:
            raise Unauthorized("invalid x-api-key")
        if key.expired(time.time()):
            raise Unauthorized("x-api-key has expired")
        if key.role == ADMIN_ROLE:  # as the admin secret: may act as another role
            return _admin(variables, headers, key.expires_at, key.hash)
        variables = {ROLE: key.role}
        return Session(key.role, variables, headers, expires_at=key.expires_at, api_key=key.hash)

    async def _jwt_session(self, verifier: JwtVerifier, token: str, headers: dict[str, str]) -> Session:
        claims, expires_at = await verifier.claims(token)
        allowed: Any = claims.pop("x-hasura-allowed-roles", None)
        default: Any = claims.pop("x-hasura-default-role", None)
        if allowed is None:
            raise MissingRoleClaims("JWT claim does not contain x-hasura-allowed-roles")
        if default is None:
            raise MissingRoleClaims("JWT claim does not contain x-hasura-default-role")
        if not isinstance(allowed, list) or not all(isinstance(r, str) for r in allowed):
            raise InvalidClaims("invalid x-hasura-allowed-roles; should be a list of roles")
        if not isinstance(default, str):
            raise InvalidClaims("invalid x-hasura-default-role; should be a single role name")
        role = headers.get(ROLE, default)
        if role not in allowed:
            raise AccessDenied("Your requested role is not in allowed roles")
        variables = verifier.variables(claims)
        variables[ROLE] = role
        if not all(_storable(value) for value in variables.values()):
            # The role and user id are kept with the runs a session starts, sent to handlers and
            # logged: PostgreSQL's text holds no NUL, and a lone surrogate (JSON's "\ud800") is no
            # character UTF-8 can carry. Headers cannot hold either: tokens are the only way in.
            raise InvalidClaims("session variables may not contain NUL characters or lone surrogates")
        return Session(role=role, variables=variables, headers=headers, expires_at=expires_at)


def _storable(value: str) -> bool:
    if "\x00" in value:
        return False
    try:
        value.encode()
    except UnicodeEncodeError:
        return False
    return True


def _admin(
    variables: dict[str, str], headers: dict[str, str], expires_at: float | None = None, api_key: str | None = None
) -> Session:
    role = variables.setdefault(ROLE, ADMIN_ROLE)
    return Session(role=role, variables=variables, headers=headers, expires_at=expires_at, api_key=api_key)
