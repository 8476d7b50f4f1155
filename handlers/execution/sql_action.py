"""Running `sql` actions: Metabase's custom SQL, with every `{{tag}}` a bound parameter.

All statements of an action run in one transaction on one connection of the source's pool: any
failure rolls every statement back. The output is {rows_affected: [n per statement], returning:
[rows of every statement that returns rows, in order]}; with an output_type, it is checked
against it as a webhook's answer is.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache
from typing import Any

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncConnection

from handlers.context import Call, Runtime
from handlers.execution.engines import data_source
from handlers.execution.sql_values import bind_type, json_rows, plain_value, python_value
from handlers.execution.transactions import checked_output, execute, transaction
from metadata.data_sources import DataSource
from metadata.errors import ValidationFailed
from metadata.graphql_types import parse_graphql_type
from metadata.objects import View


@dataclass(frozen=True)
class Statement:
    clause: sa.TextClause
    display: str  # the statement as a person reads it: tags as `:name`
    parameters: dict[str, Any]  # bound values, as the driver gets them
    shown: dict[str, Any]  # bound values, as the caller gave them


@lru_cache(maxsize=4096)
def _clause(sql: str, binds: tuple[tuple[str, sa.types.TypeEngine[Any] | None], ...]) -> sa.TextClause:
    """Built once per statement shape: text() parses the SQL for its parameters."""
    return sa.text(sql).bindparams(*(sa.bindparam(name, type_=type_) for name, type_ in binds))


def _statements(call: Call, dialect: str) -> list[Statement]:
    definition = call.action.definition
    assert definition.sql is not None
    scalars = {arg.name: parse_graphql_type(arg.type).base for arg in definition.arguments}
    out = []
    for template in definition.sql.templates():
        rendered = template.render(call.input)
        binds: list[tuple[str, sa.types.TypeEngine[Any] | None]] = []
        parameters: dict[str, Any] = {}
        shown: dict[str, Any] = {}
        for name in rendered.parameters:
            value = call.input.get(name)
            shown[name] = value
            type_ = bind_type(scalars[name])
            typed = type_ is not None and dialect == "postgresql"
            try:
                converted = value if type_ is None else python_value(value, type_)
                # SQLite stores what it is given: the value as it came, once checked.
                parameters[name] = converted if typed else plain_value(value)
            except ValueError as exc:
                raise ValidationFailed(str(exc), f"$.input.{name}") from None
            binds.append((name, type_ if typed else None))
        out.append(Statement(_clause(rendered.sql, tuple(binds)), rendered.display, parameters, shown))
    return out


def _source(call: Call, view: View) -> DataSource:
    sql = call.action.definition.sql
    assert sql is not None
    return data_source(view, sql.source)


async def run_sql(runtime: Runtime, call: Call, view: View) -> Any:
    source = _source(call, view)
    dialect = runtime.engines.engine(source).dialect.name
    statements = _statements(call, dialect)

    async def work(conn: AsyncConnection) -> dict[str, Any]:
        affected: list[int] = []
        returning: list[dict[str, Any]] = []
        for statement in statements:
            result = await execute(conn, source, statement.clause, statement.parameters, statement.display)
            rows = json_rows(result) if result.returns_rows else []
            affected.append(result.rowcount if result.rowcount >= 0 else len(rows))
            returning.extend(rows)
        return {"rows_affected": affected, "returning": returning}

    timeout = call.action.definition.timeout
    if runtime.tracing is None:
        output = await transaction(runtime.engines, source, timeout, work)
    else:
        texts = [statement.display for statement in statements]  # tags as :name, never a value
        first = texts[0].split(None, 1)[0].upper() if texts and texts[0].strip() else "SQL"
        operation = first if len(texts) == 1 else f"BATCH {first}"
        with runtime.tracing.database(operation, source.name, dialect, {"db.query.text": ";\n".join(texts)}):
            output = await transaction(runtime.engines, source, timeout, work)
    return checked_output(call.action, output, view)


async def preview_sql(runtime: Runtime, call: Call, view: View) -> dict[str, Any]:
    source = _source(call, view)
    statements = _statements(call, runtime.engines.engine(source).dialect.name)
    return {
        "source": source.name,
        "statements": [{"statement": s.display, "parameters": s.shown} for s in statements],
    }
