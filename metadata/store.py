"""The versioned metadata store (SQLAlchemy Core; SQLite by default, PostgreSQL by URL).

Objects are rows; each version records only the objects it changed, so a write costs the same at
10 or 10,000 actions. The process keeps the current version in memory (`state`) for reads, and
catches up incrementally from the change log when another process has written.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Callable, Coroutine, Iterable
from contextlib import asynccontextmanager
from datetime import UTC, datetime
from typing import Any

import asyncpg
import sqlalchemy as sa
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine, create_async_engine

from metadata import tables
from metadata.errors import Unavailable
from metadata.objects import Changes, Key, State, load_item

INITIAL_VERSION = 1
METADATA_CHANNEL = "switchboard_metadata"
RUNS_CHANNEL = "switchboard_runs"
FINISHED_CHANNEL = "switchboard_run_finished"  # payload: ids of runs just finished, comma-separated
POLL_SECONDS = 0.5
POOL_SIZE, POOL_OVERFLOW = 20, 10
SQLITE_LOCK_WAIT_SECONDS = 30


class StaleVersion(Exception):
    """Another writer committed since the version a change was built on."""


def engine_url(url: str) -> str:
    """Accept plain SQLAlchemy URLs (or a bare file path) and pick the asyncio driver."""
    if "://" not in url:
        return f"sqlite+aiosqlite:///{url}"
    scheme, rest = url.split("://", 1)
    drivers = {"sqlite": "sqlite+aiosqlite", "postgres": "postgresql+asyncpg", "postgresql": "postgresql+asyncpg"}
    return f"{drivers.get(scheme, scheme)}://{rest}"


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
    # WAL lets readers proceed during a write; NORMAL sync is durable across process crashes.
    cursor = dbapi_connection.cursor()
    # Pages freed by deleting old runs can be given back (incremental_vacuum, metadata/runs.py);
    # it takes effect on a new file only (an existing one needs a VACUUM once).
    cursor.execute("PRAGMA auto_vacuum=INCREMENTAL")
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.close()


def _add_run_columns(conn: sa.Connection) -> None:
    """Add to an older store's runs table the columns it lacks (nullable: old rows keep NULL)."""
    present = {column["name"] for column in sa.inspect(conn).get_columns(tables.runs.name)}
    for name in tables.ADDED_RUN_COLUMNS:
        if name not in present:
            column = tables.runs.c[name]
            kind = column.type.compile(dialect=conn.dialect)
            conn.execute(sa.text(f"ALTER TABLE {tables.runs.name} ADD COLUMN {name} {kind}"))


