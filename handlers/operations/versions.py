"""Looking up past versions, shared by the operations that read or restore them."""

from __future__ import annotations

from handlers.context import Context
from metadata.errors import NotExists
from metadata.objects import State


async def state_at(ctx: Context, version: int, path: str) -> State:
    """The objects of `version`; the current version is served from memory."""
    if version == ctx.store.resource_version:
        return ctx.store.state
    if not await ctx.store.has_version(version):
        raise NotExists(f"resource version {version} does not exist", path)
    return await ctx.store.state_at(version)
