"""Action relationships to tables (Hasura's custom-type `relationships`), as a role sees them.

A relationship `{name, type: object | array, source?: "default", remote_table, field_mapping}` of
an action's output type points at a table of one of Switchboard's data sources. It is a field of
the output type for a role when the table is tracked (Hasura's `sources` section), the role is
admin or holds a select permission on it, and the source, the table and the mapped columns are
there (else it is left out, and reported by get_inconsistent_metadata). The table's columns the
role may read become a GraphQL object type named as Hasura names it (`user`, or `schema_table`
outside public), each column typed as Hasura types it (`Int`, `String`, `uuid`, `timestamptz`,
`numeric`, `jsonb`...). An array relationship takes Hasura's `where`, `order_by`, `distinct_on`,
`limit` and `offset`.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import graphql as gql
import sqlalchemy as sa
from sqlalchemy.dialects import postgresql

from handlers.context import Runtime, Session
from metadata.consistency import relationship_target
from metadata.custom_types import ObjectType
from metadata.data_sources import DataSource
from metadata.errors import SwitchboardError
from metadata.hasura_sources import (
    DEFAULT_SCHEMA,
    SelectPermission,
    TableKey,
    find,
    select_permission,
    served_source,
)
from metadata.objects import View

ORDER_BY_VALUES = ("asc", "asc_nulls_first", "asc_nulls_last", "desc", "desc_nulls_first", "desc_nulls_last")
TEXT_OPERATORS = ("_like", "_nlike", "_ilike", "_nilike")
# Column types as Hasura names their GraphQL scalars; checked in order (BigInteger is an Integer,
# a double precision a Float, a timestamp a DateTime).
_SCALARS: tuple[tuple[type[sa.types.TypeEngine[Any]], str], ...] = (
    (sa.Boolean, "Boolean"),
    (sa.BigInteger, "bigint"),
    (sa.Integer, "Int"),
    (sa.Double, "float8"),
    (sa.Float, "Float"),
    (sa.Numeric, "numeric"),
    (sa.Date, "date"),
    (sa.Time, "time"),
    (sa.Uuid, "uuid"),
    (postgresql.JSONB, "jsonb"),
    (sa.JSON, "json"),
    (sa.String, "String"),
)


def column_scalar(column: sa.Column[Any]) -> str:
    if isinstance(column.type, sa.DateTime):
        return "timestamptz" if column.type.timezone else "timestamp"
    return next((name for kind, name in _SCALARS if isinstance(column.type, kind)), "String")


@dataclass
class Relation:
    """A relationship a role may select: its table reflected, and what the role may read."""

    name: str
    kind: str  # object or array
    source: DataSource
    key: TableKey
    table: sa.Table
    mapping: dict[str, str]  # output field -> column
    permission: SelectPermission | None  # None: admin, every column and row
    entry: dict[str, Any] = field(default_factory=dict)  # the tracked table's Hasura entry

    @property
    def type_name(self) -> str:
        schema = self.key.schema
        return self.key.name if schema in (None, DEFAULT_SCHEMA) else f"{schema}_{self.key.name}"

    @property
    def columns(self) -> list[sa.Column[Any]]:
        allowed = None if self.permission is None else self.permission.columns
        return [c for c in self.table.columns if allowed is None or c.name in allowed]


async def relations(runtime: Runtime, session: Session, view: View) -> dict[str, list[Relation]]:
    """Object type name -> the relationships `session`'s role may select on it."""
    out: dict[str, list[Relation]] = {}
    for type_name, item in view.items("object"):
        obj: ObjectType = item.value
        for relationship in obj.relationships or []:
            found = await _relation(runtime, session, view, obj, relationship)
            if found is not None:
                out.setdefault(type_name, []).append(found)
    return out


async def _relation(
    runtime: Runtime, session: Session, view: View, obj: ObjectType, relationship: dict[str, Any]
) -> Relation | None:
    target = relationship_target(view, relationship)
    if isinstance(target, str):
        return None
    source_name, schema, name = target
    entry = find(view, source_name, schema, name) or {}
    permission = None if session.is_admin else select_permission(entry, session.role)
    if not session.is_admin and permission is None:
        return None  # as in Hasura: no select permission, no relationship field
    source = served_source(view, source_name)
    assert source is not None  # relationship_target checked it
    try:
        table = await runtime.engines.table(source, runtime.engines.schema_of(source, schema), name)
    except SwitchboardError:
        return None
    mapping = dict(relationship.get("field_mapping") or {})
    fields = obj.field_types()
    if not mapping or any(f not in fields or c not in table.columns for f, c in mapping.items()):
        return None
    key = TableKey(source_name, schema, name)
    return Relation(relationship["name"], relationship["type"], source, key, table, mapping, permission, entry)


