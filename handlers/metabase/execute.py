"""Running actions through Metabase's API, on run_action's path: the same permission check,
input check and executors; only the parameters in and the answer out are Metabase's.

POST /api/action/:id/execute {parameters: {<parameter id>: value}}: `rows-affected` (query),
`created-row`, `rows-updated` [1], `rows-deleted` [1] (implicit), the handled response (http; 204
when the handle gives nothing). A parameter id the action has not (or hides) is 400 "No
destination parameter found for ..."; a value that does not fit, 400 naming its parameter; a
statement the database refuses is rolled back and answered 400 with the database's message.
GET /api/action/:id/execute?parameters=<json>: the row an implicit update or delete points at
(what Metabase's forms prefill), else, to a superuser, a dry run of what would run.
GET /api/action/public, POST/DELETE /api/action/:id/public_link: public links (the same as
create_action_public_link's). GET /api/public/action/:uuid and POST .../execute: anyone, at the
link's rate limit (429 "Too many attempts! ..."); any refusal but 404 and 429 is 400 "An error
occurred.", as Metabase answers public calls.
"""

from __future__ import annotations

from typing import Any

import msgspec

from handlers.context import Answer, Context
from handlers.dispatch import change
from handlers.execution.executors import executor
from handlers.execution.http_action import RemoteFailed
from handlers.execution.run_action import InputInvalid, start
from handlers.execution.table_action import current_row
from handlers.metabase.actions import action_json, named, tag_of
from handlers.metabase.databases import actions_enabled
from handlers.metabase.errors import (
    PUBLIC_SHARING_OFF,
    Failed,
    Invalid,
    MetabaseError,
    NotFound,
    actions_disabled,
    from_switchboard,
)
from handlers.metabase.payloads import Execute, decode
from handlers.metabase.service import Caller, Metabase
from handlers.operations.public_links import (
    ActionLink,
    create_action_public_link,
    drop_action_public_link,
    linked_action,
    public_action,
    public_session,
)
from metadata.actions import Action
from metadata.errors import NotExists, RateLimited, SwitchboardError
from metadata.graphql_types import parse_graphql_type
from metadata.metabase import MetabaseAction, MetabaseModel, slug
from metadata.objects import View
from metadata.public_links import PublicLink

NO_CONTENT = object()  # an answer of 204, no body
_TABLE_ANSWERS = {"update": "rows-updated", "delete": "rows-deleted"}


def _clojure_set(names: Any) -> str:
    return "#{" + " ".join(f'"{n}"' for n in names) + "}"


def _hidden(fields: MetabaseAction | None) -> set[str]:
    settings = (fields.visualization_settings.get("fields") or {}) if fields is not None else {}
    return {str(k) for k, v in settings.items() if isinstance(v, dict) and v.get("hidden") is True}


def _default(fields: MetabaseAction | None, parameter: str) -> Any:
    settings = (fields.visualization_settings.get("fields") or {}) if fields is not None else {}
    found = settings.get(parameter)
    return found.get("defaultValue") if isinstance(found, dict) else None


async def _signed(mb: Metabase, action: Action) -> Action:
    signature = executor(action).signature
    return action if signature is None else await signature(mb.runtime, action, mb.runtime.store.state)


def destinations(action: Action, fields: MetabaseAction | None) -> dict[str, str]:
    """Parameter id -> the argument it fills (`action` with its derived arguments)."""
    arguments = [a.name for a in action.definition.arguments]
    if action.definition.table is not None:
        return {slug(name): name for name in arguments}
    out: dict[str, str] = {}
    if fields is not None:
        parameters = [*fields.parameters, *((fields.template or {}).get("parameters") or [])]
        for parameter in parameters:
            tag = tag_of(parameter) if isinstance(parameter, dict) else None
            if tag in arguments and isinstance(parameter.get("id"), str):
                out[parameter["id"]] = tag
        for name, tag in ((fields.native or {}).get("template-tags") or {}).items():
            if name in arguments and isinstance(tag, dict) and isinstance(tag.get("id"), str):
                out.setdefault(tag["id"], name)
    for name in arguments:  # a tag no parameter names is filled by its own name
        if name not in out.values():
            out.setdefault(name, name)
    return out


def _coerced(value: Any, argument_type: str) -> Any:
    """Metabase's forms send numbers and booleans as text too."""
    base = parse_graphql_type(argument_type).base
    if isinstance(value, str):
        if base in ("numeric", "Float", "Int", "bigint"):
            try:
                number = float(value)
                return int(number) if number.is_integer() and "." not in value and "e" not in value.lower() else number
            except ValueError:
                return value
        if base == "Boolean" and value in ("true", "false"):
            return value == "true"
    return value


