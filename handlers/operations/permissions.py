"""create_action_permission, drop_action_permission.

create_action_permission {action, role, comment?, definition?}: lets `role` run the action. As in
Hasura, the newest permission comes first in the action's list. Hasura accepts a table-style
`definition` ({"select": {"filter": {}}}) and drops it; Switchboard keeps it and exports it back.
drop_action_permission {action, role}: takes it back.

Errors: parse-failed (`$.args.action` for an action name that is no GraphQL name); not-exists
(no such action, or no such permission); already-exists.
Unlike Hasura, a permission on a missing action is an error rather than a silent no-op.
"""

from __future__ import annotations

from typing import Any

import msgspec

from handlers.context import Context
from handlers.operations.actions import existing_action
from metadata.actions import ActionPermission, RoleName, check_action_name
from metadata.errors import AlreadyExists, NotExists
from metadata.strict import Strict


class CreateActionPermission(Strict):
    action: str
    role: RoleName
    comment: str | None = None
    definition: Any = None

    def __post_init__(self) -> None:
        check_action_name(self.action, "action")


class DropActionPermission(Strict):
    action: str
    role: str

    def __post_init__(self) -> None:
        check_action_name(self.action, "action")


async def create_action_permission(ctx: Context, args: CreateActionPermission) -> None:
    action = existing_action(ctx.changing, args.action)
    if any(p.role == args.role for p in action.permissions):
        raise AlreadyExists(f'permission for role "{args.role}" is already defined on "{args.action}"')
    permission = ActionPermission(role=args.role, comment=args.comment, definition=args.definition)
    ctx.changing.put(
        "action", action.name, msgspec.structs.replace(action, permissions=[permission, *action.permissions])
    )


async def drop_action_permission(ctx: Context, args: DropActionPermission) -> None:
    action = existing_action(ctx.changing, args.action)
    kept = [p for p in action.permissions if p.role != args.role]
    if len(kept) == len(action.permissions):
        raise NotExists(f'permission for role: "{args.role}" is not defined on "{args.action}"')
    ctx.changing.put("action", action.name, msgspec.structs.replace(action, permissions=kept))