class Store:
    def __init__(self, url: str) -> None:
        self.url = engine_url(url)
        # Enough pooled connections for the requests and the run queue's few writers at once, so
        # that connections are reused rather than opened per operation (SQLAlchemy's default
        # is 5, and each of the 10 overflow connections is closed as soon as it is returned).
        options: dict[str, Any] = {"pool_size": POOL_SIZE, "max_overflow": POOL_OVERFLOW}
        if self.url.startswith("sqlite"):
            # How long a write waits for SQLite's one write lock before "database is locked" (the
            # driver's default is 5 s): with several processes on one file (serve --workers,
            # servers side by side), a loaded machine made busy writers fail at 5 s.
            options = {"connect_args": {"timeout": SQLITE_LOCK_WAIT_SECONDS}}
        # Statement parameters hold metadata (a data source's URL with its password, say): kept
        # out of SQLAlchemy's log lines at every level, and out of the errors it raises.
        self.engine: AsyncEngine = create_async_engine(self.url, hide_parameters=True, **options)
        self.is_sqlite = self.engine.dialect.name == "sqlite"
        if self.is_sqlite:
            sa.event.listen(self.engine.sync_engine, "connect", _sqlite_pragmas)
        self.state = State()
        self.resource_version = 0
        # Writers in this process queue here; across processes the version row arbitrates.
        self.write_lock = asyncio.Lock()
        self._sync_lock = asyncio.Lock()
        self._background: set[asyncio.Task[None]] = set()

    async def open(self) -> None:
        async with self.engine.begin() as conn:
            if not self.is_sqlite:
                # Several servers may start at once on an empty database.
                await conn.execute(sa.text("SELECT pg_advisory_xact_lock(4242001)"))
            await conn.run_sync(tables.schema.create_all)
            # create_all makes missing tables only: columns and indexes added since a table was
            # made come here.
            await conn.run_sync(_add_run_columns)
            for index in tables.runs.indexes:
                await conn.run_sync(index.create, checkfirst=True)
            for name in tables.OLD_INDEXES:
                await conn.execute(sa.text(f"DROP INDEX IF EXISTS {name}"))
            inserted = await conn.execute(
                self._insert(tables.state).values(id=1, resource_version=INITIAL_VERSION).on_conflict_do_nothing()
            )
            if inserted.rowcount:
                await conn.execute(
                    tables.versions.insert().values(
                        version=INITIAL_VERSION, created_at=_now(), operation="init", role=None
                    )
                )
        await self.reload()

    async def close(self) -> None:
        # Stop the watcher and any catch-up it started before the engine goes away.
        for task in list(self._background):
            task.cancel()
        await asyncio.gather(*self._background, return_exceptions=True)
        await self.engine.dispose()

    @property
    def asyncpg_dsn(self) -> str:
        """The PostgreSQL URL as asyncpg takes it, for what talks to asyncpg directly."""
        return sa.make_url(self.url).set(drivername="postgresql").render_as_string(hide_password=False)

    def _spawn(self, coroutine: Coroutine[Any, Any, None]) -> None:
        task = asyncio.create_task(coroutine)
        self._background.add(task)
        task.add_done_callback(self._background.discard)

    def watch(self, on_runs: Callable[[], None], on_finished: Callable[[str], None] = lambda run_id: None) -> None:
        """Follow other servers' writes as they happen: PostgreSQL notifies (metadata changes,
        queued runs, finished runs); a SQLite file shared by several processes is polled."""
        self._spawn(self._listen(on_runs, on_finished) if not self.is_sqlite else self._poll())

    async def _poll(self) -> None:
        while True:
            await asyncio.sleep(POLL_SECONDS)
            with contextlib.suppress(Exception):
                await self.sync()

    async def _listen(self, on_runs: Callable[[], None], on_finished: Callable[[str], None]) -> None:
        def finished(_conn: object, _pid: int, _channel: str, ids: str) -> None:
            for run_id in ids.split(","):
                on_finished(run_id)

        while True:
            try:
                conn = await asyncpg.connect(self.asyncpg_dsn)
            except (OSError, asyncpg.PostgresError):
                await asyncio.sleep(POLL_SECONDS)
                continue
            try:
                await conn.add_listener(METADATA_CHANNEL, lambda *_: self._spawn(self._quiet_sync()))
                await conn.add_listener(RUNS_CHANNEL, lambda *_: on_runs())
                await conn.add_listener(FINISHED_CHANNEL, finished)
                await self._quiet_sync()  # whatever was missed while not listening
                while not conn.is_closed():
                    await asyncio.sleep(POLL_SECONDS)
            finally:
                conn.terminate()  # no goodbye: this also runs on cancellation

    async def _quiet_sync(self) -> None:
        with contextlib.suppress(Exception):
            await self.sync()

    async def ping(self) -> None:
        async with self.engine.connect() as conn:
            await conn.execute(sa.text("SELECT 1"))

    def _insert(self, table: sa.Table) -> Any:
        return (sqlite.insert if self.is_sqlite else postgresql.insert)(table)

    async def reload(self) -> None:
        """Read the whole current version (one statement, so one consistent snapshot)."""
        async with self.engine.connect() as conn:
            await self._read_all(conn)

    async def _read_all(self, conn: AsyncConnection) -> None:
        query = sa.select(
            tables.state.c.resource_version, tables.objects.c.kind, tables.objects.c.name, tables.objects.c.body
        ).select_from(tables.state.outerjoin(tables.objects, sa.true()))
        rows = (await conn.execute(query)).all()
        state = State()
        state.apply({(kind, name): load_item(kind, body.encode()) for _, kind, name, body in rows if kind})
        self.state, self.resource_version = state, rows[0][0]

    async def sync(self) -> bool:
        """Catch up with writes committed by other processes, applying only what they changed.

        Returns whether there was anything to catch up with.
        """
        async with self._sync_lock, self.engine.connect() as conn:
            return await self._catch_up(conn)

    async def _catch_up(self, conn: AsyncConnection) -> bool:
        current = (await conn.execute(sa.select(tables.state.c.resource_version))).scalar_one()
        if current == self.resource_version:
            return False
        if current < self.resource_version:  # the database was replaced under us
            await self._read_all(conn)
            return True
        query = (
            sa.select(tables.changes.c.kind, tables.changes.c.name, tables.changes.c.body)
            .where(tables.changes.c.version > self.resource_version, tables.changes.c.version <= current)
            .order_by(tables.changes.c.version)
        )
        rows = (await conn.execute(query)).all()
        if current <= self.resource_version:  # a commit of ours got there while we read
            return False
        self.state.apply({(k, n): None if b is None else load_item(k, b.encode()) for k, n, b in rows})
        self.resource_version = current
        return True

    @asynccontextmanager
    async def exclusive(self) -> AsyncIterator[AsyncConnection]:
        """A transaction holding the store's write lock, caught up to the latest version.

        For a writer that keeps losing the compare-and-swap to other servers: the no-op update
        of the version row locks it (a row lock on PostgreSQL, the database's write lock on
        SQLite) until the transaction ends, so a change built inside, on the fresh state, and
        committed with `commit(..., conn=...)` cannot lose again.
        """
        async with self.engine.begin() as conn:
            state = tables.state.c
            await conn.execute(
                sa.update(tables.state).where(state.id == 1).values(resource_version=state.resource_version)
            )
            async with self._sync_lock:
                await self._catch_up(conn)
            yield conn

    async def commit(
        self,
        base: int,
        changes: Changes,
        operation: str,
        role: str | None,
        cleared_actions: Iterable[str] = (),
        conn: AsyncConnection | None = None,
    ) -> int:
        """Write `changes` as version base+1, only if the store is still at `base`; delete the runs
        of `cleared_actions` in the same transaction (`conn`'s, from `exclusive`, when given)."""
        version = base + 1
        async with contextlib.AsyncExitStack() as stack:
            if conn is None:
                conn = await stack.enter_async_context(self.engine.begin())
            swapped = await conn.execute(
                sa.update(tables.state)
                .where(tables.state.c.id == 1, tables.state.c.resource_version == base)
                .values(resource_version=version)
            )
            if swapped.rowcount != 1:
                raise StaleVersion
            await conn.execute(
                tables.versions.insert().values(version=version, created_at=_now(), operation=operation, role=role)
            )
            await self._write_objects(conn, version, changes)
            if cleared_actions:
                await conn.execute(tables.runs.delete().where(tables.runs.c.action.in_(sorted(cleared_actions))))
            if not self.is_sqlite:
                await conn.execute(sa.select(sa.func.pg_notify(METADATA_CHANNEL, str(version))))
        if version > self.resource_version:  # else a catch-up already brought this version in
            self.state.apply(changes)
            self.resource_version = version
        return version

    async def _write_objects(self, conn: AsyncConnection, version: int, changes: Changes) -> None:
        log = [
            {"version": version, "kind": k, "name": n, "body": None if item is None else item.body.decode()}
            for (k, n), item in changes.items()
        ]
        await conn.execute(tables.changes.insert(), log)
        puts = [{"kind": row["kind"], "name": row["name"], "body": row["body"]} for row in log if row["body"]]
        gone = [{"k": row["kind"], "n": row["name"]} for row in log if row["body"] is None]
        if puts:
            upsert = self._insert(tables.objects)
            upsert = upsert.on_conflict_do_update(index_elements=["kind", "name"], set_={"body": upsert.excluded.body})
            await conn.execute(upsert, puts)
        if gone:
            await conn.execute(
                tables.objects.delete().where(
                    tables.objects.c.kind == sa.bindparam("k"), tables.objects.c.name == sa.bindparam("n")
                ),
                gone,
            )

    async def has_version(self, version: int) -> bool:
        async with self.engine.connect() as conn:
            found = await conn.execute(sa.select(tables.versions.c.version).where(tables.versions.c.version == version))
            return found.first() is not None

    async def state_at(self, version: int) -> State:
        """The objects as they were at `version`: each object's last change at or before it."""
        c = tables.changes.c
        last = (
            sa.select(c.kind, c.name, sa.func.max(c.version).label("version"))
            .where(c.version <= version)
            .group_by(c.kind, c.name)
            .subquery()
        )
        query = (
            sa.select(c.kind, c.name, c.body)
            .join(last, sa.and_(c.kind == last.c.kind, c.name == last.c.name, c.version == last.c.version))
            .where(c.body.is_not(None))
        )
        async with self.engine.connect() as conn:
            rows = (await conn.execute(query)).all()
        state = State()
        changes: dict[Key, Any] = {(k, n): load_item(k, b.encode()) for k, n, b in rows}
        state.apply(changes)
        return state

    async def history(self, limit: int, before: int | None) -> list[dict[str, Any]]:
        v = tables.versions.c
        query = sa.select(v.version, v.created_at, v.operation, v.role).order_by(v.version.desc()).limit(limit)
        if before is not None:
            query = query.where(v.version < before)
        async with self.engine.connect() as conn:
            rows = (await conn.execute(query)).all()
        return [
            {"resource_version": version, "created_at": created_at, "operation": operation, "role": role}
            for version, created_at, operation, role in rows
        ]


def unreachable(exc: BaseException) -> Unavailable | None:
    """A store that cannot be reached is the service being unavailable, not a bug."""
    if isinstance(exc, (OSError, sa.exc.DBAPIError, *_ASYNCPG_DOWN)) and not isinstance(exc, _BUGS):
        return Unavailable("the metadata store cannot be reached", internal=str(exc))
    return None


# The same failures from asyncpg itself (the run queue talks to it directly on PostgreSQL).
_ASYNCPG_DOWN = (
    asyncpg.PostgresConnectionError,
    asyncpg.exceptions.OperatorInterventionError,
    asyncpg.exceptions.InterfaceError,
)
# Errors in what we sent, as opposed to failures to reach the database.
_BUGS = (sa.exc.ProgrammingError, sa.exc.IntegrityError, sa.exc.DataError, sa.exc.NotSupportedError)
