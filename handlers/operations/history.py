"""get_metadata_history, diff_metadata, rollback_metadata: every version is kept.

get_metadata_history {limit? (100), before?}: newest first, {versions: [{resource_version,
created_at, operation, role}]}; `before` pages back (versions older than it).
diff_metadata {from_version, to_version?}: {from_version, to_version, added, removed, changed,
graphql}, each entry {type, name, definition} (changed: {type, name, from, to}); `graphql` is
{breaking, dangerous}: what the change does to each role's GraphQL schema (handlers/graphql/
changes.py). to_version defaults to the current version.
rollback_metadata {to_version}: a new version whose document equals that of `to_version`
(nothing happens when it already does).

Errors: parse-failed; not-exists for an unknown version, with its path.
"""

from __future__ import annotations

from typing import Annotated, Any

import msgspec

from handlers.context import Context
from handlers.graphql.changes import graphql_changes
from handlers.operations.versions import state_at
from metadata.diff import between
from metadata.strict import StoredInt, Strict


class GetMetadataHistory(Strict):
    limit: Annotated[int, msgspec.Meta(ge=1, le=10_000)] = 100
    before: StoredInt | None = None


class DiffMetadata(Strict):
    from_version: StoredInt
    to_version: StoredInt | None = None


class RollbackMetadata(Strict):
    to_version: StoredInt


async def get_metadata_history(ctx: Context, args: GetMetadataHistory) -> dict[str, Any]:
    return {"versions": await ctx.store.history(args.limit, args.before)}


async def diff_metadata(ctx: Context, args: DiffMetadata) -> dict[str, Any]:
    to_version = ctx.store.resource_version if args.to_version is None else args.to_version
    old = await state_at(ctx, args.from_version, "$.from_version")
    new = await state_at(ctx, to_version, "$.to_version")
    changes = between(old, new)
    graphql = await graphql_changes(ctx.runtime, old, new, changes)
    return {"from_version": args.from_version, "to_version": to_version, **changes, "graphql": graphql}


async def rollback_metadata(ctx: Context, args: RollbackMetadata) -> None:
    target = await state_at(ctx, args.to_version, "$.to_version")
    draft = ctx.changing
    draft.replace(target.all_items())
    draft.allow_inconsistent = True  # a restore brings back exactly what was accepted then
