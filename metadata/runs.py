"""Action runs in the store's database: queueing, claiming with a lease, finishing, reading.

A claim is one UPDATE ... WHERE id IN (SELECT ... FOR UPDATE SKIP LOCKED) RETURNING statement on
PostgreSQL (a plain subquery on SQLite, whose writers are serialised), so two workers, in one
process or in several, never hold the same run. It reads only waiting runs (a partial index);
runs whose lease expired are put back to waiting by `expire_leases`.

Queued runs and finishes are written by group commit (metadata/group_commit.py): the calls made
while a write is under way share the next transaction, and each returns once its row committed.
A run is answered with its id only after its row committed; a finish that never committed (the
process died first) leaves its run `processing` under its lease, so it is run again once the
lease expires, as any run of a dead worker.
"""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import msgspec
import sqlalchemy as sa

from metadata import tables
from metadata.group_commit import GroupCommit
from metadata.run_queue import IDS_PER_NOTICE, PgQueue, Queue, Settled, SqlQueue
from metadata.store import FINISHED_CHANNEL, RUNS_CHANNEL, Store

FINISHED = ("completed", "error")
# A run that will not run (again): finished, or cancelled before it started.
DONE = (*FINISHED, "cancelled")

_encode = msgspec.json.Encoder().encode
_decode = msgspec.json.Decoder().decode
R = tables.runs.c


@dataclass
class Run:
    id: str
    action: str
    mode: str
    status: str
    input: dict[str, Any]
    session: dict[str, str]
    headers: dict[str, str]
    role: str
    user_id: str | None
    output: Any
    errors: Any
    attempts: int
    created_at: float
    updated_at: float
    # A replay's original run and who replayed it; who cancelled a cancelled run ({role, ...}).
    replay_of: str | None = None
    replayed_by: dict[str, str] | None = None
    cancelled_by: dict[str, str] | None = None

    def result(self) -> dict[str, Any]:
        """The run as get_action_result shows it (`replay_of`, `replayed_by`, `cancelled_by`
        only when set)."""
        shown = {
            "id": self.id,
            "action": self.action,
            "status": self.status,
            "output": self.output,
            "errors": self.errors,
            "created_at": _iso(self.created_at),
            "updated_at": _iso(self.updated_at),
            "attempts": self.attempts,
        }
        if self.replay_of is not None:
            shown |= {"replay_of": self.replay_of, "replayed_by": self.replayed_by}
        if self.cancelled_by is not None:
            shown["cancelled_by"] = self.cancelled_by
        return shown


