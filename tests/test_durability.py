"""Async runs survive a crash, and servers sharing a store never run one twice."""

from __future__ import annotations

import time
from collections import Counter
from pathlib import Path
from typing import Any

import pytest

from tests.processes import ServerProcess
from tests.webhook import Webhook

TYPES = {"objects": [{"name": "Done", "fields": [{"name": "n", "type": "Int!"}]}]}


def define_async(server: ServerProcess, handler: str) -> None:
    assert server.query("set_custom_types", TYPES)["resource_version"] == 2
    action = {
        "name": "work",
        "definition": {
            "handler": handler,
            "kind": "asynchronous",
            "output_type": "Done",
            "arguments": [{"name": "n", "type": "Int!"}],
            "timeout": 3,
        },
    }
    assert server.query("create_action", action)["message"] == "success"


def queue(server: ServerProcess, n: int) -> str:
    return str(server.query("run_action", {"name": "work", "input": {"n": n}})["action_id"])


def wait_all(server: ServerProcess, ids: list[str], seconds: float = 30) -> list[dict[str, Any]]:
    deadline = time.monotonic() + seconds
    while True:
        results = [server.query("get_action_result", {"id": i}) for i in ids]
        if all(r["status"] in ("completed", "error") for r in results) or time.monotonic() > deadline:
            return results
        time.sleep(0.1)


def test_runs_survive_sigkill(tmp_path: Path, webhook: Webhook, database_url: str) -> None:
    webhook.respond("/work", body={"n": 1}, delay=0.5)
    settings = {"database_url": database_url, "async_workers": 2, "async_lease_margin_seconds": 1}
    server = ServerProcess(tmp_path, **settings)
    try:
        define_async(server, webhook.url("/work"))
        ids = [queue(server, n) for n in range(8)]
        deadline = time.monotonic() + 10
        while not webhook.calls("/work") and time.monotonic() < deadline:
            time.sleep(0.01)
        assert webhook.calls("/work"), "no run started"
    finally:
        server.kill()  # mid-flight: some runs are held by the dead process's leases
    restarted = ServerProcess(tmp_path, **settings)
    try:
        results = wait_all(restarted, ids)
        assert [r["status"] for r in results] == ["completed"] * 8, results
        assert {r["id"] for r in results} == set(ids)
        # Every queued input reached the handler.
        assert {c.body["input"]["n"] for c in webhook.calls("/work")} == set(range(8))
    finally:
        restarted.stop()


def test_two_servers_never_run_a_run_twice(tmp_path: Path, webhook: Webhook, database_url: str) -> None:
    webhook.respond("/work", body={"n": 1}, delay=0.05)
    settings = {"database_url": database_url, "async_workers": 4}
    first = ServerProcess(tmp_path, **settings)
    second = ServerProcess(tmp_path, **settings)
    try:
        define_async(first, webhook.url("/work"))
        # The second server learns of the action from the first (notification or catch-up).
        ids = [queue(first if n % 2 else second, n) for n in range(40)]
        results = wait_all(first, ids)
        assert [r["status"] for r in results] == ["completed"] * 40, results
        assert all(r["attempts"] == 1 for r in results)
        received = Counter(c.body["input"]["n"] for c in webhook.calls("/work"))
        assert received == Counter(range(40)), received
    finally:
        first.stop()
        second.stop()


def deliveries(webhook: Webhook) -> Counter[str]:
    """How many times each run reached the handler, by its Idempotency-Key."""
    calls = webhook.calls("/work")
    assert all("idempotency-key" in c.headers for c in calls)
    return Counter(c.headers["idempotency-key"] for c in calls)


@pytest.mark.parametrize("stop", ["sigterm", "sigkill"])
def test_a_stop_delivers_no_run_twice_and_a_kill_only_what_was_in_flight(
    tmp_path: Path, webhook: Webhook, database_url: str, stop: str
) -> None:
    """A graceful stop lets the runs in flight finish and commits them: nothing is delivered
    twice (cut off at once, as before, 6 were). A kill redelivers at most the runs in flight
    (async_workers), each with the same Idempotency-Key, so a handler can drop the repeat."""
    webhook.respond("/work", body={"n": 1}, delay=0.2)
    workers = 8
    settings = {"database_url": database_url, "async_workers": workers, "async_lease_margin_seconds": 1}
    server = ServerProcess(tmp_path, **settings)
    try:
        define_async(server, webhook.url("/work"))
        ids = [queue(server, n) for n in range(100)]
        deadline = time.monotonic() + 20
        while len(webhook.calls("/work")) < 30 and time.monotonic() < deadline:
            time.sleep(0.01)
    finally:
        server.stop() if stop == "sigterm" else server.kill()
    restarted = ServerProcess(tmp_path, **settings)
    try:
        results = wait_all(restarted, ids, 60)
        assert [r["status"] for r in results] == ["completed"] * 100, results
    finally:
        restarted.stop()
    delivered = deliveries(webhook)
    assert set(delivered) == set(ids)  # the key is the run's id
    repeats = sum(count - 1 for count in delivered.values())
    if stop == "sigterm":
        assert repeats == 0, delivered
    else:
        assert repeats <= workers, delivered
