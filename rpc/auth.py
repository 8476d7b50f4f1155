"""Who is calling: admin secret, JWT, role header and session variables, as Hasura reads them.

* No admin secret configured: the role is X-Hasura-Role (admin by default) and the session
  variables are the X-Hasura-* headers.
* An admin secret configured and sent (X-Hasura-Admin-Secret, or the old X-Hasura-Access-Key):
  it must match (constant time); the admin may act as another role and set session variables.
* An API key (X-Api-Key, from create_api_key): its role; an admin key acts as the admin secret.
* No secret sent: a JWT (`Authorization: Bearer`) when jwt_secret is configured, its claims
  giving the allowed roles, the default role and the session variables; else the
  unauthorized_role when configured, with no user session variables; else 401.
"""

from __future__ import annotations

import hmac
import time
from collections.abc import Mapping
from typing import Any

import jwt

from handlers.context import ADMIN_ROLE, Session
from metadata.api_keys import ApiKeys
from metadata.errors import AccessDenied, SwitchboardError, Unauthorized
from rpc.config import Config, JwtSecret

SECRET_HEADER = "x-hasura-admin-secret"
LEGACY_SECRET_HEADER = "x-hasura-access-key"  # Hasura still accepts its old name
ROLE = "x-hasura-role"
API_KEY = "x-api-key"


class InvalidJwt(SwitchboardError):
    code, status = "invalid-jwt", 401


class InvalidHeaders(SwitchboardError):
    code, status = "invalid-headers", 400


class InvalidClaims(SwitchboardError):
    code, status = "jwt-invalid-claims", 400


class MissingRoleClaims(SwitchboardError):
    code, status = "jwt-missing-role-claims", 400


class Authenticator:
    """Turns a request's headers into a session; built once per server."""

    def __init__(self, config: Config, api_keys: ApiKeys) -> None:
        self.config = config
        self.api_keys = api_keys

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
        if config.jwt_secret is not None and "authorization" in lowered:
            return _jwt_session(lowered, config.jwt_secret)
        if config.unauthorized_role is not None:
            role = config.unauthorized_role
            return Session(role=role, variables={ROLE: role}, headers=lowered)
        if config.jwt_secret is not None:
            raise InvalidHeaders("Missing Authorization header in JWT authentication mode")
        raise Unauthorized("x-hasura-admin-secret/x-hasura-access-key required, but not found")

    async def _key_session(self, headers: dict[str, str], variables: dict[str, str]) -> Session:
        key = await self.api_keys.find(headers[API_KEY])
        if key is None:
            raise Unauthorized("invalid x-api-key")
        if key.expired(time.time()):
            raise Unauthorized("x-api-key has expired")
        if key.role == ADMIN_ROLE:  # as the admin secret: may act as another role
            return _admin(variables, headers)
        return Session(role=key.role, variables={ROLE: key.role}, headers=headers)


def _admin(variables: dict[str, str], headers: dict[str, str]) -> Session:
    role = variables.setdefault(ROLE, ADMIN_ROLE)
    return Session(role=role, variables=variables, headers=headers)


def _jwt_session(headers: dict[str, str], secret: JwtSecret) -> Session:
    scheme, _, token = headers["authorization"].partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        raise InvalidHeaders("Malformed Authorization header")
    try:
        claims = jwt.decode(token.strip(), secret.key, algorithms=[secret.type], options={"verify_aud": False})
    except jwt.ExpiredSignatureError:
        raise InvalidJwt("Could not verify JWT: JWTExpired") from None
    except jwt.PyJWTError as exc:
        raise InvalidJwt(f"Could not verify JWT: {exc}") from None
    namespace: Any = claims.get(secret.claims_namespace)
    if not isinstance(namespace, dict):
        raise InvalidClaims(f"claims key: '{secret.claims_namespace}' not found")
    hasura = {str(k).lower(): v for k, v in namespace.items()}
    allowed = hasura.pop("x-hasura-allowed-roles", None)
    default = hasura.pop("x-hasura-default-role", None)
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
    variables = {k: v if isinstance(v, str) else str(v) for k, v in hasura.items() if k.startswith("x-hasura-")}
    variables[ROLE] = role
    return Session(role=role, variables=variables, headers=headers)
