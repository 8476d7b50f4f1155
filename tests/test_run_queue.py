"""The run queue on a real store (SQLite file and PostgreSQL): claims never share a run, leases
expire back to waiting, group commit answers only after the commit, the claim uses the partial
index of waiting runs even as a generic prepared plan, and (PostgreSQL) settling a batch tells
every server which runs finished."""

from __future__ import annotations

import asyncio
from collections import Counter
from typing import Any

import asyncpg
import sqlalchemy as sa

from metadata import tables
from metadata.run_queue import IDS_PER_NOTICE, PG_CLAIM
from metadata.runs import Runs
from metadata.store import FINISHED_CHANNEL, Store


async def opened(database_url: str) -> tuple[Store, Runs]:
    store = Store(database_url)
    await store.open()
    return store, Runs(store)


async def closed(store: Store, runs: Runs) -> None:
    await runs.close()
    await store.close()


def queue(runs: Runs, n: int, **extra: Any) -> Any:
    return runs.add(
        action="work", mode="async", input={"n": n}, session={}, headers={}, role="admin", lease_seconds=30, **extra
    )


def test_concurrent_claimers_never_share_a_run(database_url: str) -> None:
    async def scenario() -> Counter[str]:
        store, runs = await opened(database_url)
        try:
            ids = {run.id for run in await asyncio.gather(*(queue(runs, n) for n in range(120)))}
            taken: Counter[str] = Counter()

            async def claimer(token: str) -> None:
                while batch := await runs.claim(token, 7):
                    taken.update(run.id for run in batch)

            await asyncio.gather(*(claimer(f"worker-{i}") for i in range(6)))
            assert set(taken) == ids
            return taken
        finally:
            await closed(store, runs)

    assert set(asyncio.run(scenario()).values()) == {1}


def test_an_expired_lease_is_run_again_and_the_old_holder_cannot_settle_it(database_url: str) -> None:
    async def scenario() -> None:
        store, runs = await opened(database_url)
        try:
            run = await queue(runs, 1, held_by="dead-worker")  # handed over, as run_action does
            assert (await runs.get(run.id)).status == "processing"  # type: ignore[union-attr]
            assert await runs.claim("other", 10) == []  # leased: nobody else takes it
            async with store.engine.begin() as conn:  # the lease runs out
                await conn.execute(sa.update(tables.runs).values(lease_until=0))
            assert await runs.expire_leases() == 1
            [again] = await runs.claim("other", 10)
            assert (again.id, again.attempts) == (run.id, 2)  # the dead worker's attempt counts
            await runs.finish(run.id, "dead-worker", output={"late": True})  # not the holder any more
            assert (await runs.get(run.id)).status == "processing"  # type: ignore[union-attr]
            await runs.finish(run.id, "other", output={"n": 1})
            done = await runs.get(run.id)
            assert done is not None and (done.status, done.output) == ("completed", {"n": 1})
        finally:
            await closed(store, runs)

    asyncio.run(scenario())


def test_group_commit_answers_each_caller_after_its_row_committed(database_url: str) -> None:
    async def scenario() -> None:
        store, runs = await opened(database_url)
        other = Store(database_url)  # another connection pool, as another server would read
        try:

            async def add_and_read(n: int) -> None:
                run = await queue(runs, n)
                async with other.engine.connect() as conn:
                    found = await conn.execute(sa.select(tables.runs.c.input).where(tables.runs.c.id == run.id))
                    assert found.scalar_one() == f'{{"n":{n}}}'

            await asyncio.gather(*(add_and_read(n) for n in range(60)))
        finally:
            await other.engine.dispose()
            await closed(store, runs)

    asyncio.run(scenario())


def test_settling_a_batch_notifies_every_finished_run(database_url: str) -> None:
    if database_url.startswith("sqlite"):
        return  # one server per SQLite file: nobody else to tell

    async def scenario() -> tuple[list[str], set[str]]:
        store, runs = await opened(database_url)
        heard: list[str] = []
        listener = await asyncpg.connect(store.asyncpg_dsn)
        try:
            await listener.add_listener(FINISHED_CHANNEL, lambda _c, _p, _ch, payload: heard.append(payload))
            ids = [run.id for run in await asyncio.gather(*(queue(runs, n) for n in range(450)))]
            claimed = await runs.claim("w", 500)
            # More finishes than one notification holds, settled as one batch; one not ours is left out.
            await asyncio.gather(*(runs.finish(run.id, "w", output={"n": 1}) for run in claimed[1:]))
            await runs.finish(claimed[0].id, "someone else", output={"n": 1})
            for _ in range(100):
                if sum(len(p.split(",")) for p in heard) >= len(ids) - 1:
                    break
                await asyncio.sleep(0.05)
            return heard, {run.id for run in claimed[1:]}
        finally:
            await listener.close()
            await closed(store, runs)

    heard, finished = asyncio.run(scenario())
    ids = [run_id for payload in heard for run_id in payload.split(",")]
    assert sorted(ids) == sorted(finished)
    assert len(heard) >= 3 and all(len(payload.split(",")) <= IDS_PER_NOTICE for payload in heard)


