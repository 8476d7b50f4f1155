"""list_actions, list_roles: actions a page at a time, with server-side search and filters.

A store may hold 10,000 actions; these answer from the in-memory view without sending them all
(export_metadata does), so the console and scripts can page through them.

list_actions {search?, names?, kind?, handler_kind?, type?, role?, limit? (50, at most 1000),
offset? (0)}: {total, actions}, the matching actions sorted by name, each as export_metadata
writes it; `total` counts every match, `actions` holds the page. `search` matches a part of the
name or the comment, ignoring case; `names` keeps only those names; `kind` is synchronous or
asynchronous, `handler_kind` webhook, sql, table or http, `type` mutation or query; `role` keeps the
actions that role may run (its own permissions, or an inherited role's parents').
list_roles {}: {roles: [{name, actions, inherits?}]}: every role holding a permission on some
action and every inherited role (`inherits`: its role set), with the number of actions it may run
(an inherited role's through its parents), sorted by name (admin may run them all and is not
listed).

Errors: parse-failed (an unknown filter value, a limit out of range).
"""

from __future__ import annotations

from collections import Counter
from typing import Annotated, Any, Literal

import msgspec

from handlers.context import Context
from metadata.actions import Action
from metadata.objects import View
from metadata.roles import may_run
from metadata.strict import Strict


class ListActions(Strict):
    search: str | None = None
    names: list[str] | None = None
    kind: Literal["synchronous", "asynchronous"] | None = None
    handler_kind: Literal["webhook", "sql", "table", "http"] | None = None
    type: Literal["mutation", "query"] | None = None
    role: str | None = None
    limit: Annotated[int, msgspec.Meta(ge=1, le=1000)] = 50
    offset: Annotated[int, msgspec.Meta(ge=0)] = 0


class ListRoles(Strict):
    pass


def _matches(action: Action, args: ListActions, needle: str | None, view: View) -> bool:
    definition = action.definition
    if needle is not None and needle not in action.name.lower() and needle not in (action.comment or "").lower():
        return False
    return (
        (args.kind is None or definition.kind == args.kind)
        and (args.handler_kind is None or definition.handler_kind == args.handler_kind)
        and (args.type is None or definition.type == args.type)
        and (args.role is None or may_run(view, args.role, action))
    )


async def list_actions(ctx: Context, args: ListActions) -> dict[str, Any]:
    view = ctx.store.state
    needle = (args.search or "").strip().lower() or None
    if args.names is not None:
        candidates = [(name, item) for name in set(args.names) if (item := view.item(("action", name)))]
    else:
        candidates = list(view.items("action"))
    found = sorted((name, item) for name, item in candidates if _matches(item.value, args, needle, view))
    page = found[args.offset : args.offset + args.limit]
    # Bodies are the stored export form: spliced into the answer without encoding them again.
    return {"total": len(found), "actions": [msgspec.Raw(item.body) for _, item in page]}


async def list_roles(ctx: Context, args: ListRoles) -> dict[str, Any]:
    view = ctx.store.state
    actions = [item.value for _, item in view.items("action")]
    counts: Counter[str] = Counter()
    for action in actions:
        counts.update({p.role for p in action.permissions})
    inherited = {name: item.value.role_set for name, item in view.items("inherited_role")}
    for role in inherited:
        counts[role] = sum(may_run(view, role, action) for action in actions)
    roles: list[dict[str, Any]] = []
    for role in sorted(counts):
        entry: dict[str, Any] = {"name": role, "actions": counts[role]}
        if role in inherited:
            entry["inherits"] = inherited[role]
        roles.append(entry)
    return {"roles": roles}
