"""Actions through Metabase's API: every Switchboard action, with an integer id beside its name.

GET /api/action (?model-id=), GET /api/action/:id, POST /api/action, PUT /api/action/:id (partial),
DELETE /api/action/:id (204). A Metabase action is a Switchboard action, made in the same version
as the Metabase fields kept beside it (metadata/metabase.py):

* `query`: a `sql` action on the database, its native query's `{{tags}}` (text, number, date,
  boolean) the action's arguments;
* `implicit` (`row/create`, `row/update`, `row/delete`): a `table` action on the model's table;
* `http`: an `http` action from the template, its response and error handles jq programs.

The Switchboard name is made from `name` (made unique, kept when the name changes) and shown as
`switchboard_name`. An action made through /v1/query shows as the Metabase action it would be
(a webhook action as `http`). Writes need a superuser; reading and running, the action's
permission (as run_action).

Errors: 400 {"errors": {field: message}} (invalid input, a definition Switchboard refuses),
400 "Actions are not enabled." (the model's database, or the query's), 404, 403.
"""

from __future__ import annotations

import secrets
from typing import Any

import msgspec

from handlers.context import Context
from handlers.dispatch import change
from handlers.execution.run_action import permitted
from handlers.metabase.databases import actions_enabled, base_type, source_of
from handlers.metabase.errors import Invalid, MetabaseError, NotFound, actions_disabled
from handlers.metabase.models import model_of
from handlers.metabase.payloads import ActionChange, NewAction, decode
from handlers.metabase.service import Caller, Metabase, now_iso
from handlers.operations.actions import CreateAction, UpdateAction, create_action, remove_action, update_action
from metadata.actions import Action
from metadata.data_sources import DataSource
from metadata.decoding import convert
from metadata.errors import SwitchboardError
from metadata.metabase import OPERATIONS, MetabaseAction, MetabaseModel, TableRef, graphql_name, slug
from metadata.objects import View
from metadata.public_links import PublicLink

# Metabase's template-tag types, and parameter types, as argument types.
TAG_TYPES = {"text": "String", "number": "numeric", "date": "date", "boolean": "Boolean"}
# Where in a Metabase action a refused Switchboard definition went wrong.
_FIELDS = (("$.definition.sql", "dataset_query"), ("$.definition.http", "template"), ("$.definition.table", "kind"))


def parameter_type(kind: Any) -> str:
    text = str(kind or "")
    if text.startswith("number") or text in ("type/Integer", "type/BigInteger", "type/Float", "type/Decimal"):
        return "numeric"
    if text.startswith("date") or text in ("type/Date",):
        return "date"
    if text.startswith("boolean") or text == "type/Boolean":
        return "Boolean"
    return "String"


def tag_of(parameter: dict[str, Any]) -> str | None:
    """The template tag a parameter targets (["variable", ["template-tag", name]])."""
    target = parameter.get("target")
    if isinstance(target, list) and len(target) == 2 and isinstance(target[1], list) and len(target[1]) == 2:
        kind, name = target[1]
        if kind == "template-tag" and isinstance(name, str):
            return name
    return None


def _query_arguments(native: dict[str, Any]) -> list[dict[str, str]]:
    tags = native.get("template-tags") or {}
    if not isinstance(tags, dict):
        raise Invalid({"dataset_query": "native.template-tags must be a map."})
    arguments = []
    for name, tag in tags.items():
        kind = tag.get("type", "text") if isinstance(tag, dict) else None
        if kind not in TAG_TYPES:
            raise Invalid(
                {"dataset_query": f'template tag "{name}": only text, number, date and boolean tags are served'}
            )
        required = isinstance(tag, dict) and tag.get("required") is True and tag.get("default") is None
        arguments.append({"name": name, "type": TAG_TYPES[kind] + ("!" if required else "")})
    return arguments


def _http_arguments(fields: MetabaseAction, template: dict[str, Any]) -> list[dict[str, str]]:
    parameters = [*fields.parameters, *(template.get("parameters") or [])]
    types = {tag_of(p) or p.get("id"): parameter_type(p.get("type")) for p in parameters if isinstance(p, dict)}
    texts = [template.get(key) or "" for key in ("url", "body", "headers")]
    from metadata.actions import sql_template  # the {{tag}} syntax of templates

    names: list[str] = []
    for text in texts:
        if isinstance(text, str):
            try:
                names += [tag for tag in sql_template(text).tags if tag not in names]
            except ValueError as exc:
                raise Invalid({"template": str(exc)}) from None
    return [{"name": name, "type": types.get(name, "String")} for name in names]


