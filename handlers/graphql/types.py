"""graphql-core types from metadata: built-in and Postgres scalars, and the custom types of
`set_custom_types` (objects, input objects, scalars, enums) with their descriptions.

Types are built once per schema, on first reference, so a role's schema holds only the types its
fields reach. An object type's relationships to tables (handlers/graphql/tables.py) are fields of
it for the roles that may select them. A type that does not resolve (metadata stored with allow_inconsistent_metadata)
makes the fields using it unavailable, as Hasura leaves inconsistent objects out of its schema.
"""

from __future__ import annotations

from typing import Any

import graphql as gql

from handlers.graphql.tables import Relation, TableTypes
from metadata.custom_types import EnumType, InputObjectType, ObjectType, ScalarType
from metadata.graphql_types import POSTGRES_SCALARS, GraphQLType, parse_graphql_type
from metadata.objects import View

BUILTIN: dict[str, gql.GraphQLScalarType] = {
    "Int": gql.GraphQLInt,
    "Float": gql.GraphQLFloat,
    "String": gql.GraphQLString,
    "Boolean": gql.GraphQLBoolean,
    "ID": gql.GraphQLID,
}
DEPRECATED = "No longer supported"  # graphql's default reason, what a bare @deprecated means


class Unresolvable(Exception):
    """A type name that names no type of the right kind."""


class Types:
    def __init__(self, view: View, relations: dict[str, list[Relation]] | None = None) -> None:
        self.view = view
        self.relations = relations or {}  # object type -> its relationships to tables, for this role
        self.tables = TableTypes(self.scalar)
        self.named: dict[str, gql.GraphQLNamedType] = dict(BUILTIN)
        self._checked: dict[tuple[str, bool], bool] = {}
        self._refs: dict[tuple[str, bool], Any] = {}  # wrappers are shared: most fields repeat a few types

    def scalar(self, name: str, description: str | None = None) -> gql.GraphQLScalarType:
        """A pass-through scalar (json, uuid, a custom scalar): values are the JSON given."""
        found = self.named.get(name)
        if found is None:
            found = self.named[name] = gql.GraphQLScalarType(name, description=description)
        assert isinstance(found, gql.GraphQLScalarType)
        return found

    def ref(self, text: str, input: bool) -> Any:
        """The graphql-core type of a type string (`[UserInput!]!`)."""
        key = (text, input)
        found = self._refs.get(key)
        if found is None:
            found = self._refs[key] = self._wrap(parse_graphql_type(text), input)
        return found

    def _wrap(self, type_: GraphQLType, input: bool) -> Any:
        inner = self._wrap(type_.of_type, input) if type_.of_type is not None else self.named_type(type_.base, input)
        if type_.of_type is not None:
            inner = gql.GraphQLList(inner)
        return inner if type_.nullable else gql.GraphQLNonNull(inner)

    def taken(self, name: str) -> bool:
        """Whether a type of this name exists already (a built-in or custom type)."""
        view = self.view
        return (
            name in BUILTIN
            or name in POSTGRES_SCALARS
            or any(view.get(kind, name) is not None for kind in ("object", "input_object", "scalar", "enum"))
        )

    def resolves(self, text: str, input: bool) -> bool:
        """Whether a type string, and every type it reaches, is defined with a fitting kind."""
        return self._resolves(parse_graphql_type(text).base, input)

    def _resolves(self, name: str, input: bool) -> bool:
        key = (name, input)
        if key not in self._checked:
            self._checked[key] = True  # a type reaching itself resolves as far as that goes
            self._checked[key] = self._check(name, input)
        return self._checked[key]

    def _check(self, name: str, input: bool) -> bool:
        if name in BUILTIN or name in POSTGRES_SCALARS:
            return True
        view = self.view
        if isinstance(view.get("scalar", name), ScalarType) or isinstance(view.get("enum", name), EnumType):
            return True
        owner = view.get("input_object" if input else "object", name)
        if not isinstance(owner, InputObjectType | ObjectType):
            return False
        return all(self._resolves(parse_graphql_type(f.type).base, input) for f in owner.fields)

    def named_type(self, name: str, input: bool) -> gql.GraphQLNamedType:
        found = self.named.get(name)
        if found is not None:
            return found
        view = self.view
        if name in POSTGRES_SCALARS:
            return self.scalar(name)
        if isinstance(scalar := view.get("scalar", name), ScalarType):
            return self.scalar(name, scalar.description)
        built: gql.GraphQLNamedType
        if isinstance(enum := view.get("enum", name), EnumType):
            values = {
                v.value: gql.GraphQLEnumValue(
                    v.value, description=v.description, deprecation_reason=DEPRECATED if v.is_deprecated else None
                )
                for v in enum.values
            }
            built = gql.GraphQLEnumType(name, values, description=enum.description)
        elif input and isinstance(obj := view.get("input_object", name), InputObjectType):
            fields = obj.fields
            built = gql.GraphQLInputObjectType(
                name,
                lambda: {
                    f.name: gql.GraphQLInputField(self.ref(f.type, True), description=f.description) for f in fields
                },
                description=obj.description,
            )
        elif not input and isinstance(out := view.get("object", name), ObjectType):
            out_fields, related = out.fields, self.relations.get(name, [])
            built = gql.GraphQLObjectType(
                name,
                lambda: {
                    **{
                        f.name: gql.GraphQLField(self.ref(f.type, False), description=f.description) for f in out_fields
                    },
                    **{r.name: self.tables.field(r) for r in related},
                },
                description=out.description,
            )
        else:
            raise Unresolvable(name)
        self.named[name] = built
        return built
