"""The two systems bench/async_queue.py compares, and how it watches them.

pgqueuer's side (a child process: a Starlette endpoint enqueueing with pgqueuer, and pgqueuer's
QueueManager POSTing each job to the webhook) and Switchboard's (`switchboard serve`), behind one
interface: queue runs directly, start the process, count unfinished and finished runs, check the
outputs. Also py-spy profiles and the CPU meter (server, webhook, the database's backends).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import signal
import sqlite3
import subprocess
import sys
import time
import uuid
from collections.abc import AsyncIterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import aiohttp
import asyncpg

sys.path.insert(0, str(Path(__file__).resolve().parent))
# The bench's shared helpers: processes, the echo webhook.
from run_action import (
    HOST,
    PG_URL,
    SESSION,
    SWITCHBOARD,
    Process,
    call,
    free_port,
)

RUN_ACTION = str(Path(__file__).resolve().with_name("run_action.py"))
TYPES = {"objects": [{"name": "Out", "fields": [{"name": "n", "type": "Int!"}]}]}
ACTION = "echo_async"
POLL_SECONDS = 0.02


def payload(n: int) -> bytes:
    body = {"action": {"name": ACTION}, "input": {"n": n}, "session_variables": SESSION, "request_query": None}
    return json.dumps(body, separators=(",", ":")).encode()


# ---------------------------------------------------------------------------------------------
# The baseline process: Starlette endpoint enqueueing to pgqueuer + pgqueuer's QueueManager.


async def no_reset(connection: asyncpg.Connection) -> None:
    pass


def pgqueuer_server(port: int, dsn: str, webhook_url: str, concurrency: int) -> None:
    import uvicorn
    from pgqueuer import AsyncpgDriver, AsyncpgPoolDriver, Job, QueueManager
    from pgqueuer.queries import Queries
    from starlette.applications import Starlette
    from starlette.requests import Request
    from starlette.responses import JSONResponse, PlainTextResponse, Response
    from starlette.routing import Route

    done = {"ok": 0, "failed": 0}
    shared: dict[str, Any] = {}

    @contextlib.asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        # No reset on release (as Switchboard's queue pool): the enqueue leaves no session state.
        pool = await asyncpg.create_pool(dsn, min_size=2, max_size=concurrency, reset=no_reset)
        connection = await asyncpg.connect(dsn)
        manager = QueueManager(Queries(AsyncpgDriver(connection)))
        shared["enqueue"] = Queries(AsyncpgPoolDriver(pool))
        async with aiohttp.ClientSession() as http:

            @manager.entrypoint("echo")
            async def echo(job: Job) -> None:
                assert job.payload is not None
                headers = {"content-type": "application/json"}
                async with http.post(webhook_url, data=job.payload, headers=headers) as response:
                    answer = json.loads(await response.read())
                if response.status != 200 or not isinstance(answer.get("n"), int):
                    done["failed"] += 1
                    raise RuntimeError(f"webhook answered {response.status}")
                done["ok"] += 1

            # No periodic folding of the log into statistics: the bench counts the log's rows.
            run = manager.run(
                batch_size=concurrency // 2, max_concurrent_tasks=concurrency, log_aggregation_interval=timedelta(0)
            )
            worker = asyncio.create_task(run)
            try:
                yield
            finally:
                manager.shutdown.set()
                await asyncio.gather(worker, return_exceptions=True)
                await connection.close()
                await pool.close()

    async def query(request: Request) -> Response:
        envelope = json.loads(await request.body())
        if envelope["type"] != "run_action":
            return JSONResponse({"error": "unknown type"}, status_code=400)
        args = envelope["args"]
        body = {"action": {"name": args["name"]}, "input": args["input"], "session_variables": SESSION}
        data = json.dumps(body | {"request_query": None}, separators=(",", ":")).encode()
        [job_id] = await shared["enqueue"].enqueue("echo", data)
        return JSONResponse({"action_id": str(job_id)})

    async def stats(request: Request) -> Response:
        return JSONResponse(done)

    async def healthz(request: Request) -> Response:
        return PlainTextResponse("OK")

    routes = [Route("/v1/query", query, methods=["POST"]), Route("/stats", stats), Route("/healthz", healthz)]
    uvicorn.run(Starlette(routes=routes, lifespan=lifespan), host=HOST, port=port, log_level="warning")


# ---------------------------------------------------------------------------------------------
# The two systems, behind one interface.


class System:
    name: str
    process: Process | None = None
    # Added to every n this system's runs carry: the webhook keeps the first arrival of each n.
    offset = 0
    drains = 0

    async def enqueue_directly(self, first: int, count: int) -> None:
        raise NotImplementedError

    async def unfinished(self) -> int:
        raise NotImplementedError

    async def finished(self) -> int:
        """How many runs are finished and stored so far."""
        raise NotImplementedError

    def start(self) -> Process:
        raise NotImplementedError

    async def check(self, first: int, count: int, session: aiohttp.ClientSession) -> str:
        """What went wrong with runs [first, first + count), or ''."""
        raise NotImplementedError

    async def close(self) -> None:
        pass

    @property
    def url(self) -> str:
        assert self.process is not None
        return f"{self.process.base}/v1/query"


class PgQueuer(System):
    name = "pgqueuer"

    def __init__(self, dsn: str, webhook: Process, concurrency: int) -> None:
        self.dsn, self.webhook, self.concurrency = dsn, webhook, concurrency
        self.database = dsn.rsplit("/", 1)[1]
        self.sqlite_path: str | None = None
        self.conn: asyncpg.Connection | None = None

    async def install(self) -> None:
        from pgqueuer import AsyncpgDriver
        from pgqueuer.queries import Queries

        self.conn = await asyncpg.connect(self.dsn)
        await Queries(AsyncpgDriver(self.conn)).install()

    async def enqueue_directly(self, first: int, count: int) -> None:
        from pgqueuer import AsyncpgDriver
        from pgqueuer.queries import Queries

        assert self.conn is not None
        ns = range(first, first + count)
        await Queries(AsyncpgDriver(self.conn)).enqueue(["echo"] * count, [payload(n) for n in ns], [0] * count)

    async def unfinished(self) -> int:
        assert self.conn is not None
        return int(await self.conn.fetchval("SELECT count(*) FROM pgqueuer"))

    async def finished(self) -> int:
        assert self.conn is not None
        return int(await self.conn.fetchval("SELECT count(*) FROM pgqueuer_log WHERE status = 'successful'"))

    def start(self) -> Process:
        argv = [sys.executable, __file__, "--pgqueuer-server", "{port}", self.dsn, f"{self.webhook.base}/echo"]
        self.process = Process("pgqueuer", [*argv, str(self.concurrency)])
        return self.process

    async def check(self, first: int, count: int, session: aiohttp.ClientSession) -> str:
        assert self.process is not None
        async with session.get(f"{self.process.base}/stats") as response:
            stats = await response.json()
        return f"{stats['failed']} failed" if stats["failed"] else ""

    async def close(self) -> None:
        if self.conn is not None:
            await self.conn.close()


class Switchboard(System):
    def __init__(self, database_url: str, webhook: Process, workers: int | None) -> None:
        from metadata.store import Store

        self.database_url, self.webhook, self.workers = database_url, webhook, workers
        self.store = Store(database_url)  # only its engine: to queue runs directly and count them
        self.name = f"switchboard ({'sqlite' if self.store.is_sqlite else 'postgres'})"
        self.sqlite_path = database_url.split("///", 1)[1] if self.store.is_sqlite else None
        self.database = database_url.rsplit("/", 1)[1]

    def start(self) -> Process:
        env = {k: v for k, v in os.environ.items() if not k.startswith("SWITCHBOARD_")}
        port = free_port()
        env |= {
            "SWITCHBOARD_DATABASE_URL": self.database_url,
            "SWITCHBOARD_PORT": str(port),
            "SWITCHBOARD_HOST": HOST,
            "SWITCHBOARD_LOG_LEVEL": "warning",
        }
        if self.workers is not None:
            env["SWITCHBOARD_ASYNC_WORKERS"] = str(self.workers)
        self.process = Process("switchboard", [SWITCHBOARD, "serve"], env, port)
        return self.process

    async def define(self, session: aiohttp.ClientSession) -> None:
        await call(session, self.url, "set_custom_types", TYPES)
        definition = {
            "handler": f"{self.webhook.base}/echo",
            "output_type": "Out",
            "arguments": [{"name": "n", "type": "Int!"}],
            "kind": "asynchronous",
        }
        await call(session, self.url, "create_action", {"name": ACTION, "definition": definition})

    async def enqueue_directly(self, first: int, count: int) -> None:
        """Rows as run_action writes them (metadata/runs.py), in one transaction."""
        from metadata import tables

        now = time.time()
        rows = [
            {
                "id": str(uuid.uuid4()),
                "action": ACTION,
                "mode": "async",
                "status": "created",
                "input": json.dumps({"n": n}),
                "session": json.dumps(SESSION),
                "headers": "{}",
                "role": "admin",
                "user_id": None,
                "attempts": 0,
                "lease_seconds": 40.0,
                "created_at": now + i * 1e-6,
                "updated_at": now,
                "run_at": now,
            }
            for i, n in enumerate(range(first, first + count))
        ]
        async with self.store.engine.begin() as conn:
            await conn.execute(tables.runs.insert(), rows)

    def _sqlite(self, statement: str) -> list[Any]:
        assert self.sqlite_path is not None
        with contextlib.closing(sqlite3.connect(self.sqlite_path, timeout=30)) as conn:
            return conn.execute(statement).fetchall()

    async def _rows(self, statement: str) -> list[Any]:
        if self.sqlite_path is not None:  # a plain connection: the server holds the writer
            return self._sqlite(statement)
        import sqlalchemy as sa

        async with self.store.engine.connect() as conn:
            return list((await conn.execute(sa.text(statement))).all())

    async def unfinished(self) -> int:
        found = await self._rows(
            "SELECT count(*) FROM switchboard_action_runs WHERE mode = 'async' AND status NOT IN ('completed', 'error')"
        )
        return int(found[0][0])

    async def finished(self) -> int:
        found = await self._rows(
            "SELECT count(*) FROM switchboard_action_runs WHERE mode = 'async' AND status IN ('completed', 'error')"
        )
        return int(found[0][0])

    async def check(self, first: int, count: int, session: aiohttp.ClientSession) -> str:
        rows = await self._rows("SELECT input, output, status FROM switchboard_action_runs WHERE mode = 'async'")
        wrong, seen = 0, set()
        for input_, output, status in rows:
            n = json.loads(input_)["n"]
            if first <= n < first + count:
                seen.add(n)
                if status != "completed" or json.loads(output) != {"n": n}:
                    wrong += 1
        missing = count - len(seen)
        return f"{wrong} runs wrong, {missing} missing" if wrong or missing else ""

    async def close(self) -> None:
        await self.store.engine.dispose()


# ---------------------------------------------------------------------------------------------
# Profiles


class Profile:
    """py-spy attached to a Switchboard server for one phase (nothing without --profile)."""

    def __init__(self, options: argparse.Namespace, system: System, phase: str) -> None:
        self.path: Path | None = None
        self.spy: subprocess.Popen[bytes] | None = None
        if options.profile and isinstance(system, Switchboard) and system.process is not None:
            store = "sqlite" if system.sqlite_path else "postgres"
            self.path = Path(options.profile) / f"{store}-{phase}.txt"
            # The virtualenv's py-spy (the [bench] extra) when it has one, else the one on PATH.
            beside = Path(sys.executable).with_name("py-spy")
            spy = str(beside) if beside.exists() else "py-spy"
            argv = [spy, "record", "--pid", str(system.process.process.pid), "--rate", "250", "--nonblocking"]
            argv += ["--format", "raw", "--output", str(self.path)]
            self.spy = subprocess.Popen(argv, stdout=subprocess.DEVNULL)

    def stop(self) -> None:
        if self.spy is None or self.path is None:
            return
        self.spy.send_signal(signal.SIGINT)
        self.spy.wait(30)
        print(summarize(self.path), flush=True)


# Where a sample is counted: the first frame (from the innermost) whose file matches.
BUCKETS = (
    ("webhook: aiohttp client", "aiohttp/"),
    ("store: sqlalchemy", "sqlalchemy/"),
    ("store: asyncpg", "asyncpg/"),
    ("store: aiosqlite / sqlite3", "aiosqlite/"),
    ("HTTP serving: uvicorn, starlette", "uvicorn/"),
    ("HTTP serving: uvicorn, starlette", "starlette/"),
    ("json: msgspec", "msgspec/"),
    ("switchboard: metadata/", "metadata/"),
    ("switchboard: handlers/", "handlers/"),
    ("switchboard: rpc/", "rpc/"),
    ("asyncio event loop", "asyncio/"),
)


def summarize(path: Path, top: int = 12) -> str:
    """Share of samples per library (innermost frame that belongs to one) and the hottest frames."""
    buckets: dict[str, int] = {}
    leaves: dict[str, int] = {}
    total = 0
    for line in path.read_text().splitlines():
        stack, _, count_text = line.rpartition(" ")
        count = int(count_text)
        frames = stack.split(";")
        total += count
        leaf = frames[-1] if frames else "?"
        leaves[leaf] = leaves.get(leaf, 0) + count
        bucket = next(
            (name for frame in reversed(frames) for name, mark in BUCKETS if mark in frame),
            "other (idle, interpreter)",
        )
        buckets[bucket] = buckets.get(bucket, 0) + count
    lines = [f"profile {path.name}: {total} samples (250/s while busy)"]
    lines += [f"  {n / total:6.1%}  {name}" for name, n in sorted(buckets.items(), key=lambda kv: -kv[1])]
    lines.append("  hottest frames (self):")
    hottest = sorted(leaves.items(), key=lambda kv: -kv[1])[:top]
    lines += [f"  {n / total:6.1%}  {leaf}" for leaf, n in hottest]
    return "\n".join(lines)


def cpu_seconds(pid: int) -> float:
    """User + system CPU a process has used so far (0 once it is gone)."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return 0.0
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


