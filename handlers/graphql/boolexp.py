"""Hasura's boolean expressions compiled to SQLAlchemy: a select permission's `filter` and a
relationship field's `where`, always bound parameters, never SQL text built from values.

`{column: {_eq | _neq | _gt | _gte | _lt | _lte: value, _in | _nin: [values], _is_null: bool,
_like | _nlike | _ilike | _nilike: pattern}}`, `{column: value}` (Hasura's short form of `_eq`),
`{_and: [...]}`, `{_or: [...]}`, `{_not: {...}}`, and `{relationship: {...}}` through a table's
object relationship (an EXISTS on the related table). A value naming a session variable
(`X-Hasura-User-Id`, any case) is that variable's value. Values are checked against the
column's type (a user id of "7" for an integer column is 7); one that does not fit is a
FilterError.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import sqlalchemy as sa

from handlers.execution.sql_values import python_value
from metadata.hasura_sources import ObjectRelationship

Related = Callable[[sa.Table, str], tuple[sa.Table, ObjectRelationship] | None]
_COMPARISONS: dict[str, Callable[[Any, Any], Any]] = {
    "_eq": lambda c, v: c == v,
    "_neq": lambda c, v: c != v,
    "_gt": lambda c, v: c > v,
    "_gte": lambda c, v: c >= v,
    "_lt": lambda c, v: c < v,
    "_lte": lambda c, v: c <= v,
    "_like": lambda c, v: c.like(v),
    "_nlike": lambda c, v: c.not_like(v),
    "_ilike": lambda c, v: c.ilike(v),
    "_nilike": lambda c, v: c.not_ilike(v),
}


class FilterError(ValueError):
    """A boolean expression that names what is not there, or a value that does not fit."""


class Compiler:
    def __init__(self, session: dict[str, str], related: Related) -> None:
        self.session = {name.lower(): value for name, value in session.items()}
        self.related = related

    def where(self, table: sa.Table, expression: Any) -> sa.ColumnElement[bool]:
        if not isinstance(expression, dict):
            raise FilterError(f"expected an object of conditions, got {expression!r}")
        parts = [self._part(table, key, value) for key, value in expression.items()]
        return sa.and_(sa.true(), *parts)

    def _part(self, table: sa.Table, key: str, value: Any) -> sa.ColumnElement[bool]:
        if key in ("_and", "_or"):
            if not isinstance(value, list):
                raise FilterError(f"{key} takes a list of expressions")
            parts = [self.where(table, item) for item in value]
            if key == "_and":
                return sa.and_(sa.true(), *parts)
            return sa.or_(sa.false(), *parts)  # an empty _or is true in Hasura
        if key == "_not":
            return sa.not_(self.where(table, value))
        if key in table.columns:
            return self._column(table.columns[key], value)
        found = self.related(table, key)
        if found is None:
            raise FilterError(f'"{key}" is neither a column nor an object relationship of table "{table.name}"')
        remote, relationship = found
        joined = [remote.columns[theirs] == table.columns[ours] for ours, theirs in relationship.mapping.items()]
        return sa.exists(sa.select(sa.literal(1)).select_from(remote).where(*joined, self.where(remote, value)))

    def _column(self, column: sa.ColumnElement[Any], value: Any) -> sa.ColumnElement[bool]:
        if not isinstance(value, dict):
            equal: sa.ColumnElement[bool] = column == self._value(column, value)  # Hasura's short form of _eq
            return equal
        parts = []
        for operator, operand in value.items():
            if operator in _COMPARISONS:
                parts.append(_COMPARISONS[operator](column, self._value(column, operand)))
            elif operator in ("_in", "_nin"):
                if not isinstance(operand, list):
                    raise FilterError(f"{operator} takes a list of values")
                values = [self._value(column, item) for item in operand]
                parts.append(column.in_(values) if operator == "_in" else column.not_in(values))
            elif operator == "_is_null":
                if not isinstance(operand, bool):
                    raise FilterError("_is_null takes true or false")
                parts.append(column.is_(None) if operand else column.is_not(None))
            else:
                raise FilterError(f'unknown operator "{operator}"')
        return sa.and_(sa.true(), *parts)

    def _value(self, column: sa.ColumnElement[Any], value: Any) -> Any:
        if isinstance(value, str) and value.lower().startswith("x-hasura-"):
            if value.lower() not in self.session:
                raise FilterError(f'missing session variable: "{value.lower()}"')
            value = self.session[value.lower()]
            if not isinstance(column.type, sa.String | sa.JSON):
                value = _parsed(value)
        try:
            return python_value(value, column.type)
        except ValueError as exc:
            raise FilterError(f'{exc} for column "{column.key}"') from None


def _parsed(text: str) -> Any:
    """A session variable's text as the number or boolean it spells, for columns of those types."""
    if text in ("true", "false"):
        return text == "true"
    try:
        number = float(text)
    except ValueError:
        return text
    return int(number) if number.is_integer() and text.lstrip("-").isdigit() else number
