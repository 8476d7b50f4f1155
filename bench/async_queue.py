"""Asynchronous runs against pgqueuer, a PostgreSQL job queue on asyncpg, side by side in one run.

Both sides do the same job: POST Hasura's webhook payload {"action", "input": {"n"},
"session_variables", "request_query"} to the same aiohttp echo webhook (a child process answering
{"n": n} and recording when each n first arrived) and read the JSON answer. Switchboard also
validates the output against the action's output type and stores it on the run; pgqueuer deletes
the job and logs its status (its own batched completion).

THE BASELINE is what a user would write instead of Switchboard's async actions: one process
serving `POST /v1/query` with Starlette under uvicorn, whose handler enqueues the payload with
pgqueuer's `Queries.enqueue` (an asyncpg pool) and answers {"action_id"}, and running pgqueuer's
`QueueManager` with the same concurrency as Switchboard's `async_workers` (`batch_size` =
concurrency / 2, the largest pgqueuer allows with `max_concurrent_tasks`). Each side gets a fresh
database on the same PostgreSQL. Figures:

- drain: N runs (jobs) queued while no worker runs, then the process is started; runs per second
  from the first webhook call to the moment every run is finished in the database (polled every
  20 ms: Switchboard's runs completed, pgqueuer's table empty). Every Switchboard output is checked.
  `--rounds` drains per system, alternating the order; each system's best counts, all are shown.
- end to end: C concurrent clients (wrk connections: a Python client would be the bottleneck on
  a small machine) each calling run_action (the baseline's endpoint) until M calls are answered;
  runs completed per second from the first call to the last run finished.
- idle latency: runs queued one at a time at a steady rate to an idle process; the time from the
  moment run_action's answer arrived (and from the moment it was sent) to the webhook receiving the
  call; median and p95.
- the same Switchboard figures on a SQLite store (pgqueuer has no SQLite side).

    pip install -e '.[bench]'
    python bench/async_queue.py [--quick] [--concurrency 32] [--drain 10000] [--e2e 5000]
                                [--no-sqlite] [--workers N]

`--profile DIR` records Switchboard's server with py-spy during the drain and the end-to-end
phase (DIR/<store>-<phase>.txt, collapsed stacks) and prints where its time went.
`--workers` sets Switchboard's async_workers (default: the server's default); the concurrency is
the baseline's and the number of end-to-end clients. The last line is
`async drain ratio vs pgqueuer: X.XX`.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import re
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import aiohttp

sys.path.insert(0, str(Path(__file__).resolve().parent))
# The systems compared; the bench's shared helpers (processes, the echo webhook, wrk).
from queue_systems import (
    ACTION,
    POLL_SECONDS,
    RUN_ACTION,
    CpuMeter,
    PgQueuer,
    Profile,
    Switchboard,
    System,
)
from run_action import (
    Process,
    _ms,
    call,
    client,
    database,
    ensure_wrk,
    percentile,
    running,
)

DRAIN_BASE, E2E_BASE, IDLE_BASE, WARM_BASE = 10_000_000, 20_000_000, 30_000_000, 40_000_000

# ---------------------------------------------------------------------------------------------
# Measurements


async def arrivals(session: aiohttp.ClientSession, webhook: Process, first: int, count: int) -> dict[int, float]:
    async with session.get(f"{webhook.base}/arrivals", params={"min": first, "max": first + count}) as response:
        return {int(n): t for n, t in (await response.json()).items()}


async def wait_finished(system: System, deadline: float) -> float:
    """The moment the system has no unfinished run left (polled)."""
    while True:
        if await system.unfinished() == 0:
            return time.time()
        if time.monotonic() > deadline:
            raise RuntimeError(f"{system.name}: runs still unfinished")
        await asyncio.sleep(POLL_SECONDS)


async def drain(
    options: argparse.Namespace, system: System, session: aiohttp.ClientSession, webhook: Process, count: int
) -> dict[str, Any]:
    if system.process is not None:  # a drain starts from a cold process
        system.process.stop()
    base = DRAIN_BASE + system.offset + system.drains * count
    system.drains += 1
    await system.enqueue_directly(base, count)
    process = system.start()
    await process.wait(session)
    cpu = CpuMeter(system, webhook)
    await cpu.start()
    profile = Profile(options, system, "drain")
    finished = await wait_finished(system, time.monotonic() + 60 + count / 20)
    profile.stop()
    used = await cpu.stop()
    seen = await arrivals(session, webhook, base, count)
    first = min(seen.values())
    problem = await system.check(base, count, session)
    per_run = {f"cpu_ms_{name}": seconds * 1000 / count for name, seconds in used.items()}
    return {"per_s": count / (finished - first), "seconds": finished - first, "problem": problem} | per_run


# wrk, one thread and `clients` connections, each sending run_action with the next n until
# `count` calls were made; then (and on the probe call wrk makes when a thread starts) a request
# the servers refuse (an unknown type), which creates nothing.
WRK_SCRIPT = """
local first, count, next_n, probed = %d, %d, 0, false
wrk.method = "POST"
wrk.headers["Content-Type"] = "application/json"
request = function()
  if next_n >= count or not probed then
    probed = true
    return wrk.format(nil, nil, nil, '{"type":"bench_done","args":{}}')
  end
  next_n = next_n + 1
  local input = '{"n":' .. (first + next_n - 1) .. '}'
  return wrk.format(nil, nil, nil, '{"type":"run_action","args":{"name":"%s","input":' .. input .. '}}')
