"""Inherited roles (Hasura's `inherited_roles`): a role that may run what any of its parent roles
may run, and the one rule deciding whether a role may run an action.

As in Hasura (its `mkBooleanPermissionMap` for actions): a role holding its own permission on
the action may run it; otherwise an inherited role may when any of its parents may, parents
being roles or, transitively, other inherited roles. Cycles are refused with Hasura's
`cyclic-dependency` message. Hasura also refuses a parent that it knows nothing about; here such
a parent (one holding no action permission and not itself an inherited role) is reported as an
inconsistency and never blocks a change, because Switchboard serves only actions: a role Hasura
would know from its table permissions is unknown here.
"""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any

import msgspec

from metadata.actions import Action, RoleName
from metadata.errors import SwitchboardError
from metadata.hasura_sources import permission_roles
from metadata.strict import Strict

if TYPE_CHECKING:  # metadata.objects holds these Structs among its kinds
    from metadata.objects import View


class InheritedRole(Strict):
    role_name: RoleName
    role_set: list[RoleName]

    def __post_init__(self) -> None:
        # Hasura reads the set as a set: a repeated parent counts once (the given order is kept).
        self.role_set = list(dict.fromkeys(self.role_set))


class InvalidParams(SwitchboardError):
    code, status = "invalid-params", 400


class CyclicDependency(SwitchboardError):
    code, status = "cyclic-dependency", 400


def may_run(view: View, role: str, action: Action) -> bool:
    """Whether `role` may run `action` (admin aside): its own permission, or, for an inherited
    role, any parent's (through nested inherited roles)."""
    if any(p.role == role for p in action.permissions):
        return True
    if view.get("inherited_role", role) is None:
        return False
    direct = {p.role for p in action.permissions}
    seen = {role}
    pending = [role]
    while pending:
        inherited = view.get("inherited_role", pending.pop())
        for parent in inherited.role_set if isinstance(inherited, InheritedRole) else ():
            if parent in direct:
                return True
            if parent not in seen:
                seen.add(parent)
                pending.append(parent)
    return False


def role_cycles(view: View) -> list[list[str]]:
    """Each cycle of inherited roles, as Hasura shows it: from the first role met (by name),
    following parents, back to itself."""
    roles = {name: item.value for name, item in view.items("inherited_role")}
    state: dict[str, int] = {}  # 1: on the current path, 2: done
    cycles: list[list[str]] = []
    in_cycles: set[str] = set()
    for start in sorted(roles):
        if start in state:
            continue
        path = [start]
        todo = [iter(roles[start].role_set)]
        state[start] = 1
        while todo:  # depth first, without recursion (a chain may be long)
            parent = next(todo[-1], None)
            if parent is None:
                state[path.pop()] = 2
                todo.pop()
            elif parent in roles and state.get(parent) == 1:
                cycle = path[path.index(parent) :]
                if not in_cycles & set(cycle):
                    cycles.append([*cycle, parent])
                    in_cycles.update(cycle)
            elif parent in roles and parent not in state:
                state[parent] = 1
                path.append(parent)
                todo.append(iter(roles[parent].role_set))
    return cycles


def refuse_cycles(view: View) -> None:
    cycles = role_cycles(view)
    if cycles:
        shown = ", ".join(json.dumps(cycle, separators=(",", ":"), ensure_ascii=False) for cycle in cycles)
        raise CyclicDependency(f"found cycle(s) in roles: {shown}")


def missing_parents(view: View) -> list[dict[str, Any]]:
    """Inherited roles with a parent that holds no permission (on an action or a tracked table)
    and is no inherited role, in Hasura's report shape."""
    inherited = sorted(view.items("inherited_role"))
    if not inherited:
        return []
    known = {name for name, _ in inherited} | permission_roles(view)
    for _, item in view.items("action"):
        known.update(p.role for p in item.value.permissions)
    out = []
    for name, item in inherited:
        missing = sorted(set(item.value.role_set) - known)
        if missing:
            reason = (
                f"Inconsistent object: in inherited role {name}: the following parent role(s) are not found: "
                f'{", ".join(missing)} which are required to construct the inherited role: "{name}"'
            )
            out.append(
                {
                    "definition": msgspec.to_builtins(item.value),
                    "name": f"inherited_role inherited role {name}",
                    "reason": reason,
                    "type": "inherited_role",
                }
            )
    return out
