"""Models: cards of type "model", the ground Metabase's actions stand on (nothing else of cards).

POST /api/card {name, dataset_query, display?, visualization_settings?, type: "model"} (superusers):
a model on one table of a database ({"database": id, "type": "query", "query": {"source-table": id}})
or a native query ({"database": id, "type": "native", "native": {...}}); GET/PUT/DELETE
/api/card/:id (DELETE drops the model's actions too, as Metabase's does: 204).
"""

from __future__ import annotations

import secrets
from typing import Any

import msgspec

from handlers.context import Context
from handlers.dispatch import change
from handlers.metabase.databases import source_of, table_name, table_ref
from handlers.metabase.errors import Invalid, NotFound
from handlers.metabase.payloads import CardChange, NewCard, decode, non_blank
from handlers.metabase.service import Caller, Metabase, now_iso
from handlers.operations.actions import remove_action
from metadata.metabase import MetabaseAction, MetabaseModel
from metadata.objects import View


async def model_of(mb: Metabase, card_id: int) -> MetabaseModel:
    entity = await mb.ids.name("card", card_id)
    model = mb.runtime.store.state.get("metabase_model", entity) if entity is not None else None
    if not isinstance(model, MetabaseModel) or model.archived:
        raise NotFound()
    return model


async def _query_of(mb: Metabase, dataset_query: dict[str, Any]) -> dict[str, Any]:
    """The model's fields from Metabase's dataset_query: its table, or its source and native query."""
    database = dataset_query.get("database")
    if not isinstance(database, int) or isinstance(database, bool):
        raise Invalid({"dataset_query": "value must be a map with a database id."})
    source = await source_of(mb, database)
    kind = dataset_query.get("type")
    if kind == "native":
        native = dataset_query.get("native")
        if not isinstance(native, dict) or not isinstance(native.get("query"), str):
            raise Invalid({"dataset_query": "a native query needs native.query."})
        return {"source": source.name, "native": native, "table": None}
    query = dataset_query.get("query")
    table_id = query.get("source-table") if isinstance(query, dict) else None
    ref = await table_ref(mb, table_id) if isinstance(table_id, int) and not isinstance(table_id, bool) else None
    if ref is None or ref.source != source.name:
        raise Invalid({"dataset_query": "query.source-table must be a table of the database."})
    return {"table": ref, "source": None, "native": None}


async def card_json(mb: Metabase, model: MetabaseModel, caller: Caller) -> dict[str, Any]:
    view = mb.runtime.store.state
    card_id = await mb.ids.id("card", model.entity_id)
    database_id = await mb.ids.id("database", model.source_name) if view.get("source", model.source_name) else None
    table_id = await mb.ids.id("table", table_name(model.table)) if model.table is not None else None
    dataset_query: dict[str, Any] = {"database": database_id}
    if model.table is not None:
        dataset_query |= {"type": "query", "query": {"source-table": table_id}}
    else:
        dataset_query |= {"type": "native", "native": model.native}
    return {
        "id": card_id,
        "entity_id": model.entity_id,
        "name": model.name,
        "description": model.description,
        "display": model.display,
        "type": "model",
        "dataset": True,
        "dataset_query": dataset_query,
        "query_type": "query" if model.table is not None else "native",
        "database_id": database_id,
        "table_id": table_id,
        "visualization_settings": model.visualization_settings,
        "collection_id": model.collection_id,
        "collection_position": None,
        "archived": model.archived,
        "creator_id": model.creator_id,
        "created_at": model.created_at,
        "updated_at": model.updated_at,
        "public_uuid": None,
        "made_public_by_id": None,
        "enable_embedding": False,
        "parameters": [],
        "parameter_mappings": [],
        "result_metadata": None,
        "cache_ttl": None,
        "can_write": caller.superuser,
    }


async def create_card(mb: Metabase, caller: Caller, body: bytes) -> dict[str, Any]:
    caller.must_be_superuser()
    given = decode(NewCard, body)
    non_blank(name=given.name, display=given.display)
    if given.type not in ("model", None) or (given.type is None and not given.dataset):
        raise Invalid({"type": 'only models are served: "type": "model"'})
    fields = await _query_of(mb, given.dataset_query)
    creator = caller.user.id if caller.user is not None else None
    stamp = now_iso()
    model = MetabaseModel(
        entity_id=secrets.token_urlsafe(16)[:21],
        name=given.name,
        description=given.description,
        display=given.display,
        visualization_settings=given.visualization_settings,
        collection_id=given.collection_id,
        creator_id=creator,
        created_at=stamp,
        updated_at=stamp,
        **fields,
    )

    async def modify(ctx: Context) -> None:
        ctx.changing.put("metabase_model", model.entity_id, model)

    await change(mb.runtime, caller.session, "metabase:create_card", modify)
    return await card_json(mb, model, caller)


async def get_card(mb: Metabase, caller: Caller, card_id: int) -> dict[str, Any]:
    return await card_json(mb, await model_of(mb, card_id), caller)


async def update_card(mb: Metabase, caller: Caller, card_id: int, body: bytes) -> dict[str, Any]:
    caller.must_be_superuser()
    model = await model_of(mb, card_id)
    given = decode(CardChange, body)
    non_blank(name=given.name, display=given.display)
    changes: dict[str, Any] = {
        name: getattr(given, name)
        for name in ("name", "display", "visualization_settings", "description", "collection_id", "archived")
        if getattr(given, name) is not None
    }
    if given.dataset_query is not None:
        changes |= await _query_of(mb, given.dataset_query)
    changed = msgspec.structs.replace(model, updated_at=now_iso(), **changes)

    async def modify(ctx: Context) -> None:
        ctx.changing.put("metabase_model", model.entity_id, changed)

    await change(mb.runtime, caller.session, "metabase:update_card", modify)
    return await card_json(mb, changed, caller)


def actions_of(view: View, entity_id: str) -> list[str]:
    """The actions made on a model."""
    return sorted(
        name
        for name, item in view.items("metabase_action")
        if isinstance(item.value, MetabaseAction) and item.value.model == entity_id
    )


async def delete_card(mb: Metabase, caller: Caller, card_id: int) -> None:
    caller.must_be_superuser()
    model = await model_of(mb, card_id)

    async def modify(ctx: Context) -> None:
        for name in actions_of(ctx.changing, model.entity_id):
            remove_action(ctx.changing, name, clear_data=True)
        ctx.changing.delete("metabase_model", model.entity_id)

    await change(mb.runtime, caller.session, "metabase:delete_card", modify)
