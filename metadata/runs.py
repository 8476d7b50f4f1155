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

import time
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import msgspec
import sqlalchemy as sa

from metadata import tables
from metadata.group_commit import GroupCommit
from metadata.store import RUNS_CHANNEL, Store

FINISHED = ("completed", "error")

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

    def result(self) -> dict[str, Any]:
        """The run as get_action_result shows it."""
        return {
            "id": self.id,
            "action": self.action,
            "status": self.status,
            "output": self.output,
            "errors": self.errors,
            "created_at": _iso(self.created_at),
            "updated_at": _iso(self.updated_at),
            "attempts": self.attempts,
        }


def _iso(ts: float) -> str:
    return datetime.fromtimestamp(ts, UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def _run(row: Any) -> Run:
    return Run(
        id=row.id,
        action=row.action,
        mode=row.mode,
        status=row.status,
        input=_decode(row.input),
        session=_decode(row.session),
        headers=_decode(row.headers),
        role=row.role,
        user_id=row.user_id,
        output=None if row.output is None else _decode(row.output),
        errors=None if row.errors is None else _decode(row.errors),
        attempts=row.attempts,
        created_at=row.created_at,
        updated_at=row.updated_at,
    )


# A finish as the worker hands it over: (run id, lease holder, the columns it sets).
Settled = tuple[str, str, dict[str, Any]]
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


class Runs:
    def __init__(self, store: Store) -> None:
        self.store = store
        self.engine = store.engine
        self._queued: GroupCommit[dict[str, Any]] = GroupCommit(self._insert)
        self._settled: GroupCommit[Settled] = GroupCommit(self._settle)

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
    ) -> str:
        """Write a run; committed before this returns, so an id handed out is never lost."""
        now = time.time()
        run_id = str(uuid.uuid4())
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
        }
        await self._queued.submit(row)
        return run_id

    async def _insert(self, rows: list[dict[str, Any]]) -> None:
        async with self.engine.begin() as conn:
            await conn.execute(tables.runs.insert(), rows)
            if not self.store.is_sqlite and any(row["status"] == "created" for row in rows):
                await conn.execute(sa.text(f"NOTIFY {RUNS_CHANNEL}"))

    async def claim(self, token: str, limit: int) -> list[Run]:
        """Take up to `limit` due runs (new, or a retry that came due), oldest first, and lease
        them to `token`: one transaction however many there are."""
        now = time.time()
        due = sa.select(R.id).where(tables.WAITING, R.run_at <= now).order_by(R.run_at).limit(limit)
        if not self.store.is_sqlite:
            due = due.with_for_update(skip_locked=True)
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
            .returning(*tables.runs.c)
        )
        async with self.engine.begin() as conn:
            rows = (await conn.execute(claim)).all()
        return sorted((_run(row) for row in rows), key=lambda run: run.created_at)

    async def expire_leases(self) -> int:
        """Put the runs whose lease expired (their worker died) back to waiting, due now; the
        attempt they made still counts. Returns how many."""
        now = time.time()
        async with self.engine.begin() as conn:
            expired = await conn.execute(
                sa.update(tables.runs)
                .where(tables.LEASED, R.lease_until < now)
                .values(status="created", run_at=now, lease_until=None, claimed_by=None)
            )
        return int(expired.rowcount)

    async def next_due(self) -> float | None:
        """When the earliest waiting run becomes due (retries wait), if any."""
        async with self.engine.connect() as conn:
            found = await conn.execute(sa.select(sa.func.min(R.run_at)).where(tables.WAITING))
            value = found.scalar()
        return None if value is None else float(value)

    async def finish(self, run_id: str, token: str, *, output: Any = None, errors: Any = None) -> None:
        """Record the outcome of a run `token` holds; returns once committed (group commit)."""
        values = {
            "to_status": "completed" if errors is None else "error",
            "to_output": None if output is None else _encode(output).decode(),
            "to_errors": None if errors is None else _encode(errors).decode(),
            "to_updated_at": time.time(),
        }
        await self._settled.submit((run_id, token, values))

    async def _settle(self, finished: list[Settled]) -> None:
        # Only the holder of the lease may settle a run: a worker that outlived its lease does not.
        async with self.engine.begin() as conn:
            await conn.execute(_SETTLE, [{"run_id": run_id, "token": token, **values} for run_id, token, values in finished])

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
        return None if row is None else _run(row)

    async def log(self, action: str | None, status: str | None, limit: int, offset: int) -> list[Run]:
        query = sa.select(tables.runs).order_by(R.created_at.desc(), R.id).limit(limit).offset(offset)
        if action is not None:
            query = query.where(R.action == action)
        if status is not None:
            query = query.where(R.status == status)
        async with self.engine.connect() as conn:
            return [_run(row) for row in (await conn.execute(query)).all()]

    async def delete_finished_before(self, cutoff: float) -> int:
        async with self.engine.begin() as conn:
            done = await conn.execute(tables.runs.delete().where(R.status.in_(FINISHED), R.updated_at < cutoff))
        return int(done.rowcount)
