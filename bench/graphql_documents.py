"""Hostile GraphQL documents against a real server: how long they hold up other requests, and what
they leave in memory.

Starts `switchboard serve` on SQLite (127.0.0.1, stopped at the end). One client probes GET
/healthz every 10 ms, first alone (the baseline), then while another client sends, one after
another, new each time (so that none is answered from a cache), the documents that once stalled
the server: 2 MB of `__typename` (refused by size), a
document of 5,000 tokens, 500 fields of one name and 250 with arguments (the largest the default
limits let through to validation), a fragment bomb, and deep nesting. Prints the probe's median, p99 and max latency in
both phases, then the server's resident memory before and after 10,000 requests of one invalid
document (its refusal is cached).

    python bench/graphql_documents.py [--seconds 10] [--repeats 10000]
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
from run_action import client, percentile, running, switchboard

DOCUMENTS = {
    "2 MB of __typename": "{ " + "__typename " * 190_650 + "}",
    "5,000 tokens": "{ " + " ".join(f"a{i}: __typename" for i in range(1_650)) + " }",
    "500 fields of one name": "{ " + "__typename " * 500 + "}",
    "250 fields with arguments": "{ " + '__type(name: "Boolean") { name } ' * 250 + "}",
    "fragment bomb": "{ __schema { queryType { ...F0 } } } "
    + " ".join(f"fragment F{i} on __Type {{ ...F{i + 1} ...F{i + 1} }}" for i in range(40))
    + " fragment F40 on __Type { name }",
    "nesting": "{ a" * 3_000 + " }" * 3_000,
}


async def probe(session: aiohttp.ClientSession, url: str, until: float) -> list[float]:
    latencies = []
    while time.monotonic() < until:
        started = time.perf_counter()
        async with session.get(f"{url}/healthz") as response:
            await response.read()
        latencies.append((time.perf_counter() - started) * 1000)
        await asyncio.sleep(0.01)
    return latencies


async def hostile(session: aiohttp.ClientSession, url: str, until: float) -> int:
    sent = 0
    while time.monotonic() < until:
        for document in DOCUMENTS.values():
            # A comment makes each one new: nothing is answered from the caches.
            async with session.post(f"{url}/v1/graphql", json={"query": f"{document} # {sent}"}) as response:
                await response.read()
            sent += 1
    return sent


def rss_kb(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    raise RuntimeError("no VmRSS")


def summary(latencies: list[float]) -> str:
    return (
        f"median {statistics.median(latencies):.1f} ms, p99 {percentile(latencies, 99):.1f} ms, "
        f"max {max(latencies):.1f} ms ({len(latencies)} probes)"
    )


async def main(options: argparse.Namespace) -> None:
    with tempfile.TemporaryDirectory() as directory, running(switchboard(f"sqlite:///{directory}/sb.db")) as server:
        async with client() as session, client() as attacker:
            await server.wait(session)
            quiet = await probe(session, server.base, time.monotonic() + options.seconds)
            until = time.monotonic() + options.seconds
            loaded, sent = await asyncio.gather(
                probe(session, server.base, until), hostile(attacker, server.base, until)
            )
            print(f"/healthz alone:                    {summary(quiet)}")
            print(f"/healthz beside hostile documents: {summary(loaded)}; {sent} documents sent")
            pid = server.process.pid
            for _ in range(100):
                await attacker.post(f"{server.base}/v1/graphql", json={"query": "{ nope }"})
            before = rss_kb(pid)
            for _ in range(options.repeats):
                async with attacker.post(f"{server.base}/v1/graphql", json={"query": "{ nope }"}) as response:
                    await response.read()
            after = rss_kb(pid)
            per = (after - before) * 1024 / options.repeats
            print(f"memory after {options.repeats} invalid documents: {before} kB -> {after} kB ({per:.0f} B/request)")
            print(f"max /healthz stall beside hostile documents: {max(loaded):.1f} ms (alone: {max(quiet):.1f} ms)")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--seconds", type=float, default=10)
    parser.add_argument("--repeats", type=int, default=10_000)
    asyncio.run(main(parser.parse_args()))
