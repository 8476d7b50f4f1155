"""What a metadata change does to the GraphQL schemas clients were built against: for each role,
the breaking and dangerous changes between its schema before and after, as graphql-core's
`find_breaking_changes` / `find_dangerous_changes` name them (a dropped action, a removed output
field, a newly required argument, a permission taken from a role...).

The roles compared are admin and every role either version names (action and table permissions,
inherited roles). A role that gains or loses every action shows it as fields added or removed.
"""

from __future__ import annotations

from typing import Any

import graphql as gql

from handlers.context import ADMIN_ROLE, Runtime, Session
from handlers.graphql.schema import role_schema
from metadata.hasura_sources import permission_roles
from metadata.objects import View

# The kinds of object a schema is made of; a change to none of them changes no schema.
SCHEMA_KINDS = {"action", "input_object", "object", "scalar", "enum", "inherited_role", "source", "section"}


# graphql-core also names a built-in scalar no field uses any more (`Standard scalar Int was
# removed because it is not referenced anymore.`): every GraphQL server has them, so no client
# breaks on that alone.
_STANDARD_SCALAR = "Standard scalar "
# Hasura's `no_queries_available` stands in for the queries of a role that has none: it goes
# when the first query comes, which breaks nobody.
_PLACEHOLDER = "query_root.no_queries_available"


def roles(view: View) -> set[str]:
    named = {name for name, _ in view.items("inherited_role")} | permission_roles(view)
    for _, item in view.items("action"):
        named.update(p.role for p in item.value.permissions)
    return named


async def graphql_changes(
    runtime: Runtime, old: View, new: View, changes: dict[str, list[dict[str, Any]]]
) -> dict[str, list[dict[str, Any]]]:
    """{"breaking": [...], "dangerous": [...]}, each entry {role, type, description}, for the
    change from `old` to `new` whose objects `changes` lists (metadata/diff.py)."""
    out: dict[str, list[dict[str, Any]]] = {"breaking": [], "dangerous": []}
    if not any(entry["type"] in SCHEMA_KINDS for entries in changes.values() for entry in entries):
        return out
    for role in sorted(roles(old) | roles(new) | {ADMIN_ROLE}):
        session = Session(role=role)
        before = (await role_schema(runtime, old, session)).schema
        after = (await role_schema(runtime, new, session)).schema
        for key, find in (("breaking", gql.find_breaking_changes), ("dangerous", gql.find_dangerous_changes)):
            out[key] += [
                {"role": role, "type": change.type.name, "description": change.description}
                for change in find(before, after)
                if not change.description.startswith(_STANDARD_SCALAR) and _PLACEHOLDER not in change.description
            ]
    return out
