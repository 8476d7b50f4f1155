"""Fetching the rows an action's answer relates to (handlers/graphql/tables.py): one query per
relationship field per request, whatever the number of objects in the answer (a list answer's
keys go in one `IN`), filtered by the role's select permission and the field's `where`, ordered
by `order_by` (and `distinct_on`), then handed out to each object with its `offset` and `limit`
(and the permission's). The shaped rows are put beside the object's own fields, under a key no
JSON object can hold, where `shape` (plan.py) finds them.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from typing import Any

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncConnection

from handlers.execution.sql_values import json_rows, python_value
from handlers.execution.transactions import execute, transaction
from handlers.graphql.boolexp import Compiler, FilterError
from handlers.graphql.errors import RequestError
from handlers.graphql.plan import JOINED, Node, arguments, shape
from handlers.graphql.tables import Relation
from metadata.errors import SwitchboardError
from metadata.hasura_sources import ObjectRelationship, find, object_relationships, same_schema
from metadata.objects import View

TIMEOUT = 30.0  # seconds the rows of one relationship may take
_DIRECTIONS = {
    "asc": (sa.asc, None), "asc_nulls_first": (sa.asc, "first"), "asc_nulls_last": (sa.asc, "last"),
    "desc": (sa.desc, None), "desc_nulls_first": (sa.desc, "first"), "desc_nulls_last": (sa.desc, "last"),
}  # fmt: skip


async def attach(op: Any, node: Node, value: Any) -> Any:
    """`value` (an answer of `node`'s type: an object, or lists of them) with the rows of each
    relationship field `node` selects attached, on nested objects too; untouched when it selects
    none. The objects of one level are gathered first, so a relationship costs one query
    whatever their number."""
    if value is None or not node.children:
        return value
    objects = [dict(item) for item in _objects(value)]
    if not objects:
        return value
    related = {r.name: r for r in op.role.relations.get(node.type_name, ())}
    changed = False
    for child in node.children:
        if child.name in related:
            await _join(op, related[child.name], child, objects)
            changed = True
        elif child.children:
            inner = [obj.get(child.name) for obj in objects]
            attached = await attach(op, child, inner)
            if attached is not inner:
                for obj, nested in zip(objects, attached, strict=True):
                    if child.name in obj:
                        obj[child.name] = nested
                changed = True
    return _put_back(value, iter(objects)) if changed else value


def _objects(value: Any) -> Iterator[dict[str, Any]]:
    """The objects of an answer, in order, however deep in lists."""
    if isinstance(value, dict):
        yield value
    elif isinstance(value, list):
        for item in value:
            yield from _objects(item)


def _put_back(value: Any, objects: Iterator[dict[str, Any]]) -> Any:
    """`value` with each of its objects (in `_objects`' order) replaced by the next of `objects`."""
    if isinstance(value, dict):
        return next(objects)
    if isinstance(value, list):
        return [_put_back(item, objects) for item in value]
    return value


def _key(row: dict[str, Any], names: Iterable[str]) -> tuple[str, ...] | None:
    values = [row.get(name) for name in names]
    return None if any(v is None for v in values) else tuple(str(v) for v in values)


async def _join(op: Any, relation: Relation, node: Node, objects: list[dict[str, Any]]) -> None:
    fields, columns = list(relation.mapping), list(relation.mapping.values())
    keys = {key for obj in objects if (key := _key(obj, fields)) is not None}
    rows = await _rows(op, relation, node, keys) if keys else []
    args = arguments(node.field, op.variables)
    grouped: dict[tuple[str, ...], list[dict[str, Any]]] = {}
    for row in rows:
        key = _key(row, columns)
        if key is not None:
            grouped.setdefault(key, []).append(row)
    limits = [
        n for n in (args.get("limit"), relation.permission.limit if relation.permission else None) if n is not None
    ]
    offset = args.get("offset") or 0
    for obj in objects:
        key = _key(obj, fields)
        found = grouped.get(key, []) if key is not None else []
        if relation.kind == "object":
            obj[(JOINED, node.key)] = shape(found[0], node.children, node.type_name) if found else None  # type: ignore[index]
            continue
        if args.get("distinct_on"):
            found = _distinct(found, _listed(args["distinct_on"]))
        found = found[offset:][: min(limits)] if limits else found[offset:]
        obj[(JOINED, node.key)] = shape(found, node.children, node.type_name)  # type: ignore[index]


def _distinct(rows: list[dict[str, Any]], columns: list[str]) -> list[dict[str, Any]]:
    seen, out = set(), []
    for row in rows:
        key = tuple(str(row.get(c)) for c in columns)
        if key not in seen:
            seen.add(key)
            out.append(row)
    return out


async def _rows(op: Any, relation: Relation, node: Node, keys: set[tuple[str, ...]]) -> list[dict[str, Any]]:
    table = relation.table
    runtime = op.runtime
    args = arguments(node.field, op.variables)
    related = await _object_relationships(runtime, op.runtime.store.state, relation)
    compiler = Compiler(op.session.variables, lambda t, name: related.get((t.schema, t.name), {}).get(name))
    columns = [table.columns[c] for c in relation.mapping.values()]
    matches = []
    for key in keys:
        try:
            matches.append(tuple(python_value(v, c.type) for v, c in zip(_typed(key, columns), columns, strict=True)))
        except ValueError:
            continue  # a key no row can have (text where the column holds numbers)
    if not matches:
        return []
    where = sa.tuple_(*columns).in_(matches) if len(columns) > 1 else columns[0].in_([m[0] for m in matches])
    try:
        conditions = [where, compiler.where(table, relation.permission.filter if relation.permission else {})]
        if args.get("where") is not None:
            conditions.append(compiler.where(table, args["where"]))
    except FilterError as exc:
        raise RequestError.of(str(exc), f"$.selectionSet.{node.key}") from None
    selected = {c.name: c for c in [*relation.columns, *columns]}
    query = sa.select(*selected.values()).where(*conditions).order_by(*_order(table, args))
    source = relation.source

    async def read(conn: AsyncConnection) -> list[dict[str, Any]]:
        return json_rows((await execute(conn, source, query)).fetchall())

    return await transaction(runtime.engines, source, TIMEOUT, read)


def _typed(key: tuple[str, ...], columns: list[sa.Column[Any]]) -> list[Any]:
    """A key's values (compared as text) as the columns' Python values take them."""
    out: list[Any] = []
    for text, column in zip(key, columns, strict=True):
        if isinstance(column.type, sa.Integer):
            out.append(int(text) if text.lstrip("-").isdigit() else text)
        elif isinstance(column.type, sa.Float | sa.Numeric):
            try:
                out.append(float(text))
            except ValueError:
                out.append(text)
        else:
            out.append(text)
    return out


def _listed(value: Any) -> list[Any]:
    """GraphQL's input coercion: one value where a list is expected is a list of one."""
    return [] if value is None else value if isinstance(value, list) else [value]


def _order(table: sa.Table, args: dict[str, Any]) -> list[Any]:
    """ORDER BY: the distinct_on columns first (Hasura's rule), then order_by's."""
    out: list[Any] = [table.columns[c] for c in _listed(args.get("distinct_on")) if c in table.columns]
    for item in _listed(args.get("order_by")):
        for column, direction in (item or {}).items():
            if column in table.columns and direction in _DIRECTIONS:
                order, nulls = _DIRECTIONS[direction]
                clause = order(table.columns[column])
                out.append(clause.nulls_first() if nulls == "first" else clause.nulls_last() if nulls else clause)
    return out


async def _object_relationships(
    runtime: Any, view: View, relation: Relation
) -> dict[tuple[str | None, str], dict[str, tuple[sa.Table, ObjectRelationship]]]:
    """The object relationships filters may go through: the related table's, and theirs (three
    tables deep), each remote table reflected."""
    out: dict[tuple[str | None, str], dict[str, tuple[sa.Table, ObjectRelationship]]] = {}
    pending = [relation.table]
    for _ in range(3):
        following = []
        for table in pending:
            if (table.schema, table.name) in out:
                continue
            entry = find(view, relation.key.source, table.schema, table.name)
            keys = {c.name: next(iter(c.foreign_keys)).column for c in table.columns if c.foreign_keys}
            foreign = {name: (col.table.schema, col.table.name, col.name) for name, col in keys.items()}
            found = {}
            for name, relationship in object_relationships(entry, foreign).items():
                remote_schema, remote_name = relationship.remote
                remote = next(
                    (
                        col.table
                        for col in keys.values()
                        if col.table.name == remote_name and same_schema(col.table.schema, remote_schema)
                    ),
                    None,
                )
                if remote is None:
                    try:
                        schema = runtime.engines.schema_of(relation.source, remote_schema)
                        remote = await runtime.engines.table(relation.source, schema, remote_name)
                    except SwitchboardError:
                        continue
                found[name] = (remote, relationship)
                following.append(remote)
            out[(table.schema, table.name)] = found
        pending = following
    return out
