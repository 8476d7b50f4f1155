"""Per-role GraphQL schemas: the actions a role may run as root fields, built with graphql-core.

* `query_root`: query actions, and for each asynchronous action `<name>(id: uuid!): <name>`, its
  run (an object type named after the action: id, created_at, errors, output); when a role has
  none, Hasura's `no_queries_available` field.
* `mutation_root`: mutation actions (an asynchronous one returns the run's id, `uuid!`); absent
  when the role has none.
* `subscription_root`: the runs of asynchronous actions, as in query_root; absent when none.

Descriptions come from action comments, argument and custom type descriptions. sql and table
actions without an output type are no GraphQL fields (as in actions.graphql). A schema is built
for a role when first asked for (in a thread, so other requests go on) and kept until the
metadata's version changes: writes never build schemas.
"""

from __future__ import annotations

import asyncio
import gc
from collections import OrderedDict
from collections.abc import Hashable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Literal

import graphql as gql

from handlers.context import Runtime, Session
from handlers.execution.executors import executor
from handlers.execution.run_action import permitted
from handlers.graphql.cache import Bounded
from handlers.graphql.tables import Relation, relations
from handlers.graphql.types import Types, Unresolvable
from metadata.actions import Action
from metadata.errors import SwitchboardError
from metadata.objects import View, snapshot

if TYPE_CHECKING:  # document.py builds on this module
    from handlers.graphql.document import Refused, Validated

Kind = Literal["run", "start", "result"]  # run a sync action, queue an async one, read its run
ROOTS = {"query": "query_root", "mutation": "mutation_root", "subscription": "subscription_root"}
NO_QUERIES = (
    "There are no queries available to the current role. Either there are no sources or remote schemas "
    "configured, or the current role doesn't have the required permissions."
)
RUN_ID = "the unique id of an action"
# Validated documents kept per role, and the characters of their texts (a document's parsed form
# is some fifty times larger); introspection answers kept per role (a whole schema's is large).
CACHED_DOCUMENTS, CACHED_DOCUMENT_CHARS = 1000, 256 * 1024
CACHED_INTROSPECTIONS, CACHED_INTROSPECTION_CHARS = 16, 64 * 1024


@dataclass(frozen=True)
class RootField:
    kind: Kind
    action: Action


@dataclass
class RoleSchema:
    schema: gql.GraphQLSchema
    # operation type -> field name -> what the field does
    roots: dict[str, dict[str, RootField]]
    # (query text, operationName) -> a validated operation, or why not (handlers/graphql/document.py)
    documents: Bounded[tuple[str, str | None], Validated | Refused] = field(
        default_factory=lambda: Bounded(CACHED_DOCUMENTS, CACHED_DOCUMENT_CHARS)
    )
    # object type -> its relationships to tables this role may select (handlers/graphql/tables.py)
    relations: dict[str, list[Relation]] = field(default_factory=dict)
    # introspection answers, by (query text, operationName, variables)
    introspection: Bounded[tuple[str, str | None, bytes], dict[str, Any]] = field(
        default_factory=lambda: Bounded(CACHED_INTROSPECTIONS, CACHED_INTROSPECTION_CHARS)
    )


def _run_type(types: Types, action: Action) -> gql.GraphQLObjectType:
    """Hasura's type of an asynchronous action's run: named after the action."""
    output = action.definition.output_type
    assert output is not None
    return gql.GraphQLObjectType(
        action.name,
        lambda: {
            "id": gql.GraphQLField(gql.GraphQLNonNull(types.scalar("uuid")), description=RUN_ID),
            "created_at": gql.GraphQLField(
                gql.GraphQLNonNull(types.scalar("timestamptz")),
                description="the time at which this action was created",
            ),
            "errors": gql.GraphQLField(types.scalar("json"), description="errors related to the invocation"),
            "output": gql.GraphQLField(types.ref(output, False), description="the output fields of this action"),
        },
        description=f'fields of action: "{action.name}"',
    )


def _arguments(types: Types, action: Action) -> dict[str, gql.GraphQLArgument]:
    return {  # str(): a table action's derived argument is named by SQLAlchemy's str subclass
        str(arg.name): gql.GraphQLArgument(types.ref(arg.type, True), description=arg.description)
        for arg in action.definition.arguments
    }


# Names were checked when the metadata was written: the root fields (up to one per action) are
# handed to graphql-core as they are, without its second pass over every name of every field.
def _field(type_: Any, args: dict[str, gql.GraphQLArgument], description: str | None) -> gql.GraphQLField:
    field = gql.GraphQLField(type_, description=description)
    field.args = args
    return field


def _root(name: str, fields: dict[str, gql.GraphQLField], description: str) -> gql.GraphQLObjectType:
    root = gql.GraphQLObjectType(name, fields, description=description)
    root.__dict__["fields"] = fields  # graphql-core's cached `fields`, as it would compute them
    return root


