"""/v1/graphql performance: throughput against run_action, the first request after a change at
10,000 actions, and how soon a subscription is pushed once its run finishes.

Starts every process it measures (all on 127.0.0.1, all stopped at the end): an aiohttp webhook
(POST /echo answers {"n": input.n} at once, POST /slow after 50 ms) and `switchboard serve` per
backend. Prints:
- sync throughput with wrk: `mutation { echo(n: 1) { n } }` on /v1/graphql against run_action
  of the same action on the same server and webhook, in the same run (ratio; target >= 0.8), and
  the server process's CPU time per request for each (steadier on a shared machine),
- the first GraphQL request after a metadata change with 10,000 actions (the admin's schema is
  built then: median and max over --changes changes; target <= 500 ms), and a cached one,
- per backend: the push of a subscription to an asynchronous run, from the moment the worker
  finished the run (the run's updated_at, written as it finishes) to the client receiving it
  over graphql-transport-ws (median and p95; target median <= 10 ms).

    python bench/graphql_endpoint.py [--backend sqlite|postgres|both] [--duration 10] [--connections 32]
                            [--rounds 2] [--changes 5] [--pushes 100] [--skip-sync]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import signal
import statistics
import sys
import tempfile
import time
from datetime import datetime
from pathlib import Path
from typing import Any

import asyncpg
import websockets
from websockets.typing import Subprotocol

# bench/ on the path: its modules are named so as to shadow no library (graphql-core is `graphql`).
sys.path.insert(0, str(Path(__file__).resolve().parent))
# Processes, wrk and the database helpers are run_action's benchmark's.
from run_action import (
    HOST,
    Process,
    call,
    client,
    database,
    ensure_wrk,
    percentile,
    running,
    switchboard,
    wrk,
)

MUTATION = {"query": "mutation { echo(n: 1) { n } }"}
RUN_ACTION = {"type": "run_action", "args": {"name": "echo", "input": {"n": 1}}}
TYPES = {"objects": [{"name": "Out", "fields": [{"name": "n", "type": "Int!"}]}]}
ARGUMENTS = [{"name": "n", "type": "Int!"}]


def webhook_server(port: int) -> None:
    from aiohttp import web

    async def echo(request: web.Request) -> web.Response:
        return web.json_response({"n": json.loads(await request.read())["input"]["n"]})

    async def slow(request: web.Request) -> web.Response:
        await asyncio.sleep(0.05)
        return await echo(request)

    async def healthz(request: web.Request) -> web.Response:
        return web.Response(text="OK")

    app = web.Application()
    app.router.add_post("/echo", echo)
    app.router.add_post("/slow", slow)
    app.router.add_get("/healthz", healthz)
    web.run_app(app, host=HOST, port=port, access_log=None, print=None)


async def graphql(session: Any, base: str, body: Any) -> Any:
    async with session.post(f"{base}/v1/graphql", json=body) as response:
        answer = await response.json()
    if "errors" in answer:
        raise RuntimeError(f"graphql: {answer['errors']}")
    return answer["data"]


def script(directory: str, name: str, body: Any) -> str:
    path = Path(directory) / f"{name}.lua"
    path.write_text(
        f'wrk.method = "POST"\nwrk.body = {json.dumps(json.dumps(body))}\n'
        'wrk.headers["Content-Type"] = "application/json"\n'
    )
    return str(path)


def cpu_seconds(pid: int) -> float:
    """User + system CPU time of a process so far (Linux /proc)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


async def throughput(options: argparse.Namespace, base: str, pid: int) -> dict[str, Any]:
    """wrk against both endpoints; also the server's CPU time per request, which other load on a
    shared machine disturbs far less than requests per second."""
    binary = ensure_wrk()
    with tempfile.TemporaryDirectory() as directory:
        targets = {
            "run_action": (script(directory, "run_action", RUN_ACTION), f"{base}/v1/query"),
            "graphql": (script(directory, "graphql", MUTATION), f"{base}/v1/graphql"),
        }
        for lua, url in targets.values():  # warm-up, not counted
            await asyncio.to_thread(wrk, binary, lua, url, min(2.0, options.duration), options.connections)
        best: dict[str, dict[str, Any]] = {}
        cpus: dict[str, list[float]] = {}
        for round_ in range(options.rounds):  # alternating order, each target's best round counts
            for name in list(targets) if round_ % 2 == 0 else list(reversed(targets)):
                lua, url = targets[name]
                cpu = cpu_seconds(pid)
                r = await asyncio.to_thread(wrk, binary, lua, url, options.duration, options.connections)
                r["cpu_ms"] = (cpu_seconds(pid) - cpu) * 1000 / max(1, r["requests"])
                print(
                    f"  round {round_ + 1} {name:10} {r['rps']:7.0f} req/s  p50 {r['p50']:6.2f} ms  "
                    f"p99 {r['p99']:6.2f} ms  server CPU {r['cpu_ms']:.3f} ms/request  "
                    f"({r['non2xx']} non-2xx, {r['socket_errors']} socket errors)",
                    flush=True,
                )
                cpus.setdefault(name, []).append(r["cpu_ms"])
                if name not in best or r["rps"] > best[name]["rps"]:
                    best[name] = r
    for name, values in cpus.items():
        best[name]["cpu_ms"] = statistics.median(values)
    return best


