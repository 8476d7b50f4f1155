"""add_inherited_role, drop_inherited_role: roles that inherit what their parent roles may run.

add_inherited_role {role_name, role_set}: the role may run every action any role of its set
(roles, or other inherited roles) may run; a permission of its own on an action wins. As in
Hasura, adding a role that exists replaces its set, and an empty set is accepted (the role then
inherits nothing). drop_inherited_role {role_name}: removes it (its own permissions stay).

Errors: parse-failed (an empty role name, a set that is not a list of names), invalid-params
(`an inherited role name cannot be in the role combination`), cyclic-dependency (`found
cycle(s) in roles: ["a","b","a"]`), not-exists (`"x" inherited role doesn't exist`). A parent
nobody knows (no action permission, not an inherited role) is reported by
get_inconsistent_metadata and never refused: Switchboard serves only actions, so it cannot know
the roles Hasura knows from table permissions.
"""

from __future__ import annotations

from handlers.context import Context
from metadata.actions import RoleName
from metadata.errors import NotExists
from metadata.roles import InheritedRole, InvalidParams, refuse_cycles
from metadata.strict import Strict


class DropInheritedRole(Strict):
    role_name: RoleName


async def add_inherited_role(ctx: Context, args: InheritedRole) -> None:
    if args.role_name in args.role_set:
        raise InvalidParams("an inherited role name cannot be in the role combination")
    ctx.changing.put("inherited_role", args.role_name, args)
    refuse_cycles(ctx.changing)


async def drop_inherited_role(ctx: Context, args: DropInheritedRole) -> None:
    if ctx.changing.get("inherited_role", args.role_name) is None:
        raise NotExists(f'"{args.role_name}" inherited role doesn\'t exist')
    ctx.changing.delete("inherited_role", args.role_name)