def build(actions: list[Action], types: Types) -> RoleSchema:
    """A role's schema of its actions (types: its custom types and relationships)."""
    fields: dict[str, dict[str, gql.GraphQLField]] = {op: {} for op in ROOTS}
    roots: dict[str, dict[str, RootField]] = {op: {} for op in ROOTS}
    uuid = gql.GraphQLNonNull(types.scalar("uuid"))
    for action in sorted(actions, key=lambda a: a.name):
        definition = action.definition
        output = definition.output_type
        if output is None or not types.resolves(output, False):
            continue
        if not all(types.resolves(arg.type, True) for arg in definition.arguments):
            continue
        comment = action.comment
        if definition.is_async:
            fields["mutation"][action.name] = _field(uuid, _arguments(types, action), comment)
            roots["mutation"][action.name] = RootField("start", action)
            if types.taken(action.name):  # the run's type is named after the action: no room for it
                continue
            run_type = _run_type(types, action)
            for op in ("query", "subscription"):
                fields[op][action.name] = _field(run_type, {"id": gql.GraphQLArgument(uuid, description=RUN_ID)}, None)
                roots[op][action.name] = RootField("result", action)
        else:
            op = definition.type
            fields[op][action.name] = _field(types.ref(output, False), _arguments(types, action), comment)
            roots[op][action.name] = RootField("run", action)
    if not fields["query"]:
        fields["query"]["no_queries_available"] = gql.GraphQLField(
            gql.GraphQLNonNull(gql.GraphQLString), description=NO_QUERIES
        )
    described = {"query": "query root", "mutation": "mutation root", "subscription": "subscription root"}
    objects = {op: _root(ROOTS[op], fields[op], described[op]) if fields[op] else None for op in ROOTS}
    # Valid by construction (names and types were checked when the metadata was written).
    schema = gql.GraphQLSchema(objects["query"], objects["mutation"], objects["subscription"], assume_valid=True)
    return RoleSchema(schema, roots, relations=types.relations)


# Distinct schemas kept at once (roles with the same actions and table permissions share one).
CACHED_SCHEMAS = 64


class Schemas:
    """Each role's schema, kept until the metadata changes (any new resource_version). Roles that
    may run the same actions and read the same tables the same way share one schema, built once;
    at most CACHED_SCHEMAS distinct ones are kept (the least recently used go first)."""

    def __init__(self, runtime: Runtime) -> None:
        self.runtime = runtime
        self._version = -1
        self._roles: dict[str, RoleSchema] = {}
        self._shared: OrderedDict[Hashable, RoleSchema] = OrderedDict()

    async def of(self, session: Session) -> RoleSchema:
        store = self.runtime.store
        if self._version != store.resource_version:
            self._roles.clear()
            self._shared.clear()
            self._version = store.resource_version
        found = self._roles.get(session.role)
        if found is not None:
            return found
        version = store.resource_version
        actions = await _actions(self.runtime, store.state, session)
        related = await relations(self.runtime, session, store.state)
        key = (tuple(action.name for action in actions), _relations_key(related))
        found = self._shared.get(key)
        if found is None:
            # Built in a thread, on a copy of the metadata (a change may arrive meanwhile): a
            # large schema takes a while to build, and other requests go on meanwhile.
            found = await asyncio.to_thread(_build, actions, snapshot(store.state), related)
        if version == store.resource_version:  # else it is already out of date: not kept
            self._shared[key] = found
            self._shared.move_to_end(key)
            while len(self._shared) > CACHED_SCHEMAS:
                dropped = self._shared.popitem(last=False)[1]
                self._roles = {role: schema for role, schema in self._roles.items() if schema is not dropped}
            self._roles[session.role] = found
        return found


def _relations_key(related: dict[str, list[Relation]]) -> Hashable:
    """What a role's relationships to tables are, as a key: the same relationships to the same
    tables with the same select permission make the same schema."""
    return tuple(
        (type_name, r.name, r.kind, r.key, repr(r.permission))
        for type_name in sorted(related)
        for r in related[type_name]
    )


def _build(actions: list[Action], view: View, related: dict[str, list[Relation]]) -> RoleSchema:
    # Tens of thousands of objects that live as long as the schema: the collector's passes over
    # them while they are made would cost more than making them.
    gc.disable()
    try:
        return build(actions, Types(view, related))
    finally:
        gc.enable()


async def role_schema(runtime: Runtime, view: View, session: Session) -> RoleSchema:
    """`session`'s role's schema for the metadata `view` (the current one, or any version's)."""
    actions = await _actions(runtime, view, session)
    related = await relations(runtime, session, view)
    return _build(actions, view, related)


async def _actions(runtime: Runtime, view: View, session: Session) -> list[Action]:
    """The actions `session`'s role may run, with the arguments a table action derives from its
    table when it declares none (one that cannot be read now is left out)."""
    actions = []
    for _, item in list(view.items("action")):
        action: Action = item.value
        if not permitted(action, session, view):
            continue
        signature = executor(action).signature
        if signature is not None and action.definition.output_type is not None:
            try:
                action = await signature(runtime, action, view)
            except (SwitchboardError, Unresolvable):
                continue
        actions.append(action)
    return actions
