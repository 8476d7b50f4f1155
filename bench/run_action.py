"""run_action performance: sync throughput and added latency (async runs: bench/async_queue.py).

Starts every process it measures (all on 127.0.0.1, all stopped at the end): an aiohttp echo
webhook answering {"n": input.n}, `switchboard serve`, and a BASELINE: a hand-written Starlette
app under the same uvicorn that forwards the same payload to the same webhook through one shared
aiohttp.ClientSession. Prints:
- sync run_action throughput with wrk, switchboard vs the baseline in the same run (ratio; target
  >= 1.3), with wrk's p50/p99 latency and each server's CPU time per request (target <= 0.12 ms),
- median added latency of a sync run_action over calling the webhook directly (sequential, one
  keep-alive client).
The run path reads metadata from memory, so the store (`--backend`) does not matter much here.
The echo webhook and the process helpers are shared with bench/async_queue.py.

    python bench/run_action.py [--backend sqlite|postgres] [--duration 10] [--connections 32] [--rounds 2]
                               [--speed] [--workers N]
--speed (with the [speed] extra installed) also runs a second switchboard on the same store that
cannot import uvloop or uvicorn's httptools protocol (asyncio and h11 instead), and adds it to the
sync rounds: the extra's effect, same run (the outgoing client parses with httptools either way).
--workers N also runs `switchboard serve --workers N` on the same store and adds it to the sync
rounds: its throughput against the one-process server's, same run (target >= 1.3 for N = 2 on a
2-core machine, with wrk and the webhook on the same cores).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import re
import resource
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import aiohttp
import asyncpg

PG_URL = os.environ.get("SWITCHBOARD_TEST_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432/postgres")
SWITCHBOARD = str(Path(sys.executable).with_name("switchboard"))
HOST = "127.0.0.1"
TYPES = {"objects": [{"name": "Out", "fields": [{"name": "n", "type": "Int!"}]}]}
BODY = {"type": "run_action", "args": {"name": "echo", "input": {"n": 1}}}
# What switchboard sends the webhook for BODY with no headers (the admin session).
SESSION = {"x-hasura-role": "admin"}
TIMEOUT = aiohttp.ClientTimeout(total=30)
# uvicorn closes a connection idle for 5 s: drop ours sooner, so a request never races that close.
KEEPALIVE_SECONDS = 2.0


# ---------------------------------------------------------------------------------------------
# Child process modes: the echo webhook and the baseline server.


def webhook_server(port: int) -> None:
    """POST /echo answers {"n": input.n} and records the first arrival time per n.
    GET /count, GET /arrivals?min=&max= and POST /reset serve the benchmark."""
    from aiohttp import web

    arrivals: dict[int, float] = {}

    async def echo(request: web.Request) -> web.Response:
        arrived = time.time()
        n = json.loads(await request.read())["input"]["n"]
        arrivals.setdefault(n, arrived)
        return web.json_response({"n": n})

    async def count(request: web.Request) -> web.Response:
        low, high = int(request.query.get("min", 0)), int(request.query.get("max", 1 << 62))
        return web.json_response(sum(1 for n in arrivals if low <= n < high))

    async def listing(request: web.Request) -> web.Response:
        low, high = int(request.query.get("min", 0)), int(request.query.get("max", 1 << 62))
        return web.json_response({str(n): t for n, t in arrivals.items() if low <= n < high})

    async def reset(request: web.Request) -> web.Response:
        arrivals.clear()
        return web.json_response({})

    async def healthz(request: web.Request) -> web.Response:
        return web.Response(text="OK")

    app = web.Application()
    app.router.add_post("/echo", echo)
    app.router.add_get("/count", count)
    app.router.add_get("/arrivals", listing)
    app.router.add_post("/reset", reset)
    app.router.add_get("/healthz", healthz)
    web.run_app(app, host=HOST, port=port, access_log=None, print=None)


def baseline_server(port: int, webhook_url: str) -> None:
    """The baseline: read the body, forward the same payload to the webhook through one shared
    aiohttp.ClientSession, answer {"output": <the webhook's JSON>}. Same uvicorn settings as
    `switchboard serve`."""
    import uvicorn
    from starlette.applications import Starlette
    from starlette.requests import Request
    from starlette.responses import JSONResponse, PlainTextResponse, Response
    from starlette.routing import Route

    shared: dict[str, aiohttp.ClientSession] = {}

    @contextlib.asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        async with aiohttp.ClientSession() as http:
            shared["http"] = http
            yield

    async def query(request: Request) -> Response:
        args = json.loads(await request.body())["args"]
        payload = {
            "action": {"name": args["name"]},
            "input": args.get("input", {}),
            "session_variables": SESSION,
            "request_query": None,
        }
        async with shared["http"].post(webhook_url, json=payload) as response:
            output = await response.json()
        return JSONResponse({"output": output})

    async def healthz(request: Request) -> Response:
        return PlainTextResponse("OK")

    app = Starlette(
        routes=[Route("/v1/query", query, methods=["POST"]), Route("/healthz", healthz, methods=["GET"])],
        lifespan=lifespan,
    )
    uvicorn.run(app, host=HOST, port=port, log_level="warning")


# ---------------------------------------------------------------------------------------------
# Processes


def free_port() -> int:
    with socket.socket() as s:
        s.bind((HOST, 0))
        return int(s.getsockname()[1])


def children_cpu_seconds() -> float:
    """CPU time of this process's finished children (wrk's runs)."""
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def cpu_seconds(pid: int) -> float:
    """User and system CPU time of process `pid` and of every process below it (a server's
    workers), from /proc."""
    tick = os.sysconf("SC_CLK_TCK")
    stats: dict[int, tuple[int, float]] = {}  # pid: (parent, cpu seconds)
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                fields = Path(f"/proc/{entry}/stat").read_text().rsplit(")", 1)[1].split()
            except OSError:
                continue  # gone meanwhile
            stats[int(entry)] = (int(fields[1]), (int(fields[11]) + int(fields[12])) / tick)
    tree, total = {pid}, 0.0
    for _ in range(3):  # the parent, its workers, and what they start
        tree |= {child for child, (parent, _) in stats.items() if parent in tree}
    for member in tree:
        total += stats.get(member, (0, 0.0))[1]
    return total


class Process:
    """A child process serving HTTP on a free loopback port, with GET /healthz."""

    def __init__(self, name: str, argv: list[str], env: dict[str, str] | None = None, port: int | None = None):
        self.name = name
        self.port = port or free_port()
        self.base = f"http://{HOST}:{self.port}"
        argv = [a.replace("{port}", str(self.port)) for a in argv]
        self.process = subprocess.Popen(argv, env=env or dict(os.environ), stdin=subprocess.DEVNULL)

    async def wait(self, session: aiohttp.ClientSession) -> None:
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"{self.name} exited with {self.process.returncode}")
            try:
                async with session.get(f"{self.base}/healthz") as r:
                    if r.status == 200:
                        return
            except aiohttp.ClientError:
                pass
            await asyncio.sleep(0.05)
        raise RuntimeError(f"{self.name} did not start")

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(15)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(5)


def client(limit_per_host: int = 0) -> aiohttp.ClientSession:
    connector = aiohttp.TCPConnector(limit_per_host=limit_per_host, keepalive_timeout=KEEPALIVE_SECONDS)
    return aiohttp.ClientSession(connector=connector, timeout=TIMEOUT)


def self_argv(*args: str) -> list[str]:
    return [sys.executable, str(Path(__file__).resolve()), *args]


# `switchboard serve` in a process that cannot import uvloop, nor uvicorn's httptools protocol:
# asyncio and h11 serve it.
PLAIN_SERVE = (
    "import sys; sys.modules['uvloop'] = sys.modules['uvicorn.protocols.http.httptools_impl'] = None; "
    "sys.argv = ['switchboard', 'serve']; from rpc.cli import main; main()"
)


def switchboard(database_url: str, plain: bool = False, workers: int = 1, **settings: str) -> Process:
    env = {k: v for k, v in os.environ.items() if not k.startswith("SWITCHBOARD_")}
    port = free_port()
    env |= {
        "SWITCHBOARD_DATABASE_URL": database_url,
        "SWITCHBOARD_PORT": str(port),
        "SWITCHBOARD_HOST": HOST,
        "SWITCHBOARD_LOG_LEVEL": "warning",
    }
    env |= {f"SWITCHBOARD_{name.upper()}": value for name, value in settings.items()}
    argv = [sys.executable, "-c", PLAIN_SERVE] if plain else [SWITCHBOARD, "serve"]
    if workers > 1:
        argv.append(f"--workers={workers}")
    name = "switchboard-plain" if plain else "switchboard" if workers == 1 else f"switchboard-{workers}w"
    return Process(name, argv, env, port)


@contextlib.contextmanager
def running(process: Process) -> Iterator[Process]:
    try:
        yield process
    finally:
        process.stop()


# ---------------------------------------------------------------------------------------------
# Client helpers


async def call(session: aiohttp.ClientSession, url: str, type_: str, args: Any) -> Any:
    async with session.post(url, json={"type": type_, "args": args}) as response:
        body = await response.json(content_type=None)
        if response.status != 200:
            raise RuntimeError(f"{type_}: {response.status} {body}")
    return body


async def define(session: aiohttp.ClientSession, url: str, webhook: str) -> None:
    await call(session, url, "set_custom_types", TYPES)
    definition = {"handler": webhook, "output_type": "Out", "arguments": [{"name": "n", "type": "Int!"}]}
    await call(session, url, "create_action", {"name": "echo", "definition": definition})
    answer = await call(session, url, "run_action", BODY["args"])
    if answer != {"output": {"n": 1}}:
        raise RuntimeError(f"unexpected run_action answer {answer}")


def percentile(values: list[float], p: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(p / 100 * (len(ordered) - 1)))]


# ---------------------------------------------------------------------------------------------
# 1. wrk


def ensure_wrk() -> str:
    found = shutil.which("wrk")
    if found is None:
        print("installing wrk (apt-get)...", flush=True)
        env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
        subprocess.run(["apt-get", "update"], check=True, env=env, timeout=600, stdout=subprocess.DEVNULL)
        subprocess.run(["apt-get", "install", "-y", "wrk"], check=True, env=env, timeout=600, stdout=subprocess.DEVNULL)
        found = shutil.which("wrk")
        if found is None:
            raise RuntimeError("wrk is still not on PATH after apt-get install")
    return found


_UNITS = {"us": 0.001, "ms": 1.0, "s": 1000.0, "m": 60_000.0}


def _ms(text: str) -> float:
    number, unit = re.fullmatch(r"([\d.]+)(us|ms|s|m)", text).groups()  # type: ignore[union-attr]
    return float(number) * _UNITS[unit]


def wrk(binary: str, script: str, url: str, duration: float, connections: int) -> dict[str, Any]:
    argv = [binary, "-t1", f"-c{connections}", f"-d{duration:g}s", "--latency", "-s", script, url]
    done = subprocess.run(argv, capture_output=True, text=True, timeout=duration + 60, check=True)
    out = done.stdout
    rps = re.search(r"Requests/sec:\s+([\d.]+)", out)
    if rps is None:
        raise RuntimeError(f"cannot read wrk output:\n{out}\n{done.stderr}")
    latency = {p: _ms(v) for p, v in re.findall(r"^\s+(50|75|90|99)%\s+(\S+)", out, re.M)}
    requests = re.search(r"(\d+) requests in", out)
    non2xx = re.search(r"Non-2xx or 3xx responses:\s+(\d+)", out)
    errors = re.search(r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)", out)
    return {
        "rps": float(rps.group(1)),
        "p50": latency.get("50", float("nan")),
        "p99": latency.get("99", float("nan")),
        "requests": int(requests.group(1)) if requests else 0,
        "non2xx": int(non2xx.group(1)) if non2xx else 0,
        "socket_errors": sum(int(x) for x in errors.groups()) if errors else 0,
    }


def wrk_script(directory: str) -> str:
    path = Path(directory) / "post.lua"
    body = json.dumps(BODY)
    path.write_text(
        'wrk.method = "POST"\n'
        f"wrk.body = {json.dumps(body)}\n"  # a JSON string literal is a valid Lua string literal here
        'wrk.headers["Content-Type"] = "application/json"\n'
    )
    return str(path)


async def sync_throughput(options: argparse.Namespace, servers: dict[str, Process], webhook: Process) -> dict[str, Any]:
    """wrk against each of `servers` (name: process), with each one's server CPU per request
    (its process tree's CPU time over the round, over the requests wrk made), and the webhook's
    and wrk's: what the machine spends per request in all, which bounds what N cores can serve."""
    binary = ensure_wrk()
    with tempfile.TemporaryDirectory() as directory:
        script = wrk_script(directory)
        targets = {name: f"{server.base}/v1/query" for name, server in servers.items()}
        for url in targets.values():  # warm-up, not counted
            await asyncio.to_thread(wrk, binary, script, url, min(2.0, options.duration), options.connections)
        # Rounds alternate the order (B S, S B, ...) so drift on a shared machine hits both alike;
        # each target's best round counts, its errors summed over all rounds.
        results: dict[str, dict[str, Any]] = {}
        for round_ in range(options.rounds):
            for name in list(targets) if round_ % 2 == 0 else list(reversed(targets)):
                before = cpu_seconds(servers[name].process.pid)
                hook_before, wrk_before = cpu_seconds(webhook.process.pid), children_cpu_seconds()
                r = await asyncio.to_thread(wrk, binary, script, targets[name], options.duration, options.connections)
                per_request = 1000 / max(1, r["requests"])
                r["cpu_ms"] = (cpu_seconds(servers[name].process.pid) - before) * per_request
                r["webhook_cpu_ms"] = (cpu_seconds(webhook.process.pid) - hook_before) * per_request
                r["wrk_cpu_ms"] = (children_cpu_seconds() - wrk_before) * per_request
                print(
                    f"  round {round_ + 1} wrk {name:11} {r['rps']:7.0f} req/s  p50 {r['p50']:6.2f} ms  "
                    f"p99 {r['p99']:6.2f} ms  server CPU {r['cpu_ms']:.3f} ms/req  "
                    f"({r['requests']} requests, {r['non2xx']} non-2xx, "
                    f"{r['socket_errors']} socket errors)",
                    flush=True,
                )
                best = results.get(name)
                if best is not None:
                    r["non2xx"] += best["non2xx"]
                    r["socket_errors"] += best["socket_errors"]
                    if best["rps"] >= r["rps"]:
                        best["non2xx"], best["socket_errors"] = r["non2xx"], r["socket_errors"]
                        continue
                results[name] = r
    return results


# ---------------------------------------------------------------------------------------------
# 2. added latency


async def added_latency(server_url: str, webhook_url: str, baseline_url: str, samples: int) -> dict[str, float]:
    """Sequential requests, one keep-alive connection per target, interleaved."""
    payload = {"action": {"name": "echo"}, "input": {"n": 1}, "session_variables": SESSION, "request_query": None}
    envelope = json.dumps(BODY).encode()
    direct = json.dumps(payload).encode()
    headers = {"Content-Type": "application/json"}
    times: dict[str, list[float]] = {"direct": [], "switchboard": [], "baseline": []}
    targets = {
        "direct": (webhook_url, direct),
        "switchboard": (server_url, envelope),
        "baseline": (baseline_url, envelope),
    }
    async with client(limit_per_host=1) as session:
        for i in range(50 + samples):
            for name, (url, body) in targets.items():
                started = time.perf_counter()
                async with session.post(url, data=body, headers=headers) as response:
                    await response.read()
                    if response.status != 200:
                        raise RuntimeError(f"{name}: {response.status}")
                if i >= 50:
                    times[name].append(time.perf_counter() - started)
    medians = {name: statistics.median(values) * 1000 for name, values in times.items()}
    return {
        **medians,
        "added": medians["switchboard"] - medians["direct"],
        "baseline_added": medians["baseline"] - medians["direct"],
    }


# ---------------------------------------------------------------------------------------------


@contextlib.asynccontextmanager
async def database(backend: str) -> AsyncIterator[str]:
    if backend == "sqlite":
        with tempfile.TemporaryDirectory() as directory:
            yield f"sqlite:///{directory}/bench.db"
        return
    name = f"sb_bench_{uuid.uuid4().hex[:10]}"
    conn = await asyncpg.connect(PG_URL)
    try:
        await conn.execute(f'CREATE DATABASE "{name}"')
    finally:
        await conn.close()
    try:
        yield PG_URL.rsplit("/", 1)[0] + f"/{name}"
    finally:
        conn = await asyncpg.connect(PG_URL)
        try:
            await conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        finally:
            await conn.close()


async def bench_backend(
    options: argparse.Namespace, backend: str, webhook: Process, baseline: Process, report: dict[str, Any]
) -> None:
    async with database(backend) as database_url, client() as session:
        with running(switchboard(database_url)) as server:
            await server.wait(session)
            url = f"{server.base}/v1/query"
            await define(session, url, f"{webhook.base}/echo")
            print(f"[{backend}] sync run_action throughput (wrk)...", flush=True)
            with contextlib.ExitStack() as stack:
                servers = {"baseline": baseline, "switchboard": server}
                if options.speed:
                    plain = stack.enter_context(running(switchboard(database_url, plain=True)))
                    await plain.wait(session)
                    servers["plain"] = plain
                if options.workers > 1:
                    several = stack.enter_context(running(switchboard(database_url, workers=options.workers)))
                    await several.wait(session)
                    await asyncio.sleep(2)  # /healthz answers once the first worker listens: let the rest start
                    servers["workers"] = several
                report["sync"] = await sync_throughput(options, servers, webhook)
            report["sync_backend"] = backend
            print(f"[{backend}] sync added latency ({options.samples} sequential requests)...", flush=True)
            report["latency"] = await added_latency(
                url, f"{webhook.base}/echo", f"{baseline.base}/v1/query", options.samples
            )
        async with session.post(f"{webhook.base}/reset") as r:
            await r.read()


def print_table(options: argparse.Namespace, report: dict[str, Any]) -> None:
    print()
    print("=" * 100)
    print(
        f"run_action benchmark ({os.cpu_count()} CPUs; wrk -t1 -c{options.connections} -d{options.duration:g}s, "
        f"best of {options.rounds} alternating rounds)"
    )
    if "sync" in report:
        sb, base = report["sync"]["switchboard"], report["sync"]["baseline"]
        ratio = sb["rps"] / base["rps"]
        print(f"sync parts on {report['sync_backend']} only (the run path reads metadata from memory)")
        print(
            f"sync run_action: {sb['rps']:.0f} req/s vs baseline {base['rps']:.0f} req/s: ratio {ratio:.2f} "
            f"(target >= 1.3) {'OK' if ratio >= 1.3 else 'MISSED'}"
        )
        print(
            f"  server CPU per request: switchboard {sb['cpu_ms']:.3f} ms, baseline {base['cpu_ms']:.3f} ms "
            f"(target <= 0.120 ms) {'OK' if sb['cpu_ms'] <= 0.12 else 'MISSED'}"
        )
        print(f"  wrk latency switchboard: p50 {sb['p50']:.2f} ms, p99 {sb['p99']:.2f} ms")
        if "plain" in report["sync"]:
            plain = report["sync"]["plain"]
            print(
                f"  without uvloop/httptools: {plain['rps']:.0f} req/s (p50 {plain['p50']:.2f} ms, "
                f"p99 {plain['p99']:.2f} ms): the [speed] extra gives x{sb['rps'] / plain['rps']:.2f}"
            )
        if "workers" in report["sync"]:
            several = report["sync"]["workers"]
            gain = several["rps"] / sb["rps"]
            print(
                f"--workers {options.workers}: {several['rps']:.0f} req/s vs 1 worker {sb['rps']:.0f} req/s: "
                f"x{gain:.2f} (target >= 1.3 on 2 cores) {'OK' if gain >= 1.3 else 'MISSED'} "
                f"(p50 {several['p50']:.2f} ms, p99 {several['p99']:.2f} ms; "
                f"{several['non2xx']} non-2xx, {several['socket_errors']} socket errors)"
            )
            # Every process here shares the machine's cores: what all of them spend per request
            # caps the requests per second whatever the number of workers.
            spent = several["cpu_ms"] + several["webhook_cpu_ms"] + several["wrk_cpu_ms"]
            ceiling = (os.cpu_count() or 1) * 1000 / spent
            print(
                f"  CPU per request with --workers {options.workers}: server {several['cpu_ms']:.3f} + webhook "
                f"{several['webhook_cpu_ms']:.3f} + wrk {several['wrk_cpu_ms']:.3f} = {spent:.3f} ms: "
                f"{os.cpu_count()} cores serve at most {ceiling:.0f} req/s (x{ceiling / sb['rps']:.2f} the 1 worker's)"
            )
        print(f"  wrk latency baseline:    p50 {base['p50']:.2f} ms, p99 {base['p99']:.2f} ms")
        bad = sb["non2xx"] + sb["socket_errors"] + base["non2xx"] + base["socket_errors"]
        if bad:
            print(
                f"  ERRORS: switchboard {sb['non2xx']} non-2xx, {sb['socket_errors']} socket errors; "
                f"baseline {base['non2xx']} non-2xx, {base['socket_errors']} socket errors"
            )
        lat = report["latency"]
        print(
            f"added latency (median of {options.samples} sequential): {lat['added']:.2f} ms "
            f"(run_action {lat['switchboard']:.2f} ms - direct webhook {lat['direct']:.2f} ms); "
            f"baseline adds {lat['baseline_added']:.2f} ms"
        )
    print("=" * 100)
    if "sync" in report:
        sb = report["sync"]["switchboard"]
        ratio = sb["rps"] / report["sync"]["baseline"]["rps"]
        print(f"sync run_action ratio vs baseline: {ratio:.2f}, server CPU per run: {sb['cpu_ms']:.3f} ms")


async def main(options: argparse.Namespace) -> None:
    ensure_wrk()
    report: dict[str, Any] = {}
    async with client() as session:
        with running(Process("webhook", self_argv("--webhook-server", "{port}"))) as webhook:
            await webhook.wait(session)
            baseline_argv = self_argv("--baseline-server", "{port}", f"{webhook.base}/echo")
            with running(Process("baseline", baseline_argv)) as baseline:
                await baseline.wait(session)
                await bench_backend(options, options.backend, webhook, baseline, report)
    print_table(options, report)


def parse() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--backend", choices=["sqlite", "postgres"], default="sqlite")
    parser.add_argument("--duration", type=float, default=10, help="wrk seconds per target")
    parser.add_argument("--connections", type=int, default=32, help="wrk connections")
    parser.add_argument("--rounds", type=int, default=2, help="wrk rounds per target (best counts)")
    parser.add_argument("--samples", type=int, default=500, help="sequential requests for added latency")
    parser.add_argument("--speed", action="store_true", help="also measure switchboard without uvloop/httptools")
    parser.add_argument(
        "--workers", type=int, default=0, metavar="N", help="also measure `switchboard serve --workers N` (N >= 2)"
    )
    return parser.parse_args()


if __name__ == "__main__":
    if sys.argv[1:2] == ["--webhook-server"]:
        webhook_server(int(sys.argv[2]))
    elif sys.argv[1:2] == ["--baseline-server"]:
        baseline_server(int(sys.argv[2]), sys.argv[3])
    else:
        options = parse()
        signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))  # run the finally blocks
        asyncio.run(asyncio.wait_for(main(options), timeout=1800))