class TableTypes:
    """The GraphQL types of related tables, built once per role schema (through `types`)."""

    def __init__(self, scalar: Any) -> None:
        self.scalar = scalar  # Types.scalar or a built-in's type, by name
        self.named: dict[str, Any] = {}

    def _scalar(self, name: str) -> gql.GraphQLScalarType:
        builtin = {"Int": gql.GraphQLInt, "Float": gql.GraphQLFloat, "String": gql.GraphQLString}
        builtin |= {"Boolean": gql.GraphQLBoolean}
        found = builtin.get(name) or self.scalar(name)
        assert isinstance(found, gql.GraphQLScalarType)
        return found

    def _once(self, name: str, make: Any) -> Any:
        if name not in self.named:
            self.named[name] = make()
        return self.named[name]

    def object(self, relation: Relation) -> gql.GraphQLObjectType:
        columns = relation.columns
        return self._once(  # type: ignore[no-any-return]
            relation.type_name,
            lambda: gql.GraphQLObjectType(
                relation.type_name,
                {str(c.name): gql.GraphQLField(self._column_type(c)) for c in columns},
                description=f'columns and relationships of "{relation.key.name}"',
            ),
        )

    def _column_type(self, column: sa.Column[Any]) -> Any:
        scalar = self._scalar(column_scalar(column))
        return scalar if column.nullable else gql.GraphQLNonNull(scalar)

    def field(self, relation: Relation) -> gql.GraphQLField:
        target = self.object(relation)
        if relation.kind == "object":
            return gql.GraphQLField(target, description="An object relationship")
        return gql.GraphQLField(
            gql.GraphQLNonNull(gql.GraphQLList(gql.GraphQLNonNull(target))),
            args=self._array_arguments(relation),
            description="An array relationship",
        )

    def _array_arguments(self, relation: Relation) -> dict[str, gql.GraphQLArgument]:
        name = relation.type_name
        columns = relation.columns
        select_column = self._once(
            f"{name}_select_column",
            lambda: gql.GraphQLEnumType(
                f"{name}_select_column", {str(c.name): gql.GraphQLEnumValue(str(c.name)) for c in columns}
            ),
        )
        order = self._once(
            "order_by", lambda: gql.GraphQLEnumType("order_by", {v: gql.GraphQLEnumValue(v) for v in ORDER_BY_VALUES})
        )
        order_by = self._once(
            f"{name}_order_by",
            lambda: gql.GraphQLInputObjectType(
                f"{name}_order_by", {str(c.name): gql.GraphQLInputField(order) for c in columns}
            ),
        )
        return {
            "distinct_on": gql.GraphQLArgument(gql.GraphQLList(gql.GraphQLNonNull(select_column))),
            "limit": gql.GraphQLArgument(gql.GraphQLInt),
            "offset": gql.GraphQLArgument(gql.GraphQLInt),
            "order_by": gql.GraphQLArgument(gql.GraphQLList(gql.GraphQLNonNull(order_by))),
            "where": gql.GraphQLArgument(self._bool_exp(relation)),
        }

    def _bool_exp(self, relation: Relation) -> gql.GraphQLInputObjectType:
        name = f"{relation.type_name}_bool_exp"
        columns = relation.columns

        def fields() -> dict[str, gql.GraphQLInputField]:
            exp = self.named[name]
            out = {
                "_and": gql.GraphQLInputField(gql.GraphQLList(gql.GraphQLNonNull(exp))),
                "_not": gql.GraphQLInputField(exp),
                "_or": gql.GraphQLInputField(gql.GraphQLList(gql.GraphQLNonNull(exp))),
            }
            return out | {str(c.name): gql.GraphQLInputField(self._comparison(column_scalar(c))) for c in columns}

        return self._once(name, lambda: gql.GraphQLInputObjectType(name, fields))  # type: ignore[no-any-return]

    def _comparison(self, scalar: str) -> gql.GraphQLInputObjectType:
        name = f"{scalar}_comparison_exp"

        def make() -> gql.GraphQLInputObjectType:
            kind = self._scalar(scalar)
            listed = gql.GraphQLList(gql.GraphQLNonNull(kind))
            fields = {op: gql.GraphQLInputField(kind) for op in ("_eq", "_gt", "_gte", "_lt", "_lte", "_neq")}
            fields |= {"_in": gql.GraphQLInputField(listed), "_nin": gql.GraphQLInputField(listed)}
            fields["_is_null"] = gql.GraphQLInputField(gql.GraphQLBoolean)
            if scalar == "String":
                fields |= {op: gql.GraphQLInputField(kind) for op in TEXT_OPERATORS}
            return gql.GraphQLInputObjectType(name, fields)

        return self._once(name, make)  # type: ignore[no-any-return]