def to_input(
    action: Action, fields: MetabaseAction | None, given: dict[str, Any]
) -> tuple[dict[str, Any], dict[str, str]]:
    """The run's input from Metabase's parameters, and which parameter filled each argument."""
    hidden = _hidden(fields)
    dest = {pid: arg for pid, arg in destinations(action, fields).items() if pid not in hidden}
    unknown = [key for key in given if key not in dest]
    if unknown:
        message = f"No destination parameter found for {_clojure_set(unknown)}. Found: {_clojure_set(dest)}"
        destination: dict[str, Any] = {"destination-parameters": list(dest)}
        raise Failed(message, parameters=given, **destination)
    types = {a.name: a.type for a in action.definition.arguments}
    implicit = action.definition.table is not None
    out: dict[str, Any] = {}
    for pid, argument in dest.items():
        value = given[pid] if pid in given else _default(fields, pid)
        if value is None and (pid not in given or implicit):  # Metabase drops an implicit action's nulls
            continue
        out[argument] = _coerced(value, types.get(argument, "String"))
    return out, {argument: pid for pid, argument in dest.items()}


def database_of(view: View, action: Action, fields: MetabaseAction | None) -> str | None:
    """The database an action acts on, whose `database-enable-actions` it needs."""
    if action.definition.source is not None:
        return action.definition.source
    model = view.get("metabase_model", fields.model or "") if fields is not None else None
    return model.source_name if isinstance(model, MetabaseModel) else None


async def _enabled(mb: Metabase, action: Action, fields: MetabaseAction | None) -> None:
    source = database_of(mb.runtime.store.state, action, fields)
    if source is not None and not actions_enabled(mb.runtime.store.state, source):
        raise actions_disabled(await mb.ids.id("database", source))


def _refusal(exc: SwitchboardError, action: Action, parameter_of: dict[str, str]) -> MetabaseError:
    if isinstance(exc, InputInvalid) or exc.path.startswith("$.input."):
        # An argument that does not fit (the input check's, or a value the database's type refuses).
        where = exc.error.hasura_path if isinstance(exc, InputInvalid) else "$" + exc.path.removeprefix("$.input")
        argument = where.removeprefix("$.").split(".")[0].split("[")[0]  # names a missing one too
        parameter = parameter_of.get(argument, argument)
        return Invalid({parameter: exc.message}, {parameter: [exc.message]})
    if isinstance(exc, RemoteFailed):
        return MetabaseError(exc.extensions)
    table = action.definition.table
    if table is not None and isinstance(exc, NotExists):
        return Failed(f"Sorry, the row you're trying to {table.operation} doesn't exist")
    if exc.code in ("constraint-violation", "data-exception"):
        if table is not None:
            verb = {"insert": "create a new", "update": "update the", "delete": "delete the"}[table.operation]
            return Failed(f"Unable to {verb} record.", errors={}, cause=exc.message)
        return Failed(f"Error executing Action: Error executing write query: {exc.message}")
    return from_switchboard(exc)


def _answer(action: Action, result: Any) -> Any:
    """run_action's answer in Metabase's words."""
    if isinstance(result, Answer):
        result = result.body
    if "action_id" in result:  # an asynchronous action: its run's id
        return result
    output = result["output"]
    kind = action.definition.handler_kind
    if kind == "sql":
        return {"rows-affected": sum(output["rows_affected"])}
    if kind == "table":
        assert action.definition.table is not None
        operation = action.definition.table.operation
        return {"created-row": output} if operation == "insert" else {_TABLE_ANSWERS[operation]: [1]}
    return NO_CONTENT if output is None else output


async def _run(mb: Metabase, caller_session: Any, action: Action, fields: MetabaseAction | None, body: bytes) -> Any:
    given = decode(Execute, body).parameters
    signed = await _signed(mb, action)
    input, parameter_of = to_input(signed, fields, given)
    try:
        return _answer(action, await start(mb.runtime, caller_session, action, input))
    except SwitchboardError as exc:
        raise _refusal(exc, action, parameter_of) from None


async def execute(mb: Metabase, caller: Caller, action_id: int, body: bytes) -> Any:
    action, fields = await named(mb, caller, action_id)
    await _enabled(mb, action, fields)
    return await _run(mb, caller.session, action, fields, body)


async def prefetch(mb: Metabase, caller: Caller, action_id: int, query: dict[str, str]) -> Any:
    action, fields = await named(mb, caller, action_id)
    await _enabled(mb, action, fields)
    try:
        given = msgspec.json.decode(query.get("parameters", "").encode())
    except msgspec.DecodeError:
        given = None
    if not isinstance(given, dict):
        raise Invalid({"parameters": "value must be a valid JSON string."})
    signed = await _signed(mb, action)
    table = action.definition.table
    try:
        if table is not None:
            if table.operation == "insert":
                raise MetabaseError("Values can only be fetched for actions that require a Primary Key.")
            input, parameter_of = to_input(signed, fields, given)
            row = await current_row(mb.runtime, action, mb.runtime.store.state, input)
            shown = {parameter_of[name]: value for name, value in (row or {}).items() if name in parameter_of}
            return shown if row is not None else {}
        if not caller.superuser:
            return {}
        input, parameter_of = to_input(signed, fields, given)
        return await start(mb.runtime, caller.session, action, input, dry_run=True)
    except SwitchboardError as exc:
        raise _refusal(exc, action, {}) from None


