"""create_api_key, list_api_keys, revoke_api_key: credentials for scripts and CI (admin only).

create_api_key {name, role, expires_at?}: a new key for `role`, answered once as
{name, role, key, key_prefix, created_at, expires_at}; only its hash is stored. Callers send it
as `X-Api-Key`. expires_at is an ISO 8601 time (UTC when it names no zone) in the future.
list_api_keys {}: {api_keys: [{name, role, key_prefix, created_at, expires_at, last_used_at,
expired}]}, never the keys.
revoke_api_key {name}: the key stops working at once, on every server.
Keys are not metadata: creating or revoking one makes no version, and exports never hold them.

Errors: parse-failed (a malformed name or time), validation-failed (expires_at in the past),
already-exists (the name is taken), not-exists (revoking an unknown name).
"""

from __future__ import annotations

import time
from datetime import UTC, datetime
from typing import Any

from handlers.context import Context
from metadata.actions import RoleName
from metadata.errors import AlreadyExists, NotExists, ValidationFailed
from metadata.strict import Strict


class CreateApiKey(Strict):
    name: RoleName
    role: RoleName
    expires_at: datetime | None = None


class ListApiKeys(Strict):
    pass


class RevokeApiKey(Strict):
    name: RoleName


async def create_api_key(ctx: Context, args: CreateApiKey) -> dict[str, Any]:
    expires_at = None
    if args.expires_at is not None:
        moment = args.expires_at if args.expires_at.tzinfo else args.expires_at.replace(tzinfo=UTC)
        try:
            # It is kept as a timestamp and shown back in UTC, where 9999-12-31T23:00:00-05:00
            # (and 9999-12-31T23:59:59.999999, once rounded to a float) is past the last year.
            expires_at = moment.astimezone(UTC).timestamp()
            datetime.fromtimestamp(expires_at, UTC)
        except (OverflowError, ValueError):
            raise ValidationFailed("expires_at is out of range", "$.expires_at") from None
        if expires_at <= time.time():
            raise ValidationFailed("expires_at is in the past", "$.expires_at")
    created = await ctx.runtime.api_keys.create(args.name, args.role, expires_at)
    if created is None:
        raise AlreadyExists(f'api key with name "{args.name}" already exists', "$.name")
    key, record = created
    listing = record.listing()
    return {"name": record.name, "role": record.role, "key": key, **{k: listing[k] for k in _SHOWN}}


_SHOWN = ("key_prefix", "created_at", "expires_at")


async def list_api_keys(ctx: Context, args: ListApiKeys) -> dict[str, Any]:
    return {"api_keys": [key.listing() for key in await ctx.runtime.api_keys.all()]}


async def revoke_api_key(ctx: Context, args: RevokeApiKey) -> dict[str, Any]:
    if not await ctx.runtime.api_keys.revoke(args.name):
        raise NotExists(f'api key with name "{args.name}" does not exist', "$.name")
    return {"message": "success"}
