"""The run queue's hot statements, per backend: queue rows, claim, settle, expire leases.

`SqlQueue` runs them through SQLAlchemy (SQLite: aiosqlite serialises writers anyway). `PgQueue`
runs each as one autocommit statement on its own small asyncpg pool: a profile of a PostgreSQL
drain showed SQLAlchemy's statement building and its BEGIN/COMMIT round trips around every
statement costing more than the statements themselves. Whole batches go as arrays (`unnest`), so
a batch is one statement and one round trip.

Both claim with the literal predicate of the partial index of waiting runs (metadata/tables.py):
a bound parameter would not let PostgreSQL's generic plan use it.
"""

from __future__ import annotations

import asyncio
from collections.abc import Mapping, Sequence
from typing import Any, Protocol

import asyncpg
import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncEngine

from metadata import tables
from metadata.store import FINISHED_CHANNEL, RUNS_CHANNEL

R = tables.runs.c
# A finish as the worker hands it over: (run id, lease holder, status, output, errors, when).
Settled = tuple[str, str, str, str | None, str | None, float]
# The columns a claim returns, to make Runs of.
RUN_COLUMNS = (
    "id", "action", "mode", "status", "input", "session", "headers", "role", "user_id", "output", "errors",
    "attempts", "created_at", "updated_at", "replay_of", "replayed_by", "cancelled_by",
)  # fmt: skip
INSERTED = (
    "id", "action", "mode", "status", "input", "session", "headers", "role", "user_id", "output", "errors",
    "attempts", "lease_seconds", "created_at", "updated_at", "run_at", "lease_until", "claimed_by",
    "replay_of", "replayed_by",
)  # fmt: skip


class Queue(Protocol):
    async def insert(self, rows: list[dict[str, Any]]) -> None: ...
    async def claim(self, token: str, limit: int, now: float) -> Sequence[Mapping[Any, Any]]: ...
    async def settle(self, finished: list[Settled]) -> None: ...
    async def expire(self, now: float) -> int: ...
    async def next_due(self) -> float | None: ...
    async def close(self) -> None: ...


_SETTLE = (
    sa.update(tables.runs)
    .where(R.id == sa.bindparam("run_id"), R.claimed_by == sa.bindparam("token"))
    .values(
        status=sa.bindparam("to_status"),
        output=sa.bindparam("to_output"),
        errors=sa.bindparam("to_errors"),
        updated_at=sa.bindparam("to_updated_at"),
        lease_until=None,
        claimed_by=None,
    )
)


class SqlQueue:
    def __init__(self, engine: AsyncEngine) -> None:
        self.engine = engine

    async def insert(self, rows: list[dict[str, Any]]) -> None:
        async with self.engine.begin() as conn:
            await conn.execute(tables.runs.insert(), rows)

    async def claim(self, token: str, limit: int, now: float) -> Sequence[Mapping[Any, Any]]:
        due = sa.select(R.id).where(tables.WAITING, R.run_at <= now).order_by(R.run_at).limit(limit)
        claim = (
            sa.update(tables.runs)
            .where(R.id.in_(due.scalar_subquery()))
            .values(
                status="processing",
                attempts=R.attempts + 1,
                lease_until=now + R.lease_seconds,
                claimed_by=token,
                updated_at=now,
            )
            .returning(*(R[name] for name in RUN_COLUMNS))
        )
        async with self.engine.begin() as conn:
            return [row._mapping for row in (await conn.execute(claim)).all()]

    async def settle(self, finished: list[Settled]) -> None:
        keys = ("run_id", "token", "to_status", "to_output", "to_errors", "to_updated_at")
        async with self.engine.begin() as conn:
            await conn.execute(_SETTLE, [dict(zip(keys, row, strict=True)) for row in finished])

    async def expire(self, now: float) -> int:
        async with self.engine.begin() as conn:
            expired = await conn.execute(
                sa.update(tables.runs)
                .where(tables.LEASED, R.lease_until < now)
                .values(status="created", run_at=now, lease_until=None, claimed_by=None)
            )
        return int(expired.rowcount)

    async def next_due(self) -> float | None:
        async with self.engine.connect() as conn:
            value = (await conn.execute(sa.select(sa.func.min(R.run_at)).where(tables.WAITING))).scalar()
        return None if value is None else float(value)

    async def close(self) -> None:
        pass