end
delay = function()
  if next_n >= count then return 1000 end  -- done: idle (one refused request a second) until stopped
  return 0
end
"""


async def end_to_end(
    options: argparse.Namespace,
    system: System,
    session: aiohttp.ClientSession,
    webhook: Process,
    count: int,
    clients: int,
) -> dict[str, Any]:
    base = E2E_BASE + system.offset
    before = await system.finished()
    with tempfile.TemporaryDirectory() as directory:
        script = Path(directory) / "submit.lua"
        script.write_text(WRK_SCRIPT % (base, count, ACTION))
        argv = [ensure_wrk(), "-t1", f"-c{clients}", "-d600s", "--latency", "-s", str(script), system.url]
        cpu = CpuMeter(system, webhook)
        await cpu.start()
        profile = Profile(options, system, "e2e")
        first = time.time()
        submitting = subprocess.Popen(argv, stdout=subprocess.PIPE, text=True)
        try:
            deadline = time.monotonic() + 60 + count / 20
            while await system.finished() < before + count:
                if time.monotonic() > deadline or submitting.poll() is not None:
                    raise RuntimeError(f"{system.name}: end-to-end runs did not finish")
                await asyncio.sleep(POLL_SECONDS)
            finished = time.time()
        finally:
            submitting.send_signal(signal.SIGINT)  # wrk stops and prints its figures
            out, _ = submitting.communicate(timeout=30)
            profile.stop()
    used = await cpu.stop()
    p50 = re.search(r"^\s+50%\s+(\S+)", out, re.M)
    problem = await system.check(base, count, session)
    return {
        "per_s": count / (finished - first),
        "call_ms": _ms(p50.group(1)) if p50 else float("nan"),
        "problem": problem,
    } | {f"cpu_ms_{name}": seconds * 1000 / count for name, seconds in used.items()}


async def idle_latency(
    system: System, session: aiohttp.ClientSession, webhook: Process, count: int, rate: float
) -> dict[str, Any]:
    sent: dict[int, float] = {}
    answered: dict[int, float] = {}

    async def one(n: int) -> None:
        sent[n] = time.time()
        await call(session, system.url, "run_action", {"name": ACTION, "input": {"n": n}})
        answered[n] = time.time()

    tasks = []
    start = time.perf_counter()
    for i in range(count):
        delay = start + i / rate - time.perf_counter()
        if delay > 0:
            await asyncio.sleep(delay)
        tasks.append(asyncio.create_task(one(IDLE_BASE + system.offset + i)))
    await asyncio.gather(*tasks)
    await wait_finished(system, time.monotonic() + 30)
    seen = await arrivals(session, webhook, IDLE_BASE + system.offset, count)
    from_answer = [(seen[n] - t) * 1000 for n, t in answered.items() if n in seen]
    from_send = [(seen[n] - t) * 1000 for n, t in sent.items() if n in seen]
    return {
        "median": statistics.median(from_answer),
        "p95": percentile(from_answer, 95),
        "send_median": statistics.median(from_send),
        "send_p95": percentile(from_send, 95),
        "arrived": len(from_answer),
    }


async def warm_up(system: System, session: aiohttp.ClientSession) -> None:
    for i in range(20):
        await call(session, system.url, "run_action", {"name": ACTION, "input": {"n": WARM_BASE + system.offset + i}})
    await wait_finished(system, time.monotonic() + 30)


# ---------------------------------------------------------------------------------------------


async def prepare_switchboard(system: Switchboard, session: aiohttp.ClientSession) -> None:
    """Create the store and define the action, then stop: the drain starts from a cold process."""
    with running(system.start()) as process:
        await process.wait(session)
        await system.define(session)


async def measure(
    options: argparse.Namespace, systems: list[System], session: aiohttp.ClientSession, webhook: Process
) -> dict[str, dict[str, Any]]:
    """Drain each in turn, then (all running) end to end and idle latency, interleaved."""
    report: dict[str, dict[str, Any]] = {system.name: {} for system in systems}
    for i, system in enumerate(systems):
        system.offset = i * 100_000_000
    try:
        # Rounds alternate the order, so drift on a shared machine hits both alike; the best counts.
        for round_ in range(options.rounds):
            for system in systems if round_ % 2 == 0 else systems[::-1]:
                print(f"[{system.name}] drain of {options.drain} runs, round {round_ + 1}...", flush=True)
                result = await drain(options, system, session, webhook, options.drain)
                print(f"  {result}", flush=True)
                best = report[system.name].setdefault("drain", result | {"all": []})
                best["all"].append(result["per_s"])
                if result["per_s"] > best["per_s"]:
                    best |= result
        for system in systems:
            await warm_up(system, session)
        for system in systems:
            print(f"[{system.name}] end to end: {options.clients} clients, {options.e2e} runs...", flush=True)
            result = await end_to_end(options, system, session, webhook, options.e2e, options.clients)
            report[system.name]["e2e"] = result
            print(f"  {result}", flush=True)
        for system in systems:
            print(f"[{system.name}] idle latency: {options.idle} runs at {options.idle_rate:g}/s...", flush=True)
            result = await idle_latency(system, session, webhook, options.idle, options.idle_rate)
            report[system.name]["idle"] = result
            print(f"  {result}", flush=True)
        async with session.post(f"{webhook.base}/reset") as response:
            await response.read()
    finally:
        for system in systems:
            if system.process is not None:
                system.process.stop()
            await system.close()
    return report


def print_report(options: argparse.Namespace, report: dict[str, dict[str, Any]]) -> float:
    pgq = report["pgqueuer"]
    sb = report["switchboard (postgres)"]
    workers = "the default" if options.workers is None else str(options.workers)
    print()
    print("=" * 100)
    print(
        f"async queue benchmark ({os.cpu_count()} CPUs): drain {options.drain}, end to end {options.e2e} by "
        f"{options.clients} clients, idle {options.idle} at {options.idle_rate:g}/s; pgqueuer concurrency "
        f"{options.concurrency}, switchboard async_workers {workers}"
    )
    for name, result in report.items():
        rounds = ", ".join(f"{x:.0f}" for x in result["drain"]["all"])
        print(f"  drain rounds {name}: {rounds} runs/s (the best counts)")
    for name, result in report.items():
        problems = [f"{phase}: {r['problem']}" for phase, r in result.items() if r.get("problem")]
        if problems:
            print(f"  PROBLEMS {name}: {'; '.join(problems)}")
    drain_ratio = float(sb["drain"]["per_s"] / pgq["drain"]["per_s"])
    rows = [
        ("drain (runs/s)", "drain", "per_s", "{:.0f}", "ratio >= 1.0"),
        ("  drain CPU per run: server (ms)", "drain", "cpu_ms_server", "{:.3f}", ""),
        ("  drain CPU per run: postgres backends (ms)", "drain", "cpu_ms_postgres", "{:.3f}", ""),
        ("  drain CPU per run: webhook (ms)", "drain", "cpu_ms_webhook", "{:.3f}", ""),
        ("end to end (completed runs/s)", "e2e", "per_s", "{:.0f}", ">= 0.5 x drain"),
        ("  run_action median under that load (ms)", "e2e", "call_ms", "{:.1f}", ""),
        ("  end-to-end CPU per run: server (ms)", "e2e", "cpu_ms_server", "{:.3f}", ""),
        ("  end-to-end CPU per run: postgres (ms)", "e2e", "cpu_ms_postgres", "{:.3f}", ""),
        ("idle: answer -> handler median (ms)", "idle", "median", "{:.1f}", "<= 5 ms"),
        ("idle: answer -> handler p95 (ms)", "idle", "p95", "{:.1f}", "<= 10 ms"),
        ("idle: send -> handler median (ms)", "idle", "send_median", "{:.1f}", ""),
        ("idle: send -> handler p95 (ms)", "idle", "send_p95", "{:.1f}", ""),
    ]
    names = list(report)
    print(f"{'measure':44}" + "".join(f"{name:>24}" for name in names) + "   target")
    for label, phase, key, fmt, target in rows:
        values = [fmt.format(report[name][phase][key]) if phase in report[name] else "-" for name in names]
        cells = "".join(f"{value:>24}" for value in values)
        print(f"{label:44}{cells}   {target}")
    print(
        f"end to end vs drain: switchboard {sb['e2e']['per_s'] / sb['drain']['per_s']:.2f} x its own drain, "
        f"{sb['e2e']['per_s'] / pgq['drain']['per_s']:.2f} x pgqueuer's drain "
        f"(pgqueuer's end to end: {pgq['e2e']['per_s'] / pgq['drain']['per_s']:.2f} x its drain)"
    )
    print(f"end to end ratio vs pgqueuer: {sb['e2e']['per_s'] / pgq['e2e']['per_s']:.2f}")
    print("=" * 100)
    return drain_ratio


async def main(options: argparse.Namespace) -> None:
    async with client() as session:
        webhook_argv = [sys.executable, RUN_ACTION, "--webhook-server", "{port}"]
        with running(Process("webhook", webhook_argv)) as webhook:
            await webhook.wait(session)
            async with database("postgres") as pgq_url, database("postgres") as sb_url:
                pgq = PgQueuer(pgq_url, webhook, options.concurrency)
                await pgq.install()
                sb = Switchboard(sb_url, webhook, options.workers)
                await prepare_switchboard(sb, session)
                report = await measure(options, [pgq, sb], session, webhook)
            if options.sqlite:
                with tempfile.TemporaryDirectory() as directory:
                    lite = Switchboard(f"sqlite:///{directory}/bench.db", webhook, options.workers)
                    await prepare_switchboard(lite, session)
                    report |= await measure(options, [lite], session, webhook)
    ratio = print_report(options, report)
    print(f"async drain ratio vs pgqueuer: {ratio:.2f}")


def parse() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="a run under a minute: fewer runs, no SQLite")
    parser.add_argument("--concurrency", type=int, default=32, help="pgqueuer's concurrency and e2e clients")
    parser.add_argument("--workers", type=int, default=None, help="switchboard async_workers (default: its own)")
    parser.add_argument("--drain", type=int, default=10_000, help="runs queued before the worker starts")
    parser.add_argument("--e2e", type=int, default=5_000, help="run_action calls end to end")
    parser.add_argument("--idle", type=int, default=200, help="runs for the idle latency")
    parser.add_argument("--idle-rate", type=float, default=20, help="runs/s for the idle latency")
    parser.add_argument("--rounds", type=int, default=3, help="drains per system, alternating (best counts)")
    parser.add_argument("--profile", metavar="DIR", help="record switchboard with py-spy into DIR")
    parser.add_argument("--no-sqlite", dest="sqlite", action="store_false", help="skip the SQLite store")
    options = parser.parse_args()
    options.clients = options.concurrency
    if options.quick:
        options.drain, options.e2e, options.idle, options.idle_rate = 3_000, 1_500, 40, 40
        options.rounds, options.sqlite = 2, False
    return options


if __name__ == "__main__":
    options = parse()
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))  # run the finally blocks
    asyncio.run(asyncio.wait_for(main(options), timeout=1800))
