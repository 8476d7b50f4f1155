"""pg_track_table, pg_untrack_table, pg_create_select_permission, pg_drop_select_permission (and
Hasura's older names: track_table, untrack_table, create_select_permission, drop_select_permission):
the tables action relationships point at, and what each role may read of them.

They change Hasura's `sources` section as Hasura writes it (kept whole, exported back): a source
there names one of Switchboard's data sources (`default` by default), or has a database URL of
its own (metadata/hasura_sources.py `served_source`).

pg_track_table {source?, table}: the table (`"name"` or `{schema, name}`) must exist in the source.
pg_create_select_permission {source?, table, role, permission: {columns: [...] | "*", filter?,
limit?}, comment?}: on a tracked table; filters are Hasura's boolean expressions, with session
variables (`X-Hasura-User-Id`). A role without one does not see relationships to the table.

Errors: not-exists (no such data source, table, tracked table or permission), already-exists (a
table tracked twice, a permission defined twice), parse-failed.
"""

from __future__ import annotations

from typing import Any

import msgspec

from handlers.context import Context
from handlers.execution.engines import data_source
from metadata.errors import AlreadyExists, NotExists
from metadata.hasura_sources import DEFAULT_SOURCE, find, qualified, with_table
from metadata.strict import Strict

Table = str | dict[str, Any]


class TrackTable(Strict):
    table: Table
    source: str = DEFAULT_SOURCE
    configuration: dict[str, Any] | None = None
    is_enum: bool | None = None
    apollo_federation_config: Any = None


class TrackTableV1(Strict):
    """Hasura's v1 track_table: the table itself ({schema?, name}) as the args."""

    name: str
    schema: str | None = None
    is_enum: bool | None = None


class UntrackTable(Strict):
    table: Table
    source: str = DEFAULT_SOURCE
    cascade: bool = False


class SelectPermissionBody(Strict):
    columns: list[str] | str
    filter: dict[str, Any] = {}
    limit: int | None = None
    allow_aggregations: bool | None = None
    computed_fields: list[str] | None = None
    query_root_fields: list[str] | None = None
    subscription_root_fields: list[str] | None = None

    def __post_init__(self) -> None:
        if isinstance(self.columns, str) and self.columns != "*":
            raise ValueError('columns must be a list of column names, or "*"')


class CreateSelectPermission(Strict):
    table: Table
    role: str
    permission: SelectPermissionBody
    source: str = DEFAULT_SOURCE
    comment: str | None = None


class DropSelectPermission(Strict):
    table: Table
    role: str
    source: str = DEFAULT_SOURCE


def _table(table: Table) -> tuple[str | None, str]:
    try:
        return qualified(table)
    except ValueError as exc:
        raise NotExists(str(exc), "$.table") from None


async def pg_track_table(ctx: Context, args: TrackTable) -> None:
    draft = ctx.changing
    schema, name = _table(args.table)
    try:
        source = data_source(draft, args.source)
    except NotExists:
        raise NotExists(f'source with name "{args.source}" does not exist', "$.source") from None
    if find(draft, args.source, schema, name) is not None:
        raise AlreadyExists(f'view/table already tracked: "{name}"', "$.table")
    ctx.runtime.engines.forget_tables()
    try:
        await ctx.runtime.engines.table(source, ctx.runtime.engines.schema_of(source, schema), name)
    except NotExists:
        raise NotExists(f'no such table/view exists in source: "{name}"', "$.table") from None
    entry: dict[str, Any] = {"table": {"name": name, "schema": schema or "public"}}
    if args.configuration:
        entry["configuration"] = args.configuration
    draft.put("section", "sources", with_table(draft, args.source, schema, name, lambda _: entry))


async def track_table(ctx: Context, args: TrackTableV1) -> None:
    await pg_track_table(ctx, TrackTable(table={"name": args.name, "schema": args.schema or "public"}))


async def pg_untrack_table(ctx: Context, args: UntrackTable) -> None:
    draft = ctx.changing
    schema, name = _table(args.table)
    if find(draft, args.source, schema, name) is None:
        raise NotExists(f'view/table "{name}" is not tracked', "$.table")
    draft.put("section", "sources", with_table(draft, args.source, schema, name, lambda _: None))


async def untrack_table(ctx: Context, args: UntrackTable) -> None:
    await pg_untrack_table(ctx, args)


def _tracked(ctx: Context, source: str, table: Table) -> tuple[str | None, str, dict[str, Any]]:
    schema, name = _table(table)
    entry = find(ctx.changing, source, schema, name)
    if entry is None:
        raise NotExists(f'table "{name}" does not exist in source: {source}', "$.table")
    return schema, name, entry


async def pg_create_select_permission(ctx: Context, args: CreateSelectPermission) -> None:
    schema, name, entry = _tracked(ctx, args.source, args.table)
    permissions = list(entry.get("select_permissions") or [])
    if any(isinstance(p, dict) and p.get("role") == args.role for p in permissions):
        raise AlreadyExists(f'select permission already defined on table "{name}" with role "{args.role}"', "$.role")
    permission: dict[str, Any] = {"role": args.role, "permission": msgspec.to_builtins(args.permission)}
    permission["permission"].setdefault("filter", {})
    if args.comment is not None:
        permission["comment"] = args.comment
    changed = {**entry, "select_permissions": [*permissions, permission]}
    draft = ctx.changing
    draft.put("section", "sources", with_table(draft, args.source, schema, name, lambda _: changed))


async def pg_drop_select_permission(ctx: Context, args: DropSelectPermission) -> None:
    schema, name, entry = _tracked(ctx, args.source, args.table)
    permissions = [
        p for p in entry.get("select_permissions") or [] if not (isinstance(p, dict) and p.get("role") == args.role)
    ]
    if len(permissions) == len(entry.get("select_permissions") or []):
        raise NotExists(f'select permission on "{name}" for role "{args.role}" does not exist', "$.role")
    changed = {k: v for k, v in entry.items() if k != "select_permissions"}
    if permissions:
        changed["select_permissions"] = permissions
    draft = ctx.changing
    draft.put("section", "sources", with_table(draft, args.source, schema, name, lambda _: changed))