# -- public links ---------------------------------------------------------------------------------


def _sharing(mb: Metabase) -> None:
    if not mb.public_sharing:
        raise PUBLIC_SHARING_OFF


async def public_actions(mb: Metabase, caller: Caller) -> list[dict[str, Any]]:
    caller.must_be_superuser()
    _sharing(mb)
    view = mb.runtime.store.state
    out = []
    for name, item in sorted(view.items("public_link")):
        fields = view.get("metabase_action", name)
        if view.get("action", name) is None or (isinstance(fields, MetabaseAction) and fields.archived):
            continue
        model = fields.model if isinstance(fields, MetabaseAction) else None
        shown = fields.name if isinstance(fields, MetabaseAction) else name
        out.append(
            {
                "name": shown,
                "id": await mb.ids.id("action", name),
                "public_uuid": item.value.uuid,
                "model_id": await mb.ids.id("card", model) if model else None,
            }
        )
    return out


async def share(mb: Metabase, caller: Caller, action_id: int) -> dict[str, Any]:
    caller.must_be_superuser()
    _sharing(mb)
    action, fields = await named(mb, caller, action_id)
    await _enabled(mb, action, fields)

    async def modify(ctx: Context) -> Any:
        made = await create_action_public_link(ctx, ActionLink(action=action.name))
        current = ctx.changing.get("metabase_action", action.name)
        if isinstance(current, MetabaseAction) and caller.user is not None and current.made_public_by_id is None:
            ctx.changing.put(
                "metabase_action", action.name, msgspec.structs.replace(current, made_public_by_id=caller.user.id)
            )
        return made.body

    answer = await change(mb.runtime, caller.session, "metabase:share_action", modify)
    return {"uuid": answer["uuid"]}


async def unshare(mb: Metabase, caller: Caller, action_id: int) -> None:
    caller.must_be_superuser()
    _sharing(mb)
    action, _ = await named(mb, caller, action_id)
    if not isinstance(mb.runtime.store.state.get("public_link", action.name), PublicLink):
        raise NotFound()

    async def modify(ctx: Context) -> None:
        await drop_action_public_link(ctx, ActionLink(action=action.name))
        current = ctx.changing.get("metabase_action", action.name)
        if isinstance(current, MetabaseAction):
            ctx.changing.put("metabase_action", action.name, msgspec.structs.replace(current, made_public_by_id=None))

    await change(mb.runtime, caller.session, "metabase:unshare_action", modify)


def _public_error(exc: Exception) -> MetabaseError:
    """Metabase's public endpoints: 404 and 429 as they are, anything else "An error occurred."."""
    if isinstance(exc, NotExists | NotFound):
        return NotFound()
    if isinstance(exc, RateLimited):
        return from_switchboard(exc)
    if isinstance(exc, MetabaseError) and exc.status == 429:
        return exc
    return MetabaseError("An error occurred.")


async def public_form(mb: Metabase, uuid: str) -> dict[str, Any]:
    try:
        action = await linked_action(mb.runtime, uuid)
        fields = mb.runtime.store.state.get("metabase_action", action.name)
        fields = fields if isinstance(fields, MetabaseAction) else None
        if fields is not None and fields.archived:
            raise NotFound()
        await _enabled(mb, action, fields)
        shown = await action_json(mb, action.name)  # the whole view, cut down below
    except (SwitchboardError, MetabaseError) as exc:
        raise _public_error(exc) from None
    hidden = _hidden(fields)
    settings = dict(shown["visualization_settings"] or {})
    if "fields" in settings:
        settings["fields"] = {k: v for k, v in settings["fields"].items() if str(k) not in hidden}
    parameters = [p for p in shown["parameters"] if str(p.get("id")) not in hidden]
    return {
        "id": shown["id"],
        "name": shown["name"],
        "database_id": shown["database_id"],
        "visualization_settings": settings,
        "parameters": parameters,
    }


async def public_execute(mb: Metabase, uuid: str, body: bytes) -> Any:
    try:
        action = await public_action(mb.runtime, uuid)
        fields = mb.runtime.store.state.get("metabase_action", action.name)
        fields = fields if isinstance(fields, MetabaseAction) else None
        if fields is not None and fields.archived:
            raise NotFound()
        await _enabled(mb, action, fields)
        return await _run(mb, public_session(mb.runtime), action, fields, body)
    except (SwitchboardError, MetabaseError) as exc:
        raise _public_error(exc) from None
