"""What sql and table actions share: one transaction on a source's pool, bounded by the action's
timeout and run again once when the pool's connection had been dropped; statements whose
database errors become the caller's; the output checked against an optional output_type as a
webhook's answer is."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncConnection

from handlers.execution.database_errors import connection_failed, statement_failed
from handlers.execution.engines import Engines
from handlers.execution.webhook import HandlerFailed, HandlerTimedOut
from metadata.actions import Action
from metadata.data_sources import DataSource
from metadata.objects import View
from metadata.values import OutputError, validate_output

T = TypeVar("T")


class _Stale(Exception):
    """The database had dropped the pooled connection (a restart, an idle timeout)."""

    def __init__(self, cause: sa.exc.DBAPIError) -> None:
        self.cause = cause


async def transaction(
    engines: Engines, source: DataSource, timeout: float, work: Callable[[AsyncConnection], Awaitable[T]]
) -> T:
    """`work` in one transaction, within `timeout` seconds (then 504).

    Pooled connections are not pinged before each use, which would cost a round trip per run.
    Instead, when a statement finds its connection dropped by the database, nothing has been
    committed, so the transaction runs once more on a fresh connection.
    """
    try:
        async with asyncio.timeout(timeout):
            for attempt in range(2):
                conn = await engines.connect(source)
                try:
                    async with conn.begin():
                        result = await work(conn)
                    return result
                except _Stale as stale:
                    if attempt:
                        raise connection_failed(source.name, stale.cause) from None
                except sa.exc.DBAPIError as exc:  # the commit itself failed
                    raise statement_failed(exc, source.name, "COMMIT") from None
                finally:
                    await conn.close()
    except TimeoutError:
        raise HandlerTimedOut(f"the statements did not finish within {timeout:g} seconds") from None
    raise AssertionError("unreachable")


async def execute(
    conn: AsyncConnection, source: DataSource, statement: sa.Executable, parameters: Any = None, shown: str = ""
) -> sa.CursorResult[Any]:
    """The statement's result; a database error as the caller's error (`shown`: the SQL admins see)."""
    try:
        return await conn.execute(statement, parameters)
    except sa.exc.DBAPIError as exc:
        if exc.connection_invalidated:
            raise _Stale(exc) from None
        raise statement_failed(exc, source.name, shown or str(statement)) from None


def checked_output(action: Action, output: Any, view: View) -> Any:
    if action.definition.output_type is None:
        return output
    try:
        return validate_output(action.definition.output_type, output, view)
    except OutputError as exc:
        raise HandlerFailed(str(exc)) from None
