"""GET /metrics as the metadata grows: its size, how long a scrape takes, and how long /healthz
waits meanwhile.

Starts an echo webhook and `switchboard serve` on SQLite (127.0.0.1, stopped at the end), once per
`metrics_per_action` setting (none, the default; histograms, a series per action and bucket).
Each server gets --actions actions (one replace_metadata) and runs every one of them once. Then
--scrapes scrapes, one after another, while a client probes GET /healthz every 10 ms: prints the
scrape's size and median time, and the probe's median and max latency beside a probe with no
scrape (the baseline, same server).

    python bench/metrics_scrape.py [--actions 10000] [--scrapes 5]
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import sys
import tempfile
import time
from pathlib import Path

import aiohttp

sys.path.insert(0, str(Path(__file__).resolve().parent))
from graphql_documents import probe
from run_action import TYPES, Process, call, client, running, switchboard


async def scrapes(session: aiohttp.ClientSession, url: str, count: int) -> tuple[int, list[float]]:
    size, seconds = 0, []
    for _ in range(count):
        started = time.perf_counter()
        async with session.get(f"{url}/metrics") as response:
            size = len(await response.read())
        seconds.append(time.perf_counter() - started)
    return size, seconds


async def measure(per_action: str, webhook: str, options: argparse.Namespace) -> None:
    with tempfile.TemporaryDirectory() as directory:
        server = switchboard(f"sqlite:///{directory}/sb.db", metrics_per_action=per_action)
        with running(server):
            async with client() as session, client(limit_per_host=32) as runner:
                await server.wait(session)
                query = f"{server.base}/v1/query"
                definition = {"handler": webhook, "output_type": "Out", "arguments": [{"name": "n", "type": "Int!"}]}
                actions = [{"name": f"a{i}", "definition": definition} for i in range(options.actions)]
                await call(session, query, "replace_metadata", {"custom_types": TYPES, "actions": actions})
                await asyncio.gather(
                    *(call(runner, query, "run_action", {"name": a["name"], "input": {"n": 1}}) for a in actions)
                )
                alone = await probe(session, server.base, time.monotonic() + 2)
                done = asyncio.Event()

                async def scraping() -> tuple[int, list[float]]:
                    try:
                        return await scrapes(runner, server.base, options.scrapes)
                    finally:
                        done.set()

                async def probing() -> list[float]:
                    latencies: list[float] = []
                    while not done.is_set():
                        latencies += await probe(session, server.base, time.monotonic() + 0.1)
                    return latencies

                (size, seconds), beside = await asyncio.gather(scraping(), probing())
        print(
            f"metrics_per_action={per_action:10s} {options.actions} actions: /metrics {size / 1024:8.1f} kB, "
            f"scrape {statistics.median(seconds) * 1000:7.1f} ms; /healthz during scrapes median "
            f"{statistics.median(beside):.1f} ms, max {max(beside):.1f} ms (alone: median "
            f"{statistics.median(alone):.1f} ms, max {max(alone):.1f} ms)"
        )


async def main(options: argparse.Namespace) -> None:
    run_action = str(Path(__file__).resolve().with_name("run_action.py"))
    argv = [sys.executable, run_action, "--webhook-server", "{port}"]
    with running(Process("webhook", argv)) as webhook:
        async with client() as session:
            await webhook.wait(session)
        for per_action in ("none", "histograms"):
            await measure(per_action, f"{webhook.base}/echo", options)


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--actions", type=int, default=10_000)
    parser.add_argument("--scrapes", type=int, default=5)
    asyncio.run(main(parser.parse_args()))