class CpuMeter:
    """CPU used during a phase by the system's server, the webhook, and the PostgreSQL backends
    serving the system's database (Linux /proc; other databases' backends are not counted)."""

    def __init__(self, system: System, webhook: Process) -> None:
        assert system.process is not None
        self.system = system
        self.pids = {"server": system.process.process.pid, "webhook": webhook.process.pid}
        self.before: dict[int, float] = {}

    async def backends(self) -> list[int]:
        if not isinstance(self.system, PgQueuer | Switchboard) or self.system.sqlite_path:
            return []
        database = PG_URL.rsplit("/", 1)[0] + "/" + self.system.database
        conn = await asyncpg.connect(database)
        try:
            rows = await conn.fetch("SELECT pid FROM pg_stat_activity WHERE datname = current_database()")
            return [row["pid"] for row in rows if row["pid"] != conn.get_server_pid()]
        finally:
            await conn.close()

    async def start(self) -> None:
        pids = [*self.pids.values(), *await self.backends()]
        self.before = {pid: cpu_seconds(pid) for pid in pids}

    async def stop(self) -> dict[str, float]:
        used = {name: cpu_seconds(pid) - self.before[pid] for name, pid in self.pids.items()}
        backends = await self.backends()
        used["postgres"] = sum(cpu_seconds(pid) - self.before.get(pid, 0.0) for pid in backends)
        return used


if __name__ == "__main__":
    if sys.argv[1:2] == ["--pgqueuer-server"]:
        pgqueuer_server(int(sys.argv[2]), sys.argv[3], sys.argv[4], int(sys.argv[5]))