def test_the_claim_reads_the_partial_index_even_as_a_generic_plan(database_url: str) -> None:
    if database_url.startswith("sqlite"):
        return _sqlite_claim_uses_the_index(database_url)

    async def scenario() -> str:
        store, runs = await opened(database_url)
        await closed(store, runs)
        conn = await asyncpg.connect(store.asyncpg_dsn)
        try:
            # A generic plan cannot see bound values: only a literal predicate matches the index.
            await conn.execute("SET plan_cache_mode = force_generic_plan; SET enable_seqscan = off")
            await conn.execute(f"PREPARE claim(float8, text, int) AS {PG_CLAIM}")
            rows = await conn.fetch("EXPLAIN EXECUTE claim(1, 'w', 10)")
            return "\n".join(row[0] for row in rows)
        finally:
            await conn.close()

    plan = asyncio.run(scenario())
    assert "switchboard_action_runs_waiting" in plan, plan


def _sqlite_claim_uses_the_index(database_url: str) -> None:
    async def scenario() -> str:
        store, runs = await opened(database_url)
        try:
            query = f"SELECT id FROM {tables.runs.name} WHERE {tables.WAITING.text} AND run_at <= 1 ORDER BY run_at"
            async with store.engine.connect() as conn:
                rows = (await conn.execute(sa.text(f"EXPLAIN QUERY PLAN {query}"))).all()
                return "\n".join(str(row) for row in rows)
        finally:
            await closed(store, runs)

    plan = asyncio.run(scenario())
    assert "switchboard_action_runs_waiting" in plan, plan


def test_the_log_pages_by_key_and_reads_from_its_indexes(database_url: str) -> None:
    """Keyset pages (`before`) give every run once, newest first, ties broken by id; the log's
    queries, filtered or not, are answered from an index in the log's order (no sort, no scan)."""

    async def scenario() -> None:
        store, runs = await opened(database_url)
        try:
            made = [await queue(runs, n) for n in range(25)]
            async with store.engine.begin() as conn:  # ten runs of one created_at: the id decides
                await conn.execute(
                    sa.update(tables.runs).where(tables.runs.c.id.in_([r.id for r in made[:10]])).values(created_at=1.0)
                )
            expected = [r.id for r in await runs.log(None, None, 100)]
            assert len(expected) == 25 and expected[-10:] == sorted((r.id for r in made[:10]), reverse=True)
            paged, before = [], None
            while True:
                page = await runs.log(None, None, 7, before=before)
                paged += [r.id for r in page]
                if len(page) < 7:
                    break
                before = page[-1].id
            assert paged == expected
            if store.is_sqlite:
                for status in (None, "error"):
                    where = "" if status is None else f"WHERE status = '{status}' AND {tables.FINISHED.text} "
                    query = f"SELECT id FROM {tables.runs.name} {where}ORDER BY created_at DESC, id DESC LIMIT 7"
                    async with store.engine.connect() as conn:
                        plan = " ".join(
                            str(r) for r in (await conn.execute(sa.text(f"EXPLAIN QUERY PLAN {query}"))).all()
                        )
                    assert "USING" in plan and "TEMP B-TREE" not in plan, plan
        finally:
            await closed(store, runs)

    asyncio.run(scenario())