def definition_of(fields: MetabaseAction, model: MetabaseModel | None) -> dict[str, Any]:
    """The Switchboard definition a Metabase action runs as."""
    if fields.type == "query":
        native = fields.native or {}
        if not isinstance(native.get("query"), str) or not native["query"].strip():
            raise Invalid({"dataset_query": "a query action needs dataset_query.native.query."})
        return {"sql": {"source": fields.source, "statement": native["query"]}, "arguments": _query_arguments(native)}
    if fields.type == "implicit":
        if fields.kind is None:
            raise Invalid({"kind": "Unsupported implicit action kind"})
        if model is None or model.table is None:
            raise MetabaseError("Implicit actions are not supported for models with clauses.")
        ref = model.table
        table = {"source": ref.source, "table": ref.table, "operation": OPERATIONS[fields.kind]}
        return {"table": table if ref.schema is None else {**table, "schema": ref.schema}}
    template = fields.template or {}
    http = {key: template.get(key) for key in ("url", "method", "body", "headers") if template.get(key) is not None}
    http |= {"response_handle": fields.response_handle, "error_handle": fields.error_handle}
    return {"http": {k: v for k, v in http.items() if v is not None}, "arguments": _http_arguments(fields, template)}


def _invalid(exc: SwitchboardError) -> MetabaseError:
    field = next((name for prefix, name in _FIELDS if exc.path.startswith(prefix)), "definition")
    for handle in ("response_handle", "error_handle"):
        if handle in exc.message:
            field = handle
    return Invalid({field: exc.message}, {field: [f"{exc.message} (at {exc.path})"]})


def _unique_name(view: View, wanted: str) -> str:
    name, n = wanted, 1
    while view.get("action", name) is not None:
        n += 1
        name = f"{wanted}_{n}"
    return name


async def _model_and_source(mb: Metabase, model_id: int, fields: MetabaseAction) -> tuple[MetabaseModel, str | None]:
    """The action's model, and the database its query runs on; both must have actions enabled."""
    model = await model_of(mb, model_id)
    view = mb.runtime.store.state
    for source in dict.fromkeys(s for s in (model.source_name, fields.source) if s):
        if not actions_enabled(view, source):
            raise actions_disabled(await mb.ids.id("database", source))
    return model, fields.source


async def _saved(
    mb: Metabase, caller: Caller, name: str, fields: MetabaseAction, model: MetabaseModel, new: bool
) -> None:
    definition = definition_of(fields, model)

    async def modify(ctx: Context) -> None:
        args = {"name": name, "definition": definition, "comment": fields.description}
        try:
            if new:
                await create_action(ctx, convert(args, CreateAction))
            else:
                await update_action(ctx, convert(args, UpdateAction))
        except SwitchboardError as exc:
            raise _invalid(exc.within("$")) from None
        ctx.changing.put("metabase_action", name, fields)

    await change(mb.runtime, caller.session, f"metabase:{'create' if new else 'update'}_action", modify)


async def create(mb: Metabase, caller: Caller, body: bytes) -> dict[str, Any]:
    caller.must_be_superuser()
    given = decode(NewAction, body)
    source = None
    if given.type == "query":
        if given.database_id is None:
            raise MetabaseError("Must provide a database_id for query actions")
        source = (await source_of(mb, given.database_id)).name
    stamp = now_iso()
    fields = MetabaseAction(
        action="_",
        name=given.name,
        type=given.type,
        source=source,
        native=(given.dataset_query or {}).get("native") if given.type == "query" else None,
        kind=given.kind if given.type == "implicit" else None,
        template=given.template if given.type == "http" else None,
        response_handle=given.response_handle,
        error_handle=given.error_handle,
        parameters=given.parameters,
        parameter_mappings=given.parameter_mappings,
        visualization_settings=given.visualization_settings,
        description=given.description,
        entity_id=secrets.token_urlsafe(16)[:21],
        creator_id=caller.user.id if caller.user is not None else None,
        created_at=stamp,
        updated_at=stamp,
    )
    model, _ = await _model_and_source(mb, given.model_id, fields)
    name = _unique_name(mb.runtime.store.state, graphql_name(given.name))
    fields = msgspec.structs.replace(fields, action=name, model=model.entity_id)
    await _saved(mb, caller, name, fields, model, new=True)
    return await action_json(mb, name)


