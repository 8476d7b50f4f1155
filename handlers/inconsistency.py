"""reload_metadata, get_inconsistent_metadata, drop_inconsistent_metadata.

reload_metadata {reload_remote_schemas?, reload_sources?, recreate_event_triggers?,
reload_data_connectors?}: re-reads the whole current version from the store (Hasura's flags are
accepted and have nothing to reload here); answers {message, is_consistent,
inconsistent_objects?}. It changes no metadata, so it creates no version.
get_inconsistent_metadata {}: {is_consistent, inconsistent_objects}.
drop_inconsistent_metadata {}: removes every inconsistent object (actions whose types do not
resolve, sections Switchboard does not serve).
"""

from __future__ import annotations

from typing import Any

from handlers.context import Context
from metadata.consistency import inconsistent_actions, inconsistent_objects, unserved_section_names
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


async def reload_metadata(ctx: Context, args: ReloadMetadata) -> dict[str, Any]:
    await ctx.store.reload()
    ctx.runtime.engines.forget_tables()  # tables are introspected again on next use
    objects = inconsistent_objects(ctx.store.state)
    body: dict[str, Any] = {"message": "success", "is_consistent": not objects}
    if objects:
        body["inconsistent_objects"] = objects
    return body


async def get_inconsistent_metadata(ctx: Context, args: GetInconsistentMetadata) -> dict[str, Any]:
    objects = inconsistent_objects(ctx.store.state)
    return {"is_consistent": not objects, "inconsistent_objects": objects}


async def drop_inconsistent_metadata(ctx: Context, args: DropInconsistentMetadata) -> None:
    draft = ctx.changing
    for entry in inconsistent_actions(draft):
        draft.delete("action", entry["definition"]["name"])
    for section in unserved_section_names(draft):
        draft.delete("section", section)
