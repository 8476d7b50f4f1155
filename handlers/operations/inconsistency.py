"""reload_metadata, get_inconsistent_metadata, drop_inconsistent_metadata.

reload_metadata {reload_remote_schemas?, reload_sources?, recreate_event_triggers?,
reload_data_connectors?}: re-reads the whole current version from the store (Hasura's flags are
accepted and have nothing to reload here); answers {message, is_consistent,
inconsistent_objects?}. It changes no metadata, so it creates no version.
get_inconsistent_metadata {}: {is_consistent, inconsistent_objects}.
Both also try every data source (5 s at most each, in parallel): one that cannot be reached is
reported, with the actions that use it, and so is a table action whose table is gone or lacks
the primary key it needs; the server stays healthy.
drop_inconsistent_metadata {}: removes every inconsistent object (actions whose types do not
resolve or that may not run, public links whose action is gone, inherited roles with a parent
nobody knows, sections Switchboard does not serve); a source that is only unreachable is left
alone, as it may come back.
"""

from __future__ import annotations

import asyncio
from typing import Any

import msgspec

from handlers.context import Context
from handlers.execution.table_action import check_table, table_of
from handlers.operations.actions import remove_action
from metadata.consistency import (
    action_entry,
    dangling_links,
    inconsistent_actions,
    inconsistent_objects,
    relationship_entry,
    relationship_target,
    unknown_sources,
    unserved_section_names,
)
from metadata.data_sources import masked
from metadata.errors import SwitchboardError
from metadata.hasura_sources import served_source
from metadata.hasura_sources import sources as hasura_sources
from metadata.roles import missing_parents
from metadata.strict import Strict

Flag = bool | list[str]


class ReloadMetadata(Strict):
    reload_remote_schemas: Flag = True
    reload_sources: Flag = True
    recreate_event_triggers: Flag = False
    reload_data_connectors: Flag = True


class GetInconsistentMetadata(Strict):
    pass


class DropInconsistentMetadata(Strict):
    pass


async def _live_problems(ctx: Context) -> list[dict[str, Any]]:
    """Sources that cannot be reached now, with the actions that use them, and table actions
    whose table is gone or no longer fits (a replace_metadata does not look at databases)."""
    view = ctx.store.state
    own = {name: msgspec.to_builtins(masked(item.value)) for name, item in view.items("source")}
    # A Hasura source served through its own URL is reported with its entry, as Hasura reports it.
    definitions = {str(e.get("name")): e for e in hasura_sources(view) if e.get("name") not in own} | own
    sources = [s for name in sorted(definitions) if (s := served_source(view, name)) is not None]
    for source in sources:
        if source.name not in own and source.url is not None:  # its password is not answered either
            definitions[source.name] = _with_url(definitions[source.name], masked(source).url)
    probes = await asyncio.gather(*(ctx.runtime.engines.probe(source) for source in sources))
    reasons = {source.name: reason for source, reason in zip(sources, probes, strict=True)}
    out = [
        {
            "definition": definitions[source.name],
            "name": f"source {source.name}",
            "reason": f"Inconsistent object: {reasons[source.name]}",
            "type": "source",
        }
        for source in sources
        if reasons[source.name] is not None
    ]
    for _, item in sorted(view.items("action")):
        action = item.value
        source = action.definition.source
        if source not in reasons:
            continue
        reason = reasons[source]
        if reason is None and action.definition.table is not None:
            try:
                _, table = await table_of(ctx.runtime, action, view)
                reason = check_table(action, table)
            except SwitchboardError as exc:
                reason = exc.message
        if reason is not None:
            out.append(action_entry(action, f"Inconsistent object: {reason}"))
    return out + await _relationship_tables(ctx, reasons)


def _with_url(entry: dict[str, Any], url: str | None) -> dict[str, Any]:
    configuration = entry.get("configuration") or {}
    info = {**configuration.get("connection_info", {}), "database_url": url}
    return {**entry, "configuration": {**configuration, "connection_info": info}}


async def _relationship_tables(ctx: Context, reasons: dict[str, str | None]) -> list[dict[str, Any]]:
    """Relationships whose table is not in its (reachable) database, or lacks a mapped column."""
    view = ctx.store.state
    out = []
    for owner, item in sorted(view.items("object")):
        for relationship in item.value.relationships or []:
            target = relationship_target(view, relationship)
            if isinstance(target, str) or reasons.get(target[0]) is not None:
                continue  # reported already: the source is unknown or unreachable
            source_name, schema, name = target
            source = served_source(view, source_name)
            assert source is not None  # relationship_target checked it
            engines = ctx.runtime.engines
            try:
                table = await engines.table(source, engines.schema_of(source, schema), name)
            except SwitchboardError as exc:
                out.append(relationship_entry(owner, relationship, exc.message))
                continue
            missing = sorted(c for c in (relationship.get("field_mapping") or {}).values() if c not in table.columns)
            if missing:
                problem = f'table "{name}" has no column {", ".join(missing)}'
                out.append(relationship_entry(owner, relationship, problem))
    return out


async def _report(ctx: Context) -> list[dict[str, Any]]:
    return inconsistent_objects(ctx.store.state) + await _live_problems(ctx)


async def reload_metadata(ctx: Context, args: ReloadMetadata) -> dict[str, Any]:
    await ctx.store.reload()
    ctx.runtime.engines.forget_tables()  # tables are introspected again on next use
    objects = await _report(ctx)
    body: dict[str, Any] = {"message": "success", "is_consistent": not objects}
    if objects:
        body["inconsistent_objects"] = objects
    return body


async def get_inconsistent_metadata(ctx: Context, args: GetInconsistentMetadata) -> dict[str, Any]:
    objects = await _report(ctx)
    return {"is_consistent": not objects, "inconsistent_objects": objects}


async def drop_inconsistent_metadata(ctx: Context, args: DropInconsistentMetadata) -> None:
    draft = ctx.changing
    for entry in inconsistent_actions(draft):
        remove_action(draft, entry["definition"]["name"], clear_data=False)
    for entry in dangling_links(draft):
        draft.delete("public_link", entry["definition"]["action"])
    for entry in missing_parents(draft):
        draft.delete("inherited_role", entry["definition"]["role_name"])
    for section in unserved_section_names(draft):
        draft.delete("section", section)
    unknown = {entry["name"] for entry in unknown_sources(draft)}
    if unknown:
        kept = [e for e in hasura_sources(draft) if f"source {e.get('name')}" not in unknown]
        draft.put("section", "sources", kept)
