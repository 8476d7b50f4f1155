"""Connection pools of data sources, opened on first use and closed with the server, and what
their tables look like (introspected once, then cached until `reload_metadata`).

Pools are keyed by the resolved URL, so a source whose URL changes (or whose `url_from_env`
now reads differently) gets a new pool, and two sources naming one database share one.
"""

from __future__ import annotations

import asyncio
import os
from typing import Any

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine, create_async_engine

from handlers.execution.database_errors import SourceUnreachable, connection_failed, first_line
from metadata.data_sources import DataSource, async_url
from metadata.errors import InvalidConfiguration, NotExists
from metadata.hasura_sources import served_source, sources
from metadata.objects import View


def _sqlite_foreign_keys(dbapi_connection: Any, _record: Any) -> None:
    # SQLite enforces foreign keys only when asked; a Metabase user expects them enforced.
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.close()


def resolve_url(source: DataSource) -> str:
    if source.url is not None:
        return async_url(source.url)
    assert source.url_from_env is not None
    value = os.environ.get(source.url_from_env)
    if value is None:
        raise InvalidConfiguration(
            f'the environment variable "{source.url_from_env}" of source "{source.name}" is not set'
        )
    try:
        return async_url(value)
    except ValueError as exc:
        raise InvalidConfiguration(f'source "{source.name}": {exc}') from None


def data_source(view: View, name: str) -> DataSource:
    source = served_source(view, name)
    if source is None:
        raise NotExists(f'source with name "{name}" does not exist')
    return source


def _where(schema: str | None, name: str) -> str:
    return f"{schema}.{name}" if schema else name


class Engines:
    def __init__(self) -> None:
        self._engines: dict[str, AsyncEngine] = {}
        self._tables: dict[tuple[str, str | None, str], sa.Table] = {}

    def engine(self, source: DataSource) -> AsyncEngine:
        url = resolve_url(source)
        engine = self._engines.get(url)
        if engine is None:
            try:
                # Parameters are the callers' input: out of the log lines at every level.
                engine = create_async_engine(url, hide_parameters=True)
            except (sa.exc.ArgumentError, sa.exc.InvalidRequestError, ImportError, ValueError) as exc:
                # A URL that parses, but names a dialect or driver this server does not have, or
                # an option the dialect refuses: the source's configuration, not our failure.
                raise InvalidConfiguration(f'source "{source.name}" cannot be used: {first_line(exc)}') from None
            if engine.dialect.name == "sqlite":
                sa.event.listen(engine.sync_engine, "connect", _sqlite_foreign_keys)
            self._engines[url] = engine
        return engine

    async def connect(self, source: DataSource) -> AsyncConnection:
        """An open connection (the caller closes it); a source that cannot be reached is a 502."""
        engine = self.engine(source)
        try:
            return await engine.connect()
        # ValueError, TypeError, OverflowError: options of the URL the driver refuses as it
        # connects (a NUL in a file name, an unknown keyword, a port out of range).
        except (TimeoutError, OSError, sa.exc.DBAPIError, ValueError, TypeError, OverflowError) as exc:
            raise connection_failed(source.name, exc) from None

    async def probe(self, source: DataSource, timeout: float = 5.0) -> str | None:
        """Why the source cannot be reached, or None when it can."""
        try:
            async with asyncio.timeout(timeout):
                conn = await self.connect(source)
                await conn.close()
        except (SourceUnreachable, InvalidConfiguration) as exc:
            return exc.message
        except TimeoutError:
            return f'source "{source.name}" did not answer within {timeout:g} seconds'
        return None

    def schema_of(self, source: DataSource, schema: str | None) -> str | None:
        """A schema as the source's database knows it: Hasura writes `public` for every table,
        which a SQLite database has no schema for."""
        return schema if self.engine(source).dialect.name == "postgresql" else None

    async def table(self, source: DataSource, schema: str | None, name: str) -> sa.Table:
        """The table's reflected columns and primary key (cached)."""
        key = (resolve_url(source), schema, name)
        table = self._tables.get(key)
        if table is None:
            conn = await self.connect(source)
            try:
                table = await conn.run_sync(
                    lambda sync: sa.Table(name, sa.MetaData(), schema=schema, autoload_with=sync)
                )
            except sa.exc.NoSuchTableError:
                raise NotExists(f'table "{_where(schema, name)}" does not exist in source "{source.name}"') from None
            except sa.exc.DBAPIError as exc:  # an unknown schema, say: the source's error, not the store's
                if exc.connection_invalidated:
                    raise connection_failed(source.name, exc) from None
                reason = first_line(exc.orig if exc.orig is not None else exc)
                raise NotExists(
                    f'table "{_where(schema, name)}" cannot be read in source "{source.name}": {reason}'
                ) from None
            finally:
                await conn.close()
            self._tables[key] = table
        return table

    async def tables(self, source: DataSource) -> list[sa.Table]:
        """Every table of the source's default schema, reflected (not cached: for listings)."""
        conn = await self.connect(source)
        metadata = sa.MetaData()
        try:
            await conn.run_sync(lambda sync: metadata.reflect(sync))
        except sa.exc.DBAPIError as exc:
            raise connection_failed(source.name, exc) from None
        finally:
            await conn.close()
        return sorted(metadata.tables.values(), key=lambda table: table.name)

    async def prune(self, view: View) -> None:
        """Close the pools no source uses any more (dropped, or its URL changed), so a database
        left behind is not held open until the server stops."""
        used = set()
        names = [name for name, _ in view.items("source")] + [str(entry.get("name")) for entry in sources(view)]
        for source in filter(None, (served_source(view, name) for name in names)):
            try:
                used.add(resolve_url(source))
            except InvalidConfiguration:
                continue
        for url in [url for url in self._engines if url not in used]:
            engine = self._engines.pop(url)
            self._tables = {key: table for key, table in self._tables.items() if key[0] != url}
            await engine.dispose()

    def forget_tables(self) -> None:
        self._tables.clear()

    async def close(self) -> None:
        engines, self._engines = list(self._engines.values()), {}
        self._tables.clear()
        for engine in engines:
            await engine.dispose()