def test_retention_deletes_in_batches_finished_and_never_taken_runs(database_url: str) -> None:
    async def scenario() -> None:
        store, runs = await opened(database_url)
        try:
            old = [await queue(runs, n) for n in range(12)]
            recent = await queue(runs, 99)
            c = tables.runs.c
            async with store.engine.begin() as conn:
                await conn.execute(
                    sa.update(tables.runs).where(c.id.in_([r.id for r in old[:6]])).values(status="completed")
                )
                await conn.execute(sa.update(tables.runs).where(c.id.in_([r.id for r in old])).values(updated_at=1.0))
            # A server stopping meanwhile: the clean-up ends after the batch in hand (never
            # cancelled inside its transaction), and the next one goes on from there.
            stopping = asyncio.Event()
            stopping.set()
            assert await runs.delete_before(1000.0, batch=5, stopping=stopping) == 5
            assert await runs.delete_before(1000.0, batch=5) == 7
            assert [r.id for r in await runs.log(None, None, 100)] == [recent.id]
        finally:
            await closed(store, runs)

    asyncio.run(scenario())


def test_a_claim_never_takes_a_cancelled_run_and_never_wins_with_a_cancel(database_url: str) -> None:
    """Claimers and cancellers racing over the same waiting runs: each run is claimed or
    cancelled, never both, and a cancelled run is never claimed afterwards (retries, expired
    leases and a graceful release put runs back to waiting: never a cancelled one)."""

    async def scenario() -> None:
        store, runs = await opened(database_url)
        try:
            ids = {run.id for run in await asyncio.gather(*(queue(runs, n) for n in range(150)))}
            claimed: Counter[str] = Counter()
            cancelled: Counter[str] = Counter()
            by = {"role": "admin"}

            async def claimer(token: str) -> None:
                while batch := await runs.claim(token, 5):
                    claimed.update(run.id for run in batch)
                    # A turn for the cancellers between claims: on a loaded machine the claimers
                    # could otherwise take every run before a cancel ran, and nothing would race.
                    await asyncio.sleep(0.002)

            async def canceller() -> None:
                while done := await runs.cancel(by, {"code": "cancelled"}, action="work", limit=4):
                    cancelled.update(done)

            await asyncio.gather(*(claimer(f"worker-{i}") for i in range(3)), canceller(), canceller())
            assert set(claimed) | set(cancelled) == ids
            assert not set(claimed) & set(cancelled)
            assert set(claimed.values()) <= {1} and set(cancelled.values()) <= {1}
            assert cancelled, "the cancellers took nothing: the race was not run"
            some = next(iter(cancelled))
            stopped = await runs.get(some)
            assert stopped is not None and (stopped.status, stopped.cancelled_by) == ("cancelled", by)
            # Nothing puts a cancelled run back: not an expired lease, not a release.
            async with store.engine.begin() as conn:
                await conn.execute(sa.update(tables.runs).values(lease_until=0))
            assert await runs.expire_leases() == len(claimed)
            await runs.release("worker-0")
            again = {run.id for run in await runs.claim("late", 1000)}
            assert again == set(claimed) and not again & set(cancelled)
            assert await runs.cancel(by, {}, ids=sorted(again)) == []  # claimed: not cancelled
        finally:
            await closed(store, runs)

    asyncio.run(scenario())


def test_an_older_store_gains_the_new_run_columns(database_url: str) -> None:
    """A store made before runs could be replayed or cancelled opens as it is: the columns are
    added (old runs keep NULL), its runs read as before, and the index of replays is made."""
    added = set(tables.ADDED_RUN_COLUMNS)

    async def scenario() -> None:
        old = sa.MetaData()
        sa.Table(tables.runs.name, old, *(c.copy() for c in tables.runs.columns if c.name not in added))
        store = Store(database_url)
        async with store.engine.begin() as conn:
            await conn.run_sync(old.create_all)
            row = {"id": "r1", "action": "work", "mode": "async", "status": "error", "input": "{}", "session": "{}"}
            row |= {"headers": "{}", "role": "admin", "attempts": 1, "lease_seconds": 30, "created_at": 1.0}
            await conn.execute(sa.insert(old.tables[tables.runs.name]).values(**row, updated_at=1.0, run_at=1.0))
        await store.engine.dispose()
        store, runs = await opened(database_url)
        try:
            name = tables.runs.name
            async with store.engine.connect() as conn:
                columns = await conn.run_sync(lambda c: {x["name"] for x in sa.inspect(c).get_columns(name)})
                indexes = await conn.run_sync(lambda c: {x["name"] for x in sa.inspect(c).get_indexes(name)})
            assert added <= columns and "switchboard_action_runs_replays" in indexes
            found = await runs.get("r1")
            assert found is not None and (found.status, found.replay_of, found.cancelled_by) == ("error", None, None)
            [replayable] = await runs.replayable(None, "error", None, None, 10)
            assert replayable.id == "r1"
        finally:
            await closed(store, runs)

    asyncio.run(scenario())
