"""What a data source's errors mean to the caller of an action.

Constraint violations (unique, not-null, foreign-key, check) are the caller's input breaking a
rule of the table: 400 `constraint-violation`, naming the constraint and column where the driver
says. Any other error of a statement is 400 `data-exception` with the database's own sentence.
A source that cannot be reached is the action's upstream failing: 502.
"""

from __future__ import annotations

import re
from typing import Any

import sqlalchemy as sa

from metadata.errors import ConstraintViolation, SwitchboardError


class DataException(SwitchboardError):
    code, status, absolute = "data-exception", 400, True


class SourceUnreachable(SwitchboardError):
    code, status, absolute = "unexpected", 502, True


# SQLite says "UNIQUE constraint failed: products.sku, products.shop" or "CHECK constraint failed: name".
_SQLITE = re.compile(r"(?P<kind>UNIQUE|NOT NULL|CHECK|FOREIGN KEY) constraint failed(?:: (?P<what>.*))?")
_PG_KEY = re.compile(r"Key \((?P<columns>[^)]*)\)")
_PG_KINDS = {"23505": "unique", "23502": "not-null", "23503": "foreign-key", "23514": "check"}
_SQLITE_KINDS = {"UNIQUE": "unique", "NOT NULL": "not-null", "FOREIGN KEY": "foreign-key", "CHECK": "check"}


def _driver_error(exc: sa.exc.DBAPIError) -> BaseException:
    """asyncpg's own exception carries the constraint's name; SQLAlchemy wraps it twice."""
    orig: BaseException = exc.orig if exc.orig is not None else exc
    return orig.__cause__ if orig.__cause__ is not None else orig


def first_line(exc: BaseException) -> str:
    return (str(exc).strip().splitlines() or [type(exc).__name__])[0]


def connection_failed(source: str, exc: BaseException) -> SourceUnreachable:
    return SourceUnreachable(f'source "{source}" cannot be reached', internal={"error": first_line(exc)})


def statement_failed(exc: sa.exc.DBAPIError, source: str, statement: str | None) -> SwitchboardError:
    if exc.connection_invalidated:
        return connection_failed(source, exc)
    driver = _driver_error(exc)
    message = first_line(driver)
    internal: dict[str, Any] = {"statement": statement} if statement is not None else {}
    if not isinstance(exc, sa.exc.IntegrityError):
        return DataException(message, internal=internal or None)
    details = _constraint(driver, message)
    sentence = message
    if "detail" in details:
        sentence = f"{message}: {details['detail']}"
    error = ConstraintViolation(sentence, internal=internal or None)
    error.absolute = True
    error.extensions = {k: v for k, v in details.items() if k != "detail"} or None
    return error


def _constraint(driver: BaseException, message: str) -> dict[str, str]:
    """{kind?, constraint?, table?, column?, detail?} from what the driver tells."""
    sqlstate = getattr(driver, "sqlstate", None)
    if sqlstate is not None:  # PostgreSQL
        out = {"kind": _PG_KINDS.get(sqlstate, "constraint")}
        for attribute, key in (("constraint_name", "constraint"), ("table_name", "table"), ("column_name", "column")):
            value = getattr(driver, attribute, None)
            if value:
                out[key] = value
        detail = getattr(driver, "detail", None)
        if detail:
            out["detail"] = detail
            match = _PG_KEY.search(detail)
            if match and "column" not in out:
                out["column"] = match.group("columns")
        return out
    match = _SQLITE.search(message)
    if match is None:
        return {}
    out = {"kind": _SQLITE_KINDS[match.group("kind")]}
    what = match.group("what")
    if what:
        first = what.split(",")[0].strip()
        if match.group("kind") in ("UNIQUE", "NOT NULL") and "." in first:
            out["table"], _, _ = first.partition(".")
            out["column"] = ", ".join(part.strip().partition(".")[2] for part in what.split(","))
        else:
            out["constraint"] = what
    return out