async def named(mb: Metabase, caller: Caller, action_id: int) -> tuple[Action, MetabaseAction | None]:
    """The action of this id, when the caller may run it (else, to it, there is none)."""
    name = await mb.ids.name("action", action_id)
    view = mb.runtime.store.state
    action = view.get("action", name) if name is not None else None
    if not isinstance(action, Action) or not permitted(action, caller.session, view):
        raise NotFound()
    fields = view.get("metabase_action", action.name)
    if isinstance(fields, MetabaseAction) and fields.archived:
        raise NotFound()
    return action, fields if isinstance(fields, MetabaseAction) else None


async def get(mb: Metabase, caller: Caller, action_id: int) -> dict[str, Any]:
    action, _ = await named(mb, caller, action_id)
    return await action_json(mb, action.name)


async def update(mb: Metabase, caller: Caller, action_id: int, body: bytes) -> dict[str, Any]:
    caller.must_be_superuser()
    name = await mb.ids.name("action", action_id)
    view = mb.runtime.store.state
    action = view.get("action", name) if name is not None else None
    if not isinstance(action, Action):
        raise NotFound()
    given = decode(ActionChange, body)
    current = view.get("metabase_action", action.name)
    if not isinstance(current, MetabaseAction):
        raise Invalid({"type": "this action was made with Switchboard's API (/v1/query): change it there"})
    changes = {
        key: getattr(given, key)
        for key in ActionChange.__struct_fields__
        if getattr(given, key) is not None and key not in ("model_id", "database_id", "dataset_query")
    }
    if given.dataset_query is not None:
        changes["native"] = given.dataset_query.get("native")
    if given.database_id is not None:
        changes["source"] = (await source_of(mb, given.database_id)).name
    fields = msgspec.structs.replace(current, updated_at=now_iso(), **changes)
    model_id = given.model_id if given.model_id is not None else await mb.ids.id("card", current.model or "")
    model, _ = await _model_and_source(mb, model_id, fields)
    fields = msgspec.structs.replace(fields, model=model.entity_id)
    await _saved(mb, caller, action.name, fields, model, new=False)
    return await action_json(mb, action.name)


async def delete(mb: Metabase, caller: Caller, action_id: int) -> None:
    caller.must_be_superuser()
    name = await mb.ids.name("action", action_id)
    if name is None or mb.runtime.store.state.get("action", name) is None:
        raise NotFound()

    async def modify(ctx: Context) -> None:
        remove_action(ctx.changing, name, clear_data=True)

    await change(mb.runtime, caller.session, "metabase:delete_action", modify)


async def list_actions(mb: Metabase, caller: Caller, query: dict[str, str]) -> list[dict[str, Any]]:
    view = mb.runtime.store.state
    model: str | None = None
    if "model-id" in query:
        if not query["model-id"].isdigit():
            raise Invalid({"model-id": "value must be an integer greater than zero."})
        model = (await model_of(mb, int(query["model-id"]))).entity_id
    names = []
    for name, item in view.items("action"):
        fields = view.get("metabase_action", name)
        archived = isinstance(fields, MetabaseAction) and fields.archived
        on_model = isinstance(fields, MetabaseAction) and fields.model == model
        if not archived and (model is None or on_model) and permitted(item.value, caller.session, view):
            names.append(name)
    await mb.ids.ids("action", names)  # one round trip for the ids of every action not seen yet
    shown = [await action_json(mb, name) for name in names]
    return sorted(shown, key=lambda action: (action["updated_at"] or "", action["id"]))


async def implicit_parameters(mb: Metabase, fields: MetabaseAction, ref: TableRef) -> list[dict[str, Any]]:
    """Metabase's parameters of an implicit action: the table's columns, by slug."""
    source = mb.runtime.store.state.get("source", ref.source)
    if not isinstance(source, DataSource):
        return []
    try:
        table = await mb.runtime.engines.table(source, ref.schema, ref.table)
    except SwitchboardError:
        return []
    saved = {p.get("id"): p for p in fields.parameters if isinstance(p, dict)}
    out = []
    for column in table.columns:
        generated = (
            column.primary_key and column.autoincrement in (True, "auto") and len(table.primary_key.columns) == 1
        )
        if fields.kind == "row/delete" and not column.primary_key:
            continue
        if fields.kind == "row/create" and generated:
            continue
        ident = slug(column.name)
        required = column.primary_key if fields.kind != "row/create" else not column.nullable and not generated
        parameter = {
            "id": ident,
            "display-name": str(column.name).replace("_", " ").title(),
            "target": ["variable", ["template-tag", ident]],
            "type": base_type(column),
            "required": bool(required or (fields.kind != "row/create" and column.primary_key)),
            "is-auto-increment": generated,
        }
        out.append({**saved.get(ident, {}), **parameter})
    return out


