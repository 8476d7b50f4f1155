"""create_action, update_action, drop_action.

create_action {name, definition, comment?}: adds an action; Hasura's defaults are filled in
(type mutation, kind synchronous, timeout 30, no headers, no arguments). Argument types must be
input types, the output type an object, scalar or enum. A definition runs exactly one of
`handler` (a webhook; output_type required), `sql` {source, statement | statements} (every
{{tag}} a declared scalar argument) or `table` {source, table, operation, schema?} (the table is
introspected now: it must exist, and have a primary key for update/delete).
update_action {name, definition, comment?}: replaces definition and comment, keeps permissions.
drop_action {name, clear_data? (true)}: removes the action, its permissions and public link, and
with clear_data its runs (in the same transaction).

Errors: parse-failed (malformed definition, bad GraphQL name or type string at its path,
`$.args.name` for the action's; a header or handler URL reading a reserved environment variable,
at the header), validation-failed (a transform template that does not parse), already-exists,
not-exists, invalid-configuration (a type that does not resolve, with the path of the argument
or output type; relationships of the output type Hasura does not allow for this action; an
undefined source; a table that is not there; the action, as an inconsistent object, in
`internal`), 502 (a table action's source cannot be reached).
"""

from __future__ import annotations

from handlers.context import Context
from handlers.execution.table_action import check_table, table_of
from metadata.actions import Action, ActionDefinition, check_action_name, refuse_reserved_env
from metadata.consistency import action_entry, action_problems
from metadata.errors import AlreadyExists, InvalidConfiguration, NotExists
from metadata.objects import Draft
from metadata.strict import Strict
from metadata.transform_checks import validate_transforms


class CreateAction(Strict):
    name: str
    definition: ActionDefinition
    comment: str | None = None

    def __post_init__(self) -> None:
        check_action_name(self.name)
        # What Hasura's parser refuses in any definition (a whole document keeps them only when
        # inconsistency is allowed), and the templates Hasura checks before creating an action.
        refuse_reserved_env(self.definition)
        validate_transforms(self.definition.request_transform, self.definition.response_transform)


class UpdateAction(CreateAction):
    pass


class DropAction(Strict):
    name: str
    clear_data: bool = True

    def __post_init__(self) -> None:
        check_action_name(self.name)


def existing_action(draft: Draft, name: str) -> Action:
    action = draft.get("action", name)
    if action is None:
        raise NotExists(f'action with name "{name}" does not exist')
    assert isinstance(action, Action)
    return action


async def _save(ctx: Context, action: Action) -> None:
    draft = ctx.changing
    problems = action_problems(action, draft)
    if problems:
        # As Hasura answers it: the action, as the inconsistent object it would be, in `internal`.
        problems[0].internal = [action_entry(action, problems[0].message)]
        raise problems[0]
    if action.definition.table is not None:
        await _check_table(ctx, action)
    draft.put("action", action.name, action)


async def _check_table(ctx: Context, action: Action) -> None:
    """A table action is checked against the table as it is now (introspected afresh)."""
    ctx.runtime.engines.forget_tables()
    try:
        _, table = await table_of(ctx.runtime, action, ctx.changing)
    except NotExists as exc:
        raise InvalidConfiguration(exc.message, "$.definition.table") from None
    problem = check_table(action, table)
    if problem is not None:
        raise InvalidConfiguration(problem, "$.definition.table")


async def create_action(ctx: Context, args: CreateAction) -> None:
    if ctx.changing.get("action", args.name) is not None:
        raise AlreadyExists(f'action with name "{args.name}" already exists')
    await _save(ctx, Action(name=args.name, definition=args.definition, comment=args.comment))


async def update_action(ctx: Context, args: UpdateAction) -> None:
    current = existing_action(ctx.changing, args.name)
    await _save(
        ctx, Action(name=args.name, definition=args.definition, comment=args.comment, permissions=current.permissions)
    )


def remove_action(draft: Draft, name: str, clear_data: bool) -> None:
    """The action goes with its permissions, its public link, what Metabase's API kept of it,
    and (with clear_data) its runs."""
    draft.delete("action", name)
    for kind in ("public_link", "metabase_action"):
        if draft.get(kind, name) is not None:
            draft.delete(kind, name)
    if clear_data:
        draft.cleared_actions.add(name)


async def drop_action(ctx: Context, args: DropAction) -> None:
    existing_action(ctx.changing, args.name)
    remove_action(ctx.changing, args.name, args.clear_data)