async def first_request(options: argparse.Namespace, session: Any, base: str, webhook: str) -> dict[str, Any]:
    """Load 10,000 actions, then per change: time the first GraphQL request, then a cached one."""
    url = f"{base}/v1/query"
    actions = [
        {"name": f"a{i:05d}", "definition": {"handler": webhook, "output_type": "Out", "arguments": ARGUMENTS}}
        for i in range(10_000)
    ]
    await call(session, url, "replace_metadata", {"version": 3, "actions": actions, "custom_types": TYPES})
    firsts: list[float] = []
    cached: list[float] = []
    for i in range(options.changes):
        definition = {"handler": webhook, "output_type": "Out", "arguments": ARGUMENTS}
        await call(session, url, "create_action", {"name": f"changed{i}", "definition": definition})
        body = {"query": f"mutation {{ changed{i}(n: 1) {{ n }} }}"}
        for times in (firsts, cached):
            started = time.perf_counter()
            await graphql(session, base, body)
            times.append((time.perf_counter() - started) * 1000)
    return {"first": firsts, "cached": cached}


async def commit_time(database_url: str | None) -> float | None:
    """The floor under a push on PostgreSQL: one-row UPDATE transactions like the one finishing a
    run (stamped with updated_at before it commits), on the same database, in ms."""
    if database_url is None:
        return None
    conn = await asyncpg.connect(database_url)
    try:
        await conn.execute("CREATE TABLE IF NOT EXISTS bench_floor (id int PRIMARY KEY, n int)")
        await conn.execute("INSERT INTO bench_floor VALUES (1, 0) ON CONFLICT DO NOTHING")
        started = time.perf_counter()
        async with conn.transaction():
            await conn.execute("UPDATE bench_floor SET n = n + 1 WHERE id = 1")
        return (time.perf_counter() - started) * 1000
    finally:
        await conn.close()


def epoch(iso: str) -> float:
    return datetime.fromisoformat(iso.replace("Z", "+00:00")).timestamp()


async def pushes(
    options: argparse.Namespace, session: Any, base: str, database_url: str | None
) -> tuple[list[float], list[float]]:
    """Per run: subscribe, let it finish, and time the push against the run's updated_at (and, on
    PostgreSQL, a commit alike, the floor)."""
    delays, floors = [], []
    url = f"ws://{HOST}:{base.rsplit(':', 1)[1]}/v1/graphql"
    protocols = [Subprotocol("graphql-transport-ws")]
    async with websockets.connect(url, subprotocols=protocols) as ws:
        await ws.send(json.dumps({"type": "connection_init", "payload": {}}))
        assert json.loads(await ws.recv())["type"] == "connection_ack"
        for i in range(options.pushes):
            run_id = (await graphql(session, base, {"query": "mutation { slow(n: 1) }"}))["slow"]
            query = "subscription ($id: uuid!) { slow(id: $id) { output { n } } }"
            payload = {"query": query, "variables": {"id": run_id}}
            await ws.send(json.dumps({"type": "subscribe", "id": str(i), "payload": payload}))
            while True:
                message = json.loads(await ws.recv())
                received = time.time()
                if message["type"] != "next" or message["id"] != str(i):
                    continue  # the server completes a run's subscription itself once it finished
                if message["payload"]["data"]["slow"]["output"] is not None:
                    break
            await ws.send(json.dumps({"type": "complete", "id": str(i)}))
            result = await call(session, f"{base}/v1/query", "get_action_result", {"id": run_id})
            delays.append((received - epoch(result["updated_at"])) * 1000)
            floor = await commit_time(database_url)
            if floor is not None:
                floors.append(floor)
    return delays, floors