def _iso(ts: float) -> str:
    return datetime.fromtimestamp(ts, UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def _optional(value: str | None) -> Any:
    return None if value is None else _decode(value)


def _run(row: Mapping[Any, Any]) -> Run:
    output, errors = row["output"], row["errors"]
    return Run(
        id=row["id"],
        action=row["action"],
        mode=row["mode"],
        status=row["status"],
        input=_decode(row["input"]),
        session=_decode(row["session"]),
        headers=_decode(row["headers"]),
        role=row["role"],
        user_id=row["user_id"],
        output=None if output is None else _decode(output),
        errors=None if errors is None else _decode(errors),
        attempts=row["attempts"],
        created_at=row["created_at"],
        updated_at=row["updated_at"],
        replay_of=row["replay_of"],
        replayed_by=_optional(row["replayed_by"]),
        cancelled_by=_optional(row["cancelled_by"]),
    )


class Runs:
    def __init__(self, store: Store) -> None:
        self.store = store
        self.engine = store.engine
        self.queue: Queue = SqlQueue(store.engine) if store.is_sqlite else PgQueue(store.asyncpg_dsn)
        self._queued: GroupCommit[dict[str, Any]] = GroupCommit(self.queue.insert)
        self._settled: GroupCommit[Settled] = GroupCommit(self.queue.settle)

    async def close(self) -> None:
        await self.flush()
        await self.queue.close()

    async def add(
        self,
        *,
        action: str,
        mode: str,
        input: dict[str, Any],
        session: dict[str, str],
        headers: dict[str, str],
        role: str,
        lease_seconds: float,
        status: str = "created",
        output: Any = None,
        errors: Any = None,
        held_by: str | None = None,
        replay_of: str | None = None,
        replayed_by: dict[str, str] | None = None,
    ) -> Run:
        """Write a run; committed before this returns, so an id handed out is never lost. With
        `held_by`, the run is written already claimed by that lease holder (its first attempt).
        A replay names the run it replays and who replayed it."""
        now = time.time()
        run_id = str(uuid.uuid4())
        if held_by is not None:
            status = "processing"
        row = {
            "id": run_id,
            "action": action,
            "mode": mode,
            "status": status,
            "input": _encode(input).decode(),
            "session": _encode(session).decode(),
            "headers": _encode(headers).decode(),
            "role": role,
            "user_id": session.get("x-hasura-user-id"),
            "output": None if output is None else _encode(output).decode(),
            "errors": None if errors is None else _encode(errors).decode(),
            "attempts": 0 if status == "created" else 1,
            "lease_seconds": lease_seconds,
            "created_at": now,
            "updated_at": now,
            "run_at": now,
            "lease_until": None if held_by is None else now + lease_seconds,
            "claimed_by": held_by,
            "replay_of": replay_of,
            "replayed_by": None if replayed_by is None else _encode(replayed_by).decode(),
        }
        await self._queued.submit(row)
        return Run(
            id=run_id,
            action=action,
            mode=mode,
            status=status,
            input=input,
            session=session,
            headers=headers,
            role=role,
            user_id=session.get("x-hasura-user-id"),
            output=output,
            errors=errors,
            attempts=0 if status == "created" else 1,
            created_at=now,
            updated_at=now,
            replay_of=replay_of,
            replayed_by=replayed_by,
        )

    async def claim(self, token: str, limit: int) -> list[Run]:
        """Take up to `limit` due runs (new, or a retry that came due), oldest first, and lease
        them to `token`: one statement however many there are."""
        rows = await self.queue.claim(token, limit, time.time())
        return sorted((_run(row) for row in rows), key=lambda run: run.created_at)

    async def expire_leases(self) -> int:
        """Put the runs whose lease expired (their worker died) back to waiting, due now; the
        attempt they made still counts. Returns how many."""
        return await self.queue.expire(time.time())

    async def next_due(self) -> float | None:
        """When the earliest waiting run becomes due (retries wait), if any."""
        return await self.queue.next_due()

    async def waiting(self) -> tuple[int, float | None]:
        """How many runs are due and wait for a worker, and since when the oldest is due: one
        statement on the (status, run_at) index, cheap enough for every metrics scrape."""
        query = sa.select(sa.func.count(), sa.func.min(R.run_at)).where(R.status == "created", R.run_at <= time.time())
        async with self.engine.connect() as conn:
            count, oldest = (await conn.execute(query)).one()
        return int(count), None if oldest is None else float(oldest)

    async def finish(self, run_id: str, token: str, *, output: Any = None, errors: Any = None) -> None:
        """Record the outcome of a run `token` holds; returns once committed (group commit). Only
        the holder of the lease may settle a run: a worker that outlived its lease does not."""
        await self._settled.submit(
            (
                run_id,
                token,
                "completed" if errors is None else "error",
                None if output is None else _encode(output).decode(),
                None if errors is None else _encode(errors).decode(),
                time.time(),
            )
        )

    async def flush(self) -> None:
        """Wait for the queued runs and finishes handed over so far to be written."""
        await self._queued.flush()
        await self._settled.flush()

    async def retry(self, run_id: str, token: str, at: float, errors: Any) -> None:
        values = {"status": "created", "run_at": at, "lease_until": None, "claimed_by": None}
        values |= {"errors": _encode(errors).decode(), "updated_at": time.time()}
        async with self.engine.begin() as conn:
            await conn.execute(sa.update(tables.runs).where(R.id == run_id, R.claimed_by == token).values(**values))

    async def release(self, token: str) -> None:
        """Hand back every run `token` holds (graceful shutdown): they are due again at once."""
        async with self.engine.begin() as conn:
            await conn.execute(
                sa.update(tables.runs)
                .where(R.claimed_by == token, R.status == "processing")
                .values(
                    status="created", claimed_by=None, lease_until=None, attempts=R.attempts - 1, run_at=time.time()
                )
            )
            if not self.store.is_sqlite:
                await conn.execute(sa.text(f"NOTIFY {RUNS_CHANNEL}"))

    async def get(self, run_id: str) -> Run | None:
        async with self.engine.connect() as conn:
            row = (await conn.execute(sa.select(tables.runs).where(R.id == run_id))).first()
        return None if row is None else _run(row._mapping)

    async def finished_among(self, ids: list[str]) -> set[str]:
        """Those of the runs `ids` that have finished: how a server whose store does not notify
        (SQLite) learns of runs another process finished. By primary key, 500 ids a statement."""
        done: set[str] = set()
        async with self.engine.connect() as conn:
            for start in range(0, len(ids), 500):
                query = sa.select(R.id).where(R.id.in_(ids[start : start + 500]), R.status.in_(DONE))
                done.update((await conn.execute(query)).scalars())
        return done

    async def log(
        self, action: str | None, status: str | None, limit: int, offset: int = 0, before: str | None = None
    ) -> list[Run]:
        """Newest first (the id breaking ties). `before`, a run's id, pages by key: the runs after
        it in this order, read straight from an index however deep the page; `offset` skips rows
        (kept for callers that page so, it reads what it skips)."""
        query = sa.select(tables.runs).order_by(R.created_at.desc(), R.id.desc()).limit(limit).offset(offset)
        if action is not None:
            query = query.where(R.action == action)
        if status is not None:
            query = query.where(R.status == status)
            if status in FINISHED:  # the finished runs' index: its predicate, literally, to match it
                query = query.where(tables.FINISHED)
        async with self.engine.connect() as conn:
            if before is not None:
                key = (await conn.execute(sa.select(R.created_at, R.id).where(R.id == before))).first()
                if key is None:
                    return []
                query = query.where(sa.tuple_(R.created_at, R.id) < sa.tuple_(key.created_at, key.id))
            return [_run(row._mapping) for row in (await conn.execute(query)).all()]

    async def cancel(
        self,
        by: dict[str, str],
        errors: Any,
        *,
        ids: list[str] | None = None,
        action: str | None = None,
        since: float | None = None,
        until: float | None = None,
        limit: int = 1000,
    ) -> list[str]:
        """Cancel waiting runs (status created: never started, or waiting for a retry), oldest
        first, at most `limit`: the runs `ids`, or those of `action` created in [since, until).
        One statement, whose `status = 'created'` a claim also needs: of a claim and a cancel of
        the same run, one wins, so a cancelled run is never delivered, and a claimed run is not
        cancelled. Every server's subscribers learn of them as of finished runs. Returns the ids
        cancelled."""
        now = time.time()
        chosen = sa.select(R.id).where(tables.WAITING).order_by(R.created_at, R.id).limit(limit)
        if ids is not None:
            chosen = chosen.where(R.id.in_(ids))
        if action is not None:
            chosen = chosen.where(R.action == action)
        if since is not None:
            chosen = chosen.where(R.created_at >= since)
        if until is not None:
            chosen = chosen.where(R.created_at < until)
        if not self.store.is_sqlite:
            chosen = chosen.with_for_update(skip_locked=True)  # a run being claimed now is the claim's
        # A CTE, which runs once: a subquery may be run again for each row the update reaches,
        # and once the first rows are changed, its LIMIT would pick others.
        picked = chosen.cte("picked")
        cancel = (
            sa.update(tables.runs)
            .where(R.id.in_(sa.select(picked.c.id)), tables.WAITING)
            .values(
                status="cancelled",
                errors=_encode(errors).decode(),
                cancelled_by=_encode(by).decode(),
                updated_at=now,
                lease_until=None,
                claimed_by=None,
            )
            .returning(R.id, R.created_at)
        )
        async with self.engine.begin() as conn:
            done = [row.id for row in sorted((await conn.execute(cancel)).all(), key=lambda r: (r.created_at, r.id))]
            if done and not self.store.is_sqlite:
                for start in range(0, len(done), IDS_PER_NOTICE):
                    notice = ",".join(done[start : start + IDS_PER_NOTICE])
                    await conn.execute(sa.select(sa.func.pg_notify(FINISHED_CHANNEL, notice)))
        return done

    async def replayable(
        self, action: str | None, status: str, since: float | None, until: float | None, limit: int
    ) -> list[Run]:
        """The runs in `status` (error, completed, cancelled) of `action` created in [since, until),
        oldest first, at most `limit`, leaving out those replayed already (a replay that failed
        is a failed run of its own)."""
        query = sa.select(tables.runs).where(R.status == status).order_by(R.created_at, R.id).limit(limit)
        if status in FINISHED:  # the finished runs' index: its predicate, literally, to match it
            query = query.where(tables.FINISHED)
        if action is not None:
            query = query.where(R.action == action)
        if since is not None:
            query = query.where(R.created_at >= since)
        if until is not None:
            query = query.where(R.created_at < until)
        replays = tables.runs.alias("replays")
        replayed = sa.select(replays.c.id).where(replays.c.replay_of == R.id, tables.REPLAYS)
        query = query.where(~sa.exists(replayed))
        async with self.engine.connect() as conn:
            return [_run(row._mapping) for row in (await conn.execute(query)).all()]

    async def delete_before(self, cutoff: float, batch: int = 500, stopping: asyncio.Event | None = None) -> int:
        """Delete the runs last changed before `cutoff` that are finished (or cancelled), or still queued (a run
        nobody took within the retention period is not coming), `batch` at a time: each delete is
        a short transaction, so a run being recorded meanwhile waits milliseconds, not the whole
        clean-up. Then give the space back (SQLite: checkpoint the WAL and free pages). Returns
        how many were deleted. With `stopping` set, it stops between two batches."""
        stale = sa.or_(R.status.in_(DONE), R.status == "created")
        total = 0
        while True:
            ids = sa.select(R.id).where(stale, R.updated_at < cutoff).limit(batch).scalar_subquery()
            async with self.engine.begin() as conn:
                done = int((await conn.execute(tables.runs.delete().where(R.id.in_(ids)))).rowcount)
            total += done
            if done < batch or (stopping is not None and stopping.is_set()):
                break
            await asyncio.sleep(0.01)  # let the writes waiting for the store go first
        if total and self.store.is_sqlite:
            async with self.engine.connect() as conn:
                await conn.exec_driver_sql("PRAGMA wal_checkpoint(TRUNCATE)")
                await conn.exec_driver_sql("PRAGMA incremental_vacuum")
        return total
