"""How long each console page takes to render, with 10,000 actions in the store.

    python bench/console_pages.py [--samples 5]

Starts `switchboard serve` (SQLite store) twice: the BASELINE store holds 10 actions, the other
10,000 (each with arguments, permissions for one of 5 roles, 2 of 3 synchronous), plus custom
types, a data source, 100 public links and 200 logged runs. For each page, Debian's Chromium
(driven by Playwright) loads the console at that page, signed in, and the time from navigation
to the page marking itself ready (its data fetched and shown: `main[data-ready=true]`) is taken
`--samples` times; the median is printed for both stores, with their ratio. A second figure is
the in-app move to the page from another one (a hash change: no reload of the scripts). The
target is every page under a second at 10,000 actions.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from playwright.sync_api import Page, sync_playwright  # noqa: E402

from tests.processes import ServerProcess  # noqa: E402

CHROMIUM_ARGS = [
    "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
    "--disable-background-networking", "--disable-component-update", "--disable-sync",
]  # fmt: skip
SECRET = "bench"
ROLES = ["user", "manager", "support", "billing", "auditor"]
# (hash, page name marked ready)
PAGES = [
    ("actions", "actions"),
    ("actions/a00005", "action-definition"),
    ("actions/a00005/run", "action-run"),
    ("create-action", "new-action"),
    ("permissions", "permissions"),
    ("types", "types"),
    ("sources", "sources"),
    ("links", "links"),
    ("runs", "runs"),
    ("history", "history"),
]
TYPES = {
    "input_objects": [{"name": "Item", "fields": [{"name": "sku", "type": "String!"}, {"name": "qty", "type": "Int"}]}],
    "objects": [{"name": "Out", "fields": [{"name": "id", "type": "Int!"}]}],
    "enums": [{"name": "Plan", "values": [{"value": "FREE"}, {"value": "PRO"}]}],
}


def document(count: int) -> dict[str, Any]:
    actions = [
        {
            "name": f"a{i:05d}",
            "comment": f"action number {i}",
            "definition": {
                "handler": f"http://127.0.0.1:9/a{i}",
                "output_type": "Out",
                "kind": "asynchronous" if i % 3 == 0 else "synchronous",
                "arguments": [{"name": "items", "type": "[Item!]!"}, {"name": "plan", "type": "Plan"}],
            },
            "permissions": [{"role": ROLES[i % len(ROLES)]}],
        }
        for i in range(count)
    ]
    links = [
        {"action": f"a{i:05d}", "uuid": f"00000000-0000-4000-8000-{i:012d}"} for i in range(0, count, count // 100 or 1)
    ]
    return {
        "version": 3,
        "actions": actions,
        "custom_types": TYPES,
        "data_sources": [{"name": "shop", "url": "sqlite:///./shop.db"}],
        "public_links": links[:100],
    }


def seeded(directory: Path, count: int) -> ServerProcess:
    server = ServerProcess(directory, admin_secret=SECRET, audit_sync_runs="true")
    answer = server.query("replace_metadata", document(count))
    assert answer.get("message") == "success", answer
    for i in range(200):  # logged runs: the handler is unreachable, so each ends in error
        server.query("run_action", {"name": f"a{i % count:05d}", "input": {"items": [{"sku": "x"}]}})
    return server


def timed(page: Page, url: str, name: str) -> float:
    page.goto("about:blank")  # a full load each time, scripts included (the browser's cache revalidates)
    start = time.perf_counter()
    page.goto(url)
    page.wait_for_selector(f"main[data-page='{name}'][data-ready=true]")
    return time.perf_counter() - start


def moved(page: Page, base: str, hash_: str, name: str) -> float:
    page.goto(f"{base}#/sources")
    page.wait_for_selector("main[data-page=sources][data-ready=true]")
    start = time.perf_counter()
    page.evaluate(f"window.location.hash = '#/{hash_}'")
    page.wait_for_selector(f"main[data-page='{name}'][data-ready=true]")
    return time.perf_counter() - start


def measure(page: Page, server: ServerProcess, samples: int) -> dict[str, tuple[float, float]]:
    base = f"{server.url}/console/"
    page.goto(base)
    credentials = json.dumps({"method": "admin_secret", "value": SECRET})
    page.evaluate(f"sessionStorage.setItem('switchboard.credentials', {json.dumps(credentials)})")
    out = {}
    for hash_, name in PAGES:
        timed(page, f"{base}#/{hash_}", name)  # warm up
        loads = [timed(page, f"{base}#/{hash_}", name) for _ in range(samples)]
        moves = [moved(page, base, hash_, name) for _ in range(samples)]
        out[hash_] = (statistics.median(loads), statistics.median(moves))
    return out


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--samples", type=int, default=5)
    parser.add_argument("--actions", type=int, default=10_000)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp, sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path="/usr/bin/chromium", args=CHROMIUM_ARGS)
        page = browser.new_page(viewport={"width": 1280, "height": 900})
        results = {}
        for label, count in (("baseline", 10), ("target", args.actions)):
            directory = Path(tmp) / label
            directory.mkdir()
            started = time.perf_counter()
            server = seeded(directory, count)
            print(f"{label}: {count} actions seeded in {time.perf_counter() - started:.1f} s", file=sys.stderr)
            try:
                results[label] = measure(page, server, args.samples)
            finally:
                server.stop()
        browser.close()
    n = args.actions
    print(f"{'page':<22} {'load @10':>9} {f'load @{n}':>12} {'ratio':>6}   {'move @10':>9} {f'move @{n}':>12}")
    worst = 0.0
    for hash_, _ in PAGES:
        base_load, base_move = results["baseline"][hash_]
        load, move = results["target"][hash_]
        worst = max(worst, load, move)
        print(
            f"{hash_:<22} {base_load * 1000:>7.0f}ms {load * 1000:>10.0f}ms {load / base_load:>6.2f}"
            f"   {base_move * 1000:>7.0f}ms {move * 1000:>10.0f}ms"
        )
    print(f"slowest page at {n} actions: {worst * 1000:.0f} ms (target < 1000 ms)")


if __name__ == "__main__":
    main()
