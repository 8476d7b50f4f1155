"""What sql and table actions share: one transaction on a source's pool, bounded by the action's
timeout; statements whose database errors become the caller's; the output checked against an
optional output_type as a webhook's answer is."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncConnection

from handlers.database_errors import statement_failed
from handlers.engines import Engines
from handlers.webhook import HandlerFailed, HandlerTimedOut
from metadata.actions import Action
from metadata.data_sources import DataSource
from metadata.objects import View
from metadata.values import OutputError, validate_output


@asynccontextmanager
async def connection(engines: Engines, source: DataSource, timeout: float) -> AsyncIterator[AsyncConnection]:
    """A connection for at most `timeout` seconds (then 504); the caller opens a transaction."""
    try:
        async with asyncio.timeout(timeout):
            conn = await engines.connect(source)
            try:
                yield conn
            finally:
                await conn.close()
    except TimeoutError:
        raise HandlerTimedOut(f"the statements did not finish within {timeout:g} seconds") from None


async def execute(
    conn: AsyncConnection,
    source: DataSource,
    statement: sa.Executable,
    parameters: Any = None,
    shown: str | None = None,
) -> sa.CursorResult[Any]:
    try:
        return await conn.execute(statement, parameters)
    except sa.exc.DBAPIError as exc:
        raise statement_failed(exc, source.name, shown or str(statement)) from None


def checked_output(action: Action, output: Any, view: View) -> Any:
    if action.definition.output_type is None:
        return output
    try:
        return validate_output(action.definition.output_type, output, view)
    except OutputError as exc:
        raise HandlerFailed(str(exc)) from None
