"""Metabase's POST /api/action/:id/execute against run_action of the same SQL action.

Starts `switchboard serve` (a SQLite store; all on 127.0.0.1, stopped at the end) with a source
database (PostgreSQL by default, a fresh database dropped at the end; or a SQLite file) holding
`counters`, and makes, through Metabase's API as a signed-in superuser, a model and a query
action `UPDATE counters SET n = n + {{by}} WHERE id = {{id}}`. The store also holds 1,000 users
and 10,000 sessions (written directly), which the session check must not notice. wrk drives
`run_action` (the admin secret) and the execute endpoint (the session header) in alternating
rounds; the best rounds' ratio is the last line.

    python bench/metabase_execute.py [--source postgres|sqlite] [--duration 10] [--connections 16] [--rounds 2]
"""

from __future__ import annotations

import argparse
import asyncio
import hashlib
import json
import sqlite3
import sys
import tempfile
import time
import uuid
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))
from run_action import client, ensure_wrk, running, switchboard, wrk
from sql_action import source_database

SECRET = "bench-secret"
STATEMENT = "UPDATE counters SET n = n + {{by}} WHERE id = {{id}}"


async def post(session: Any, url: str, body: Any, headers: dict[str, str]) -> Any:
    async with session.post(url, json=body, headers=headers) as response:
        answer = await response.json(content_type=None)
        if response.status != 200:
            raise RuntimeError(f"{url}: {response.status} {answer}")
        return answer


def crowd(store: str, users: int, sessions: int) -> None:
    """Users and sessions that are not the benchmark's, written straight into the store."""
    now = time.time()
    with sqlite3.connect(store) as db:
        hashed = "$argon2id$v=19$m=65536,t=3,p=4$c29tZXNhbHQ$RdescudvJCsgt3ub+b+dWRWJTmaaJObG"
        db.executemany(
            "INSERT INTO switchboard_users (email, password_hash, is_superuser, is_active, created_at, updated_at)"
            " VALUES (?, ?, 0, 1, ?, ?)",
            [(f"user{i}@example.com", hashed, now, now) for i in range(users)],
        )
        db.executemany(
            "INSERT INTO switchboard_sessions (key_hash, user_id, created_at, expires_at) VALUES (?, ?, ?, ?)",
            [
                (hashlib.sha256(uuid.uuid4().bytes).hexdigest(), 2 + i % users, now, now + 86400)
                for i in range(sessions)
            ],
        )


def script(directory: str, name: str, body: Any, headers: dict[str, str]) -> str:
    path = Path(directory) / f"{name}.lua"
    lines = ['wrk.method = "POST"', f"wrk.body = {json.dumps(json.dumps(body))}"]
    lines += [
        f"wrk.headers[{json.dumps(k)}] = {json.dumps(v)}"
        for k, v in {"Content-Type": "application/json", **headers}.items()
    ]
    path.write_text("\n".join(lines) + "\n")
    return str(path)


async def main(options: argparse.Namespace) -> None:
    binary = ensure_wrk()
    with tempfile.TemporaryDirectory() as directory:
        async with source_database(options.source, directory) as url:
            store = f"{directory}/switchboard.db"
            server = switchboard(f"sqlite:///{store}", admin_secret=SECRET)
            with running(server):
                admin = {"X-Hasura-Admin-Secret": SECRET}
                async with client() as session:
                    await server.wait(session)
                    query = f"{server.base}/v1/query"

                    async def call(type_: str, args: Any) -> Any:
                        return await post(session, query, {"type": type_, "args": args}, admin)

                    await call("add_source", {"name": "bench", "url": url})
                    setup = {"source": "bench", "statements": [
                        "CREATE TABLE counters (id INTEGER PRIMARY KEY, n INTEGER NOT NULL)",
                        "INSERT INTO counters (id, n) VALUES (1, 0)",
                    ]}  # fmt: skip
                    await call("create_action", {"name": "setup", "definition": {"sql": setup}})
                    await call("run_action", {"name": "setup", "input": {}})
                    await call("create_user", {"email": "bench@example.com", "password": "bench123", "superuser": True})
                    crowd(store, options.users, options.sessions)
                    login = await post(
                        session,
                        f"{server.base}/api/session",
                        {"username": "bench@example.com", "password": "bench123"},
                        {},
                    )
                    mb = {"X-Metabase-Session": login["id"]}
                    async with session.get(f"{server.base}/api/database", headers=mb) as r:
                        database = (await r.json())["data"][0]["id"]
                    async with session.put(
                        f"{server.base}/api/database/{database}",
                        json={"settings": {"database-enable-actions": True}},
                        headers=mb,
                    ) as r:
                        await r.read()
                    async with session.get(f"{server.base}/api/database/{database}/metadata", headers=mb) as r:
                        table = (await r.json())["tables"][0]["id"]
                    model = await post(session, f"{server.base}/api/card", {
                        "name": "Counters", "type": "model", "display": "table", "visualization_settings": {},
                        "dataset_query": {"database": database, "type": "query", "query": {"source-table": table}},
                    }, mb)  # fmt: skip
                    tags = {
                        n: {"id": n, "name": n, "display-name": n, "type": "number", "required": True}
                        for n in ("by", "id")
                    }
                    native = {"query": STATEMENT, "template-tags": tags}
                    action = await post(session, f"{server.base}/api/action", {
                        "name": "Bump", "type": "query", "model_id": model["id"], "database_id": database,
                        "dataset_query": {"database": database, "type": "native", "native": native},
                    }, mb)  # fmt: skip
                    execute = f"{server.base}/api/action/{action['id']}/execute"
                    run_body = {
                        "type": "run_action",
                        "args": {"name": action["switchboard_name"], "input": {"by": 1, "id": 1}},
                    }
                    assert (await post(session, execute, {"parameters": {"by": 1, "id": 1}}, mb)) == {
                        "rows-affected": 1
                    }
                    assert (await post(session, query, run_body, admin))["output"]["rows_affected"] == [1]
                targets = {
                    "run_action": (query, script(directory, "run", run_body, admin)),
                    "metabase": (execute, script(directory, "execute", {"parameters": {"by": 1, "id": 1}}, mb)),
                }
                best: dict[str, dict[str, Any]] = {}
                for round_ in range(options.rounds):
                    for name in list(targets) if round_ % 2 == 0 else list(reversed(targets)):
                        target, lua = targets[name]
                        r = await asyncio.to_thread(wrk, binary, lua, target, options.duration, options.connections)
                        print(
                            f"  round {round_ + 1} {name:10} {r['rps']:7.0f} req/s  p50 {r['p50']:6.2f} ms  "
                            f"p99 {r['p99']:6.2f} ms  ({r['non2xx']} non-2xx)",
                            flush=True,
                        )
                        if name not in best or r["rps"] > best[name]["rps"]:
                            best[name] = r
    ratio = best["metabase"]["rps"] / best["run_action"]["rps"]
    print("=" * 100)
    print(
        f"{options.source} source, {options.users} users and {options.sessions} sessions in the store: "
        f"execute {best['metabase']['rps']:.0f} req/s, run_action {best['run_action']['rps']:.0f} req/s "
        f"(best of {options.rounds} rounds, wrk -c{options.connections} -d{options.duration:g}s)"
    )
    print(f"metabase execute ratio vs run_action: {ratio:.2f}")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--source", choices=["postgres", "sqlite"], default="postgres")
    parser.add_argument("--duration", type=float, default=10)
    parser.add_argument("--connections", type=int, default=16)
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--users", type=int, default=1000)
    parser.add_argument("--sessions", type=int, default=10_000)
    asyncio.run(main(parser.parse_args()))