_TABLE = tables.runs.name
_TYPES = {
    "attempts": "int",
    "lease_seconds": "float8",
    "created_at": "float8",
    "updated_at": "float8",
    "run_at": "float8",
    "lease_until": "float8",
}
_COLUMNS = ", ".join(INSERTED)
_ARRAYS = ", ".join(f"${i}::{_TYPES.get(name, 'text')}[]" for i, name in enumerate(INSERTED, 1))
PG_INSERT = f"""
WITH queued AS (INSERT INTO {_TABLE} ({_COLUMNS}) SELECT * FROM unnest({_ARRAYS}) RETURNING status)
SELECT pg_notify('{RUNS_CHANNEL}', '') WHERE EXISTS (SELECT FROM queued WHERE status = 'created')
"""
PG_CLAIM = f"""
UPDATE {_TABLE} SET status = 'processing', attempts = attempts + 1, lease_until = $1 + lease_seconds,
    claimed_by = $2, updated_at = $1
WHERE id IN (
    SELECT id FROM {_TABLE} WHERE {tables.WAITING.text} AND run_at <= $1
    ORDER BY run_at LIMIT $3 FOR UPDATE SKIP LOCKED
)
RETURNING {", ".join(RUN_COLUMNS)}
"""
# The statement that settles a batch also tells every server which runs finished (their GraphQL
# subscriptions push them): NOTIFY is sent on commit, so no extra round trip or transaction. A
# notification's payload holds under 8,000 bytes: ids go 200 (of 36 characters) to one.
IDS_PER_NOTICE = 200
PG_SETTLE = f"""
WITH settled AS (
    UPDATE {_TABLE} AS r SET status = u.status, output = u.output, errors = u.errors, updated_at = u.updated_at,
        lease_until = NULL, claimed_by = NULL
    FROM unnest($1::text[], $2::text[], $3::text[], $4::text[], $5::text[], $6::float8[])
        AS u(id, token, status, output, errors, updated_at)
    WHERE r.id = u.id AND r.claimed_by = u.token
    RETURNING r.id
)
SELECT pg_notify('{FINISHED_CHANNEL}', string_agg(id, ','))
FROM (SELECT id, (row_number() OVER ()) / {IDS_PER_NOTICE} AS part FROM settled) AS numbered
GROUP BY part
"""
PG_EXPIRE = f"""
UPDATE {_TABLE} SET status = 'created', run_at = $1, lease_until = NULL, claimed_by = NULL
WHERE {tables.LEASED.text} AND lease_until < $1
"""
PG_NEXT_DUE = f"SELECT min(run_at) FROM {_TABLE} WHERE {tables.WAITING.text}"
# The claimer, the two group-commit writers and the odd retry or lease check, at most.
PG_POOL_SIZE = 4


async def _keep_session(connection: asyncpg.Connection) -> None:
    """Nothing to reset: these statements leave no session state, and asyncpg's default reset
    (unlock advisory locks, close cursors, unlisten, reset settings) is a round trip per use."""


class PgQueue:
    def __init__(self, dsn: str) -> None:
        self.dsn = dsn
        self._pool: asyncpg.Pool | None = None
        self._opening = asyncio.Lock()

    async def pool(self) -> asyncpg.Pool:
        if self._pool is None:
            async with self._opening:
                if self._pool is None:
                    self._pool = await asyncpg.create_pool(
                        self.dsn, min_size=1, max_size=PG_POOL_SIZE, reset=_keep_session
                    )
        return self._pool

    async def insert(self, rows: list[dict[str, Any]]) -> None:
        await (await self.pool()).execute(PG_INSERT, *([row[name] for row in rows] for name in INSERTED))

    async def claim(self, token: str, limit: int, now: float) -> Sequence[Mapping[Any, Any]]:
        return list(await (await self.pool()).fetch(PG_CLAIM, now, token, limit))

    async def settle(self, finished: list[Settled]) -> None:
        await (await self.pool()).execute(PG_SETTLE, *(list(column) for column in zip(*finished, strict=True)))

    async def expire(self, now: float) -> int:
        done = await (await self.pool()).execute(PG_EXPIRE, now)
        return int(done.rsplit(" ", 1)[1])

    async def next_due(self) -> float | None:
        value = await (await self.pool()).fetchval(PG_NEXT_DUE)
        return None if value is None else float(value)

    async def close(self) -> None:
        if self._pool is not None:
            await self._pool.close()
            self._pool = None
