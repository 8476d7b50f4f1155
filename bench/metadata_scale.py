"""Metadata writes and reads at scale, on SQLite and PostgreSQL.

Starts `switchboard serve` as a real process per backend and drives it over loopback HTTP.
Prints, per backend:
- create_action median latency with 10,000 existing actions / the same with 10 (the baseline,
  measured in the same run; target <= 1.25),
- export_metadata of 10,000 actions (median; target <= 150 ms),
- replace_metadata of 10,000 actions, every one changed (median; target <= 1.5 s).

    python bench/metadata_scale.py [--backend sqlite|postgres|both] [--samples 200]
"""

from __future__ import annotations

import argparse
import asyncio
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path
from typing import Any

import aiohttp
import asyncpg

PG_URL = os.environ.get("SWITCHBOARD_TEST_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432/postgres")
SWITCHBOARD = str(Path(sys.executable).with_name("switchboard"))
TYPES = {"objects": [{"name": "Out", "fields": [{"name": "id", "type": "Int!"}]}]}


def action(name: str, handler: str = "http://localhost:3000/{}") -> dict[str, Any]:
    return {
        "name": name,
        "definition": {
            "handler": handler.format(name),
            "output_type": "Out",
            "arguments": [{"name": "id", "type": "Int!"}],
        },
        "permissions": [{"role": "user"}],
    }


def document(count: int, handler: str = "http://localhost:3000/{}") -> dict[str, Any]:
    return {"version": 3, "actions": [action(f"a{i:05d}", handler) for i in range(count)], "custom_types": TYPES}


class Server:
    def __init__(self, database_url: str) -> None:
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            self.port = s.getsockname()[1]
        env = {
            **os.environ,
            "SWITCHBOARD_DATABASE_URL": database_url,
            "SWITCHBOARD_PORT": str(self.port),
            "SWITCHBOARD_LOG_LEVEL": "warning",
        }
        env.pop("SWITCHBOARD_ADMIN_SECRET", None)
        self.process = subprocess.Popen([SWITCHBOARD, "serve"], env=env)
        self.url = f"http://127.0.0.1:{self.port}/v1/query"

    async def wait(self, session: aiohttp.ClientSession) -> None:
        for _ in range(200):
            try:
                async with session.get(f"http://127.0.0.1:{self.port}/healthz") as r:
                    if r.status == 200:
                        return
            except aiohttp.ClientError:
                await asyncio.sleep(0.05)
        raise RuntimeError("server did not start")

    def stop(self) -> None:
        self.process.terminate()
        self.process.wait(10)


async def call(session: aiohttp.ClientSession, url: str, type_: str, args: Any, **extra: Any) -> tuple[float, Any]:
    started = time.perf_counter()
    async with session.post(url, json={"type": type_, "args": args, **extra}) as response:
        body = await response.json(content_type=None)
        elapsed = time.perf_counter() - started
        if response.status != 200:
            raise RuntimeError(f"{type_}: {response.status} {body}")
    return elapsed, body


async def create_latency(session: aiohttp.ClientSession, url: str, samples: int) -> float:
    """Median create_action latency; each created action is dropped again so the count holds."""
    times = []
    for i in range(samples):
        elapsed, _ = await call(
            session, url, "create_action", {k: v for k, v in action(f"new{i}").items() if k != "permissions"}
        )
        times.append(elapsed)
        await call(session, url, "drop_action", {"name": f"new{i}"})
    return statistics.median(times)


async def measure(database_url: str, samples: int) -> dict[str, float]:
    server = Server(database_url)
    try:
        async with aiohttp.ClientSession() as session:
            await server.wait(session)
            url = server.url
            await call(session, url, "replace_metadata", document(10))
            await create_latency(session, url, 20)  # warm-up
            small = await create_latency(session, url, samples)
            replaces = []
            for round_ in range(3):
                elapsed, _ = await call(session, url, "replace_metadata", document(10_000, f"http://h{round_}/{{}}"))
                replaces.append(elapsed)
            exports = []
            for _ in range(20):
                elapsed, body = await call(session, url, "export_metadata", {})
                assert len(body["actions"]) == 10_000
                exports.append(elapsed)
            large = await create_latency(session, url, samples)
    finally:
        server.stop()
    return {
        "create_10": small,
        "create_10k": large,
        "ratio": large / small,
        "export_10k": statistics.median(exports),
        "replace_10k": statistics.median(replaces),
    }


async def pg_database() -> tuple[str, str]:
    name = f"sb_bench_{uuid.uuid4().hex[:10]}"
    conn = await asyncpg.connect(PG_URL)
    await conn.execute(f'CREATE DATABASE "{name}"')
    await conn.close()
    return name, PG_URL.rsplit("/", 1)[0] + f"/{name}"


async def drop_pg_database(name: str) -> None:
    conn = await asyncpg.connect(PG_URL)
    await conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    await conn.close()


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--backend", choices=["sqlite", "postgres", "both"], default="both")
    parser.add_argument("--samples", type=int, default=200)
    options = parser.parse_args()
    backends = ["sqlite", "postgres"] if options.backend == "both" else [options.backend]
    print(f"{'backend':10} {'create@10':>10} {'create@10k':>11} {'ratio':>6} {'export 10k':>11} {'replace 10k':>12}")
    for backend in backends:
        if backend == "sqlite":
            with tempfile.TemporaryDirectory() as directory:
                result = await measure(f"sqlite:///{directory}/bench.db", options.samples)
        else:
            name, url = await pg_database()
            try:
                result = await measure(url, options.samples)
            finally:
                await drop_pg_database(name)
        print(
            f"{backend:10} {result['create_10'] * 1000:8.2f}ms {result['create_10k'] * 1000:9.2f}ms "
            f"{result['ratio']:6.2f} {result['export_10k'] * 1000:9.1f}ms {result['replace_10k']:10.2f}s"
        )
    print("targets: ratio <= 1.25, export <= 150 ms, replace <= 1.5 s")


if __name__ == "__main__":
    asyncio.run(main())
