"""Running `table` actions: insert, update or delete one row, found by its primary key.

The table is introspected (and cached). Without declared arguments, the action's arguments are
its columns: for insert every column but an auto-generated primary key, required when NOT NULL
without a default; for update the primary key (required) and every other column (optional);
for delete the primary key. An explicit null sets a column to NULL; an absent argument leaves it
as it is (Metabase cannot tell the two apart).

insert answers the created row; update the row as it now is; delete the row as it was. An
update or delete that would touch no row fails with not-exists, one that would touch several
with constraint-violation, and either way nothing changes.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache
from typing import Any

import msgspec
import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncConnection

from handlers.context import Call, Runtime
from handlers.execution.engines import data_source
from handlers.execution.sql_values import json_rows, python_value
from handlers.execution.transactions import checked_output, execute, transaction
from metadata.actions import Action, ArgumentDefinition, TableHandler
from metadata.data_sources import DataSource
from metadata.errors import ConstraintViolation, NotExists, ValidationFailed
from metadata.objects import View

# Column type -> the GraphQL type of its argument; checked in order (BigInteger is an Integer,
# Float a Numeric, DateTime is checked before Date).
_GRAPHQL_TYPES: tuple[tuple[type[sa.types.TypeEngine[Any]], str], ...] = (
    (sa.Boolean, "Boolean"),
    (sa.BigInteger, "bigint"),
    (sa.Integer, "Int"),
    (sa.Float, "Float"),
    (sa.Numeric, "numeric"),
    (sa.DateTime, "timestamptz"),
    (sa.Date, "date"),
    (sa.Time, "time"),
    (sa.Uuid, "uuid"),
    (sa.JSON, "jsonb"),
    (sa.String, "String"),
)


def _graphql_type(column: sa.Column[Any]) -> str:
    return next((name for kind, name in _GRAPHQL_TYPES if isinstance(column.type, kind)), "json")


def _generated(column: sa.Column[Any], table: sa.Table) -> bool:
    """A primary key the database fills in (serial, identity, SQLite's INTEGER PRIMARY KEY)."""
    if not column.primary_key:
        return False
    if column.identity is not None or column.server_default is not None:
        return True
    single_integer = len(table.primary_key.columns) == 1 and isinstance(column.type, sa.Integer)
    return single_integer and column.autoincrement in (True, "auto")


@lru_cache(maxsize=1024)
def derived_arguments(table: sa.Table, operation: str) -> tuple[ArgumentDefinition, ...]:
    out = []
    for column in table.columns:
        type_ = _graphql_type(column)
        if column.primary_key and operation != "insert":
            required = True
        elif operation == "delete" or (operation == "insert" and _generated(column, table)):
            continue
        else:
            required = operation == "insert" and not column.nullable and column.server_default is None
        # str(): reflected names are SQLAlchemy's quoted_name, a str subclass no encoder takes.
        out.append(ArgumentDefinition(name=str(column.name), type=f"{type_}!" if required else type_))
    return tuple(out)


def _handler(action: Action) -> TableHandler:
    assert action.definition.table is not None
    return action.definition.table


async def table_of(runtime: Runtime, action: Action, view: View) -> tuple[DataSource, sa.Table]:
    handler = _handler(action)
    source = data_source(view, handler.source)
    return source, await runtime.engines.table(source, handler.schema, handler.table)


def check_table(action: Action, table: sa.Table) -> str | None:
    """Why the action cannot work on this table, or None."""
    handler = _handler(action)
    if handler.operation != "insert" and not table.primary_key.columns:
        return f'table "{table.name}" has no primary key, which {handler.operation} needs to find one row'
    for arg in action.definition.arguments:
        if arg.name not in table.columns:
            return f'argument "{arg.name}" is not a column of table "{table.name}"'
    return None


async def signature(runtime: Runtime, action: Action, view: View) -> Action:
    """The action with its derived arguments when it declares none."""
    if action.definition.arguments:
        return action
    _, table = await table_of(runtime, action, view)
    derived = list(derived_arguments(table, _handler(action).operation))
    return msgspec.structs.replace(action, definition=msgspec.structs.replace(action.definition, arguments=derived))


def _values(table: sa.Table, given: dict[str, Any]) -> dict[str, Any]:
    out = {}
    for name, value in given.items():
        try:
            out[name] = python_value(value, table.columns[name].type)
        except ValueError as exc:
            raise ValidationFailed(str(exc), f"$.input.{name}") from None
    return out


@dataclass(frozen=True)
class Plan:
    statement: sa.UpdateBase
    key: dict[str, Any]  # the primary key of the row to touch (empty for insert)
    where: sa.ColumnElement[bool] | None


def _plan(table: sa.Table, operation: str, values: dict[str, Any]) -> Plan:
    if operation == "insert":
        return Plan(table.insert().values(values).returning(*table.columns), {}, None)
    key = {}
    for column in table.primary_key.columns:
        if values.get(column.name) is None:
            raise ValidationFailed(f'the primary key column "{column.name}" needs a value', "$.input")
        key[column.name] = values.pop(column.name)
    where = sa.and_(*(table.columns[name] == value for name, value in key.items()))
    if operation == "delete":
        return Plan(table.delete().where(where).returning(*table.columns), key, where)
    if not values:
        raise ValidationFailed("nothing to update: give at least one column besides the primary key", "$.input")
    return Plan(table.update().where(where).values(values).returning(*table.columns), key, where)


def _described(key: dict[str, Any]) -> str:
    return " and ".join(f"{name} = {value!r}" for name, value in key.items())


async def run_table(runtime: Runtime, call: Call, view: View) -> Any:
    source, table = await table_of(runtime, call.action, view)
    operation = _handler(call.action).operation
    plan = _plan(table, operation, _values(table, call.input))

    async def work(conn: AsyncConnection) -> dict[str, Any]:
        rows = json_rows((await execute(conn, source, plan.statement)).fetchall())
        if not rows:
            raise NotExists(f'no row of table "{table.name}" has {_described(plan.key)}', "$.input")
        if len(rows) > 1:  # raised inside the transaction: rolled back
            raise ConstraintViolation(
                f'{operation} would touch {len(rows)} rows of table "{table.name}"; '
                "exactly one was expected, nothing was changed",
                "$.input",
            )
        return rows[0]

    timeout = call.action.definition.timeout
    if runtime.tracing is None:
        row = await transaction(runtime.engines, source, timeout, work)
    else:
        dialect = runtime.engines.engine(source).dialect.name
        named = {"db.collection.name": table.name}
        with runtime.tracing.database(operation.upper(), source.name, dialect, named, table.name):
            row = await transaction(runtime.engines, source, timeout, work)
    return checked_output(call.action, row, view)


async def current_row(runtime: Runtime, action: Action, view: View, given: dict[str, Any]) -> dict[str, Any] | None:
    """The row the primary key in `given` points at, as it is now (what Metabase's forms prefill)."""
    source, table = await table_of(runtime, action, view)
    values = _values(table, {k: v for k, v in given.items() if k in table.columns})
    key = {column.name: values.get(column.name) for column in table.primary_key.columns}
    if any(value is None for value in key.values()):
        return None
    where = sa.and_(*(table.columns[name] == value for name, value in key.items()))

    async def read(conn: AsyncConnection) -> list[dict[str, Any]]:
        return json_rows((await execute(conn, source, sa.select(table).where(where).limit(1))).fetchall())

    rows = await transaction(runtime.engines, source, action.definition.timeout, read)
    return rows[0] if rows else None


async def preview_table(runtime: Runtime, call: Call, view: View) -> dict[str, Any]:
    source, table = await table_of(runtime, call.action, view)
    operation = _handler(call.action).operation
    plan = _plan(table, operation, _values(table, call.input))
    engine = runtime.engines.engine(source)
    preview: dict[str, Any] = {
        "source": source.name,
        "statement": str(plan.statement.compile(dialect=engine.dialect)),
        "parameters": call.input,
    }
    if plan.where is not None:
        where = plan.where

        async def touched(conn: AsyncConnection) -> list[dict[str, Any]]:
            return json_rows((await execute(conn, source, sa.select(table).where(where))).fetchall())

        preview["rows"] = await transaction(runtime.engines, source, call.action.definition.timeout, touched)
    return preview
