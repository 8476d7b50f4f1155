"""sql action performance: run_action of a custom SQL action against a hand-written endpoint.

Starts (all on 127.0.0.1, all stopped at the end) `switchboard serve` with a SQL action
`UPDATE counters SET n = n + {{by}} WHERE id = {{id}} RETURNING n`, and a BASELINE: a Starlette
app under the same uvicorn that runs the same statement with SQLAlchemy's asyncio engine, in a
transaction, and answers the same JSON. Both write to one source database (PostgreSQL by
default, a fresh database dropped at the end; or a SQLite file). wrk drives each in alternating
rounds; the ratio of the best rounds is printed (switchboard / baseline).

    python bench/sql_action.py [--source postgres|sqlite] [--duration 10] [--connections 16] [--rounds 2]
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import sys
import tempfile
import uuid
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import asyncpg

sys.path.insert(0, str(Path(__file__).resolve().parent))
from run_action import HOST, PG_URL, Process, call, client, ensure_wrk, running, switchboard, wrk

STATEMENT = "UPDATE counters SET n = n + {{by}} WHERE id = {{id}} RETURNING n"
BODY = {"type": "run_action", "args": {"name": "bump", "input": {"by": 1, "id": 1}}}


def baseline_server(port: int, url: str) -> None:
    """What a user would write instead: the statement with bound parameters, in a transaction."""
    import sqlalchemy as sa
    import uvicorn
    from sqlalchemy.ext.asyncio import create_async_engine
    from starlette.applications import Starlette
    from starlette.requests import Request
    from starlette.responses import JSONResponse, PlainTextResponse, Response
    from starlette.routing import Route

    from metadata.data_sources import async_url

    engine = create_async_engine(async_url(url))
    statement = sa.text("UPDATE counters SET n = n + :by WHERE id = :id RETURNING n")

    async def query(request: Request) -> Response:
        given = json.loads(await request.body())["args"]["input"]
        async with engine.begin() as conn:
            result = await conn.execute(statement, {"by": given["by"], "id": given["id"]})
            rows = [dict(row._mapping) for row in result]
        return JSONResponse({"output": {"rows_affected": [len(rows)], "returning": rows}})

    async def healthz(request: Request) -> Response:
        return PlainTextResponse("OK")

    app = Starlette(routes=[Route("/v1/query", query, methods=["POST"]), Route("/healthz", healthz)])
    uvicorn.run(app, host=HOST, port=port, log_level="warning")


@contextlib.asynccontextmanager
async def source_database(kind: str, directory: str) -> AsyncIterator[str]:
    if kind == "sqlite":
        url = f"sqlite:///{directory}/source.db"
    else:
        name = f"sb_bench_{uuid.uuid4().hex[:12]}"
        admin = await asyncpg.connect(PG_URL)
        await admin.execute(f'CREATE DATABASE "{name}"')
        url = PG_URL.rsplit("/", 1)[0] + f"/{name}"
    try:
        yield url
    finally:
        if kind != "sqlite":
            await admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
            await admin.close()


@contextlib.contextmanager
def both(*processes: Process) -> Iterator[None]:
    with contextlib.ExitStack() as stack:
        for process in processes:
            stack.enter_context(running(process))
        yield


async def main(options: argparse.Namespace) -> None:
    binary = ensure_wrk()
    with tempfile.TemporaryDirectory() as directory:
        async with source_database(options.source, directory) as url:
            store = f"sqlite:///{directory}/switchboard.db"
            server = switchboard(store)
            baseline = Process("baseline", [sys.executable, str(Path(__file__).resolve()), "--baseline", "{port}", url])
            with both(server, baseline):
                async with client() as session:
                    await server.wait(session)
                    await baseline.wait(session)
                    endpoint = f"{server.base}/v1/query"
                    await call(session, endpoint, "add_source", {"name": "bench", "url": url})
                    setup = {"source": "bench", "statements": [
                        "CREATE TABLE counters (id INTEGER PRIMARY KEY, n INTEGER NOT NULL)",
                        "INSERT INTO counters (id, n) VALUES (1, 0)",
                    ]}  # fmt: skip
                    await call(session, endpoint, "create_action", {"name": "setup", "definition": {"sql": setup}})
                    await call(session, endpoint, "run_action", {"name": "setup", "input": {}})
                    definition = {
                        "sql": {"source": "bench", "statement": STATEMENT},
                        "arguments": [{"name": "by", "type": "Int!"}, {"name": "id", "type": "Int!"}],
                    }
                    await call(session, endpoint, "create_action", {"name": "bump", "definition": definition})
                    for target in (endpoint, f"{baseline.base}/v1/query"):
                        answer = await call(session, target, "run_action", BODY["args"])
                        assert answer["output"]["rows_affected"] == [1], answer
                script = Path(directory) / "post.lua"
                script.write_text(
                    f'wrk.method = "POST"\nwrk.body = {json.dumps(json.dumps(BODY))}\n'
                    'wrk.headers["Content-Type"] = "application/json"\n'
                )
                targets = {"baseline": f"{baseline.base}/v1/query", "switchboard": endpoint}
                best: dict[str, dict[str, Any]] = {}
                for round_ in range(options.rounds):
                    for name in list(targets) if round_ % 2 == 0 else list(reversed(targets)):
                        r = await asyncio.to_thread(
                            wrk, binary, str(script), targets[name], options.duration, options.connections
                        )
                        print(
                            f"  round {round_ + 1} {name:11} {r['rps']:7.0f} req/s  p50 {r['p50']:6.2f} ms  "
                            f"p99 {r['p99']:6.2f} ms  ({r['non2xx']} non-2xx)",
                            flush=True,
                        )
                        if name not in best or r["rps"] > best[name]["rps"]:
                            best[name] = r
    ratio = best["switchboard"]["rps"] / best["baseline"]["rps"]
    print("=" * 100)
    print(
        f"sql action on {options.source}: {best['switchboard']['rps']:.0f} req/s vs baseline "
        f"{best['baseline']['rps']:.0f} req/s: ratio {ratio:.2f} (best of {options.rounds} rounds, "
        f"wrk -c{options.connections} -d{options.duration:g}s)"
    )
    print(f"  p50 switchboard {best['switchboard']['p50']:.2f} ms, baseline {best['baseline']['p50']:.2f} ms")


if __name__ == "__main__":
    if len(sys.argv) == 4 and sys.argv[1] == "--baseline":
        baseline_server(int(sys.argv[2]), sys.argv[3])
    else:
        parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
        parser.add_argument("--source", choices=["postgres", "sqlite"], default="postgres")
        parser.add_argument("--duration", type=float, default=10)
        parser.add_argument("--connections", type=int, default=16)
        parser.add_argument("--rounds", type=int, default=2)
        asyncio.run(main(parser.parse_args()))
