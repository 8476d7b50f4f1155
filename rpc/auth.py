"""Who is calling: the admin secret and the role header, as Hasura reads them.

No secret configured: the role is X-Hasura-Role, admin by default. A secret configured:
X-Hasura-Admin-Secret must match it (compared in constant time), and an admin may then act as
another role through X-Hasura-Role.
"""

from __future__ import annotations

import hmac
from collections.abc import Mapping

from handlers.context import ADMIN_ROLE, Session
from metadata.errors import Unauthorized
from rpc.config import Config

SECRET_HEADER = "x-hasura-admin-secret"
LEGACY_SECRET_HEADER = "x-hasura-access-key"  # Hasura still accepts its old name


def authenticate(headers: Mapping[str, str], config: Config) -> Session:
    if config.admin_secret is not None:
        given = headers.get(SECRET_HEADER, headers.get(LEGACY_SECRET_HEADER))
        if given is None:
            raise Unauthorized("x-hasura-admin-secret/x-hasura-access-key required, but not found")
        if not hmac.compare_digest(given.encode(), config.admin_secret.encode()):
            raise Unauthorized("invalid x-hasura-admin-secret/x-hasura-access-key")
    variables = {
        name.lower(): value
        for name, value in headers.items()
        if name.lower().startswith("x-hasura-") and name.lower() not in (SECRET_HEADER, LEGACY_SECRET_HEADER)
    }
    return Session(role=variables.get("x-hasura-role", ADMIN_ROLE), variables=variables)