async def action_json(mb: Metabase, name: str) -> dict[str, Any]:
    """An action as Metabase shows it; one made through /v1/query as the Metabase action it would be."""
    view = mb.runtime.store.state
    action = view.get("action", name)
    assert isinstance(action, Action)
    definition = action.definition
    fields = view.get("metabase_action", name)
    link = view.get("public_link", name)
    body: dict[str, Any] = {"id": await mb.ids.id("action", name), "switchboard_name": name}
    if isinstance(fields, MetabaseAction):
        model = view.get("metabase_model", fields.model or "")
        model_id = await mb.ids.id("card", fields.model) if fields.model else None
        source = fields.source or (model.source_name if isinstance(model, MetabaseModel) else None)
        body |= {"name": fields.name, "type": fields.type, "model_id": model_id, "description": fields.description}
        body |= {k: getattr(fields, k) for k in ("parameter_mappings", "visualization_settings", "archived")}
        body |= {k: getattr(fields, k) for k in ("entity_id", "creator_id", "created_at", "updated_at")}
        parameters = fields.parameters
        if fields.type == "implicit" and isinstance(model, MetabaseModel) and model.table is not None:
            parameters = await implicit_parameters(mb, fields, model.table)
            body["kind"] = fields.kind
        if fields.type == "http":
            body |= {"template": fields.template, "response_handle": fields.response_handle}
            body |= {"error_handle": fields.error_handle}
        body["parameters"] = parameters
        body["made_public_by_id"] = fields.made_public_by_id if isinstance(link, PublicLink) else None
    else:
        source = definition.source
        kind = {"sql": "query", "table": "implicit"}.get(definition.handler_kind, "http")
        body |= {"name": name, "type": kind, "model_id": None, "description": action.comment, "archived": False}
        body |= {"parameter_mappings": None, "visualization_settings": {}, "entity_id": None, "creator_id": None}
        body |= {"created_at": None, "updated_at": None, "made_public_by_id": None}
        body["parameters"] = [
            {"id": a.name, "slug": a.name, "name": a.name, "type": a.type, "required": a.type.endswith("!"),
             "target": ["variable", ["template-tag", a.name]]}
            for a in definition.arguments
        ]  # fmt: skip
        if definition.table is not None:
            body["kind"] = {"insert": "row/create", "update": "row/update", "delete": "row/delete"}[
                definition.table.operation
            ]
        if definition.http is not None or definition.handler is not None:
            http = definition.http
            body["template"] = (
                {"method": http.method, "url": http.url, "body": http.body, "headers": http.headers}
                if http
                else {"method": "POST", "url": definition.handler}
            )
            body |= {
                "response_handle": http.response_handle if http else ".body",
                "error_handle": http.error_handle if http else None,
            }
    database_id = await mb.ids.id("database", source) if source and view.get("source", source) else None
    body["database_id"] = database_id
    if body["type"] == "query":
        native = fields.native if isinstance(fields, MetabaseAction) else _native_of(action)
        body["dataset_query"] = {"database": database_id, "type": "native", "native": native}
    body["public_uuid"] = link.uuid if isinstance(link, PublicLink) else None
    body["creator"] = None
    return body


def _native_of(action: Action) -> dict[str, Any]:
    """A sql action's statement and arguments as a native query and its template tags."""
    sql = action.definition.sql
    assert sql is not None
    tags = {
        a.name: {
            "id": a.name,
            "name": a.name,
            "display-name": a.name,
            "type": _tag_type(a.type),
            "required": a.type.endswith("!"),
        }
        for a in action.definition.arguments
    }
    return {"query": ";\n".join(sql.all_statements), "template-tags": tags}


def _tag_type(argument_type: str) -> str:
    base = argument_type.rstrip("!")
    return next((tag for tag, kind in TAG_TYPES.items() if kind == base), "text")
