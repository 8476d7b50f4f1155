"""create_action_permission, drop_action_permission.

create_action_permission {action, role, comment?}: lets `role` run the action. As in Hasura, the
newest permission comes first in the action's list.
drop_action_permission {action, role}: takes it back.

Errors: parse-failed; not-exists (no such action, or no such permission); already-exists.
Unlike Hasura, a permission on a missing action is an error rather than a silent no-op.
"""

from __future__ import annotations

import msgspec

from handlers.context import Context
from handlers.operations.actions import existing_action
from metadata.actions import ActionPermission, RoleName
from metadata.errors import AlreadyExists, NotExists
from metadata.strict import Strict


class CreateActionPermission(Strict):
    action: str
    role: RoleName
    comment: str | None = None


class DropActionPermission(Strict):
    action: str
    role: str


async def create_action_permission(ctx: Context, args: CreateActionPermission) -> None:
    action = existing_action(ctx.changing, args.action)
    if any(p.role == args.role for p in action.permissions):
        raise AlreadyExists(f'permission for role "{args.role}" is already defined on "{args.action}"')
    permission = ActionPermission(role=args.role, comment=args.comment)
    ctx.changing.put(
        "action", action.name, msgspec.structs.replace(action, permissions=[permission, *action.permissions])
    )


async def drop_action_permission(ctx: Context, args: DropActionPermission) -> None:
    action = existing_action(ctx.changing, args.action)
    kept = [p for p in action.permissions if p.role != args.role]
    if len(kept) == len(action.permissions):
        raise NotExists(f'permission for role: "{args.role}" is not defined on "{args.action}"')
    ctx.changing.put("action", action.name, msgspec.structs.replace(action, permissions=kept))
