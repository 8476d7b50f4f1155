"""create_action, update_action, drop_action.

create_action {name, definition, comment?}: adds an action; Hasura's defaults are filled in
(type mutation, kind synchronous, timeout 30, no headers, no arguments). Argument types must be
input types, the output type an object, scalar or enum.
update_action {name, definition, comment?}: replaces definition and comment, keeps permissions.
drop_action {name, clear_data? (true)}: removes the action and its permissions, and with
clear_data its runs (in the same transaction).

Errors: parse-failed (malformed definition, bad GraphQL name or type string, a header reading a
reserved environment variable), already-exists, not-exists, invalid-configuration (a type that
does not resolve, with the path of the argument or output type).
"""

from __future__ import annotations

from handlers.context import Context
from metadata.actions import Action, ActionDefinition
from metadata.consistency import action_problems
from metadata.errors import AlreadyExists, NotExists
from metadata.graphql_types import check_name
from metadata.objects import Draft
from metadata.strict import Strict


class CreateAction(Strict):
    name: str
    definition: ActionDefinition
    comment: str | None = None

    def __post_init__(self) -> None:
        check_name(self.name)


class UpdateAction(CreateAction):
    pass


class DropAction(Strict):
    name: str
    clear_data: bool = True


def existing_action(draft: Draft, name: str) -> Action:
    action = draft.get("action", name)
    if action is None:
        raise NotExists(f'action with name "{name}" does not exist')
    assert isinstance(action, Action)
    return action


def _save(draft: Draft, action: Action) -> None:
    problems = action_problems(action, draft)
    if problems:
        raise problems[0]
    draft.put("action", action.name, action)


async def create_action(ctx: Context, args: CreateAction) -> None:
    draft = ctx.changing
    if draft.get("action", args.name) is not None:
        raise AlreadyExists(f'action with name "{args.name}" already exists')
    _save(draft, Action(name=args.name, definition=args.definition, comment=args.comment))


async def update_action(ctx: Context, args: UpdateAction) -> None:
    draft = ctx.changing
    current = existing_action(draft, args.name)
    _save(
        draft,
        Action(name=args.name, definition=args.definition, comment=args.comment, permissions=current.permissions),
    )


async def drop_action(ctx: Context, args: DropAction) -> None:
    existing_action(ctx.changing, args.name)
    ctx.changing.delete("action", args.name)
    if args.clear_data:
        ctx.changing.cleared_actions.add(args.name)