async def bench_backend(options: argparse.Namespace, backend: str, webhook: Any, report: dict[str, Any]) -> None:
    async with database(backend) as database_url, client() as session:
        with running(switchboard(database_url)) as server:
            await server.wait(session)
            url = f"{server.base}/v1/query"
            await call(session, url, "set_custom_types", TYPES)
            for name, kind, path in (("echo", "synchronous", "/echo"), ("slow", "asynchronous", "/slow")):
                definition = {"handler": f"{webhook.base}{path}", "output_type": "Out", "arguments": ARGUMENTS}
                await call(session, url, "create_action", {"name": name, "definition": definition | {"kind": kind}})
            assert await graphql(session, server.base, MUTATION) == {"echo": {"n": 1}}
            if not options.skip_sync and "sync" not in report:
                print(f"[{backend}] sync throughput, graphql vs run_action (wrk)...", flush=True)
                report["sync"] = await throughput(options, server.base, server.process.pid)
                report["sync_backend"] = backend
            print(f"[{backend}] subscription pushes ({options.pushes} runs)...", flush=True)
            postgres = database_url if backend == "postgres" else None
            report.setdefault("push", {})[backend] = await pushes(options, session, server.base, postgres)
            if "scale" not in report:
                print(f"[{backend}] first request after a change at 10,000 actions...", flush=True)
                report["scale"] = await first_request(options, session, server.base, f"{webhook.base}/echo")
                report["scale_backend"] = backend


def print_table(options: argparse.Namespace, report: dict[str, Any]) -> None:
    print("=" * 100)
    if "sync" in report:
        gq, ra = report["sync"]["graphql"], report["sync"]["run_action"]
        ratio = gq["rps"] / ra["rps"]
        print(
            f"sync throughput ({report['sync_backend']}, wrk -c{options.connections}, best of {options.rounds}): "
            f"graphql {gq['rps']:.0f} req/s vs run_action {ra['rps']:.0f} req/s: ratio {ratio:.2f} "
            f"(target >= 0.8) {'OK' if ratio >= 0.8 else 'MISSED'}"
        )
        print(f"  p50 graphql {gq['p50']:.2f} ms, run_action {ra['p50']:.2f} ms")
        print(
            f"  server CPU per request (median of rounds): graphql {gq['cpu_ms']:.3f} ms, run_action "
            f"{ra['cpu_ms']:.3f} ms: throughput this allows, ratio {ra['cpu_ms'] / gq['cpu_ms']:.2f}"
        )
    scale = report["scale"]
    first = statistics.median(scale["first"])
    print(
        f"first graphql request after a change at 10,000 actions ({report['scale_backend']}): median {first:.0f} ms, "
        f"max {max(scale['first']):.0f} ms over {len(scale['first'])} changes (target <= 500 ms) "
        f"{'OK' if max(scale['first']) <= 500 else 'MISSED'}; "
        f"cached: median {statistics.median(scale['cached']):.1f} ms"
    )
    for backend, (delays, floors) in report["push"].items():
        median = statistics.median(delays)
        print(
            f"subscription push after the run finished ({backend}): median {median:.1f} ms, "
            f"p95 {percentile(delays, 95):.1f} ms, max {max(delays):.1f} ms over {len(delays)} runs "
            f"(target median <= 10 ms) {'OK' if median <= 10 else 'MISSED'}"
        )
        if floors:
            print(
                f"  of which committing the run (an UPDATE transaction alike on the same database): "
                f"median {statistics.median(floors):.1f} ms, p95 {percentile(floors, 95):.1f} ms"
            )
    print("=" * 100)


async def main(options: argparse.Namespace) -> None:
    backends = ["sqlite", "postgres"] if options.backend == "both" else [options.backend]
    report: dict[str, Any] = {}
    async with client() as session:
        argv = [sys.executable, str(Path(__file__).resolve()), "--webhook-server", "{port}"]
        with running(Process("webhook", argv)) as webhook:
            await webhook.wait(session)
            for backend in backends:
                await bench_backend(options, backend, webhook, report)
    print_table(options, report)


def parse() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--backend", choices=["sqlite", "postgres", "both"], default="both")
    parser.add_argument("--duration", type=float, default=10, help="wrk seconds per target")
    parser.add_argument("--connections", type=int, default=32, help="wrk connections")
    parser.add_argument("--rounds", type=int, default=2, help="wrk rounds per target (best counts)")
    parser.add_argument("--changes", type=int, default=5, help="metadata changes at 10,000 actions")
    parser.add_argument("--pushes", type=int, default=100, help="subscriptions timed per backend")
    parser.add_argument("--skip-sync", action="store_true", help="no wrk throughput")
    return parser.parse_args()


if __name__ == "__main__":
    if sys.argv[1:2] == ["--webhook-server"]:
        webhook_server(int(sys.argv[2]))
    else:
        options = parse()
        signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
        asyncio.run(asyncio.wait_for(main(options), timeout=1800))
