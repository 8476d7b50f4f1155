"""JSON input values as database parameters, and database rows as JSON.

PostgreSQL (asyncpg) checks every parameter against the type the statement expects, so a value
is bound with the SQL type its GraphQL type names (`date`, `numeric`, `uuid`, ...) and converted
to the Python object that type takes. SQLite stores what it is given, so there values go as
they came (objects and lists as JSON text).
"""

from __future__ import annotations

import datetime
import decimal
import uuid
from collections.abc import Callable
from typing import Any

import msgspec
import sqlalchemy as sa
from sqlalchemy.dialects import postgresql

_encode = msgspec.json.Encoder().encode

# GraphQL scalar -> the SQL type its values are checked against (everywhere) and bound as (on
# PostgreSQL). Others (String, ID, enums, custom scalars) are bound untyped: the server infers
# the type from the statement.
_BIND_TYPES: dict[str, sa.types.TypeEngine[Any]] = {
    "Int": sa.Integer(),
    "int4": sa.Integer(),
    "smallint": sa.SmallInteger(),
    "bigint": sa.BigInteger(),
    "Float": sa.Float(),
    "float8": sa.Float(),
    "numeric": sa.Numeric(),
    "Boolean": sa.Boolean(),
    "date": sa.Date(),
    "time": sa.Time(),
    "timestamp": sa.DateTime(),
    "timestamptz": sa.DateTime(timezone=True),
    "uuid": sa.Uuid(),
    "json": sa.JSON(),
    "jsonb": postgresql.JSONB(),
}


def bind_type(scalar: str) -> sa.types.TypeEngine[Any] | None:
    return _BIND_TYPES.get(scalar)


def _datetime(value: Any) -> datetime.datetime:
    return datetime.datetime.fromisoformat(value)


def _date(value: Any) -> datetime.date:
    return datetime.date.fromisoformat(value)


def _time(value: Any) -> datetime.time:
    return datetime.time.fromisoformat(value)


def _decimal(value: Any) -> decimal.Decimal:
    if isinstance(value, bool) or not isinstance(value, int | float | str):
        raise ValueError
    return decimal.Decimal(str(value))


def _int64(value: int) -> int:
    # No column of either database holds more (SQLite's driver cannot even bind it); narrower
    # columns are the database's to refuse (a data-exception naming the type).
    if not -(1 << 63) <= value < 1 << 63:
        raise ValueError(f"expected a 64-bit integer, got {value}")
    return value


def _integer(value: Any) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise ValueError
    return value


def _boolean(value: Any) -> bool:
    if not isinstance(value, bool):
        raise ValueError
    return value


def _uuid(value: Any) -> uuid.UUID:
    return uuid.UUID(value)


# Checked in order: DateTime before Date (neither subclasses the other, but be explicit), Float
# is a Numeric that takes floats as they are.
_CONVERTERS: tuple[tuple[type[sa.types.TypeEngine[Any]], str, Callable[[Any], Any]], ...] = (
    (sa.DateTime, "a date and time (ISO 8601)", _datetime),
    (sa.Date, "a date (YYYY-MM-DD)", _date),
    (sa.Time, "a time (HH:MM[:SS])", _time),
    (sa.Float, "a number", float),
    (sa.Numeric, "a number", _decimal),
    (sa.Uuid, "a UUID", _uuid),
    (sa.Integer, "an integer", _integer),
    (sa.Boolean, "a boolean", _boolean),
)


def python_value(value: Any, type_: sa.types.TypeEngine[Any]) -> Any:
    """`value` as the Python object a column or parameter of `type_` takes; ValueError if it is not one."""
    if value is None or isinstance(type_, sa.JSON):
        return value
    for kind, expected, convert in _CONVERTERS:
        if isinstance(type_, kind):
            if kind is sa.Uuid and not getattr(type_, "as_uuid", True):
                return value
            try:
                converted = convert(value)
            except (ValueError, TypeError, ArithmeticError):
                raise ValueError(f"expected {expected}, got {value!r}") from None
            return _int64(converted) if kind is sa.Integer else converted
    return value


def plain_value(value: Any) -> Any:
    """A value bound untyped: objects and lists travel as JSON text; ValueError for an integer no
    database column holds (SQLite's driver cannot even bind one)."""
    if isinstance(value, int) and not isinstance(value, bool):
        return _int64(value)
    return _encode(value).decode() if isinstance(value, dict | list) else value


def _number(value: Any) -> Any:
    # Numbers stay numbers, as Hasura answers numeric columns by default.
    if isinstance(value, decimal.Decimal):
        return int(value) if value == value.to_integral_value() and value.is_finite() else float(value)
    return value


def _text(value: Any) -> str:
    """A value JSON has no form for, as the database writes it: an inet or cidr (`1.2.3.4`), a
    bit string (asyncpg's BitString: `101`), a range (asyncpg's Range: `[1,5)`, `empty`)."""
    if hasattr(value, "as_string"):
        return str(value.as_string())
    if hasattr(value, "lower_inc"):
        if value.isempty:
            return "empty"
        lower, upper = ("" if bound is None else str(bound) for bound in (value.lower, value.upper))
        return f"{'[' if value.lower_inc else '('}{lower},{upper}{']' if value.upper_inc else ')'}"
    return str(value)


def json_rows(rows: Any) -> list[dict[str, Any]]:
    """Rows as JSON-ready objects (dates as ISO strings, bytes as base64, numerics as numbers,
    what JSON has no form for as text)."""
    plain = [{key: _number(value) for key, value in row._mapping.items()} for row in rows]
    return msgspec.to_builtins(plain, enc_hook=_text)  # type: ignore[no-any-return]
