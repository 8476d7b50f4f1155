"""`switchboard runs list|show|replay|cancel` as a subprocess against real server processes sharing
one store: one that queues and runs nothing, then one that runs, against a real webhook."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.processes import ServerProcess
from tests.test_cli import cli, ok
from tests.webhook import Webhook

USER = {"x-hasura-role": "user", "x-hasura-user-id": "5"}


@pytest.fixture(name="hook")
def hook_fixture() -> Iterator[Webhook]:
    webhook = Webhook()
    try:
        yield webhook
    finally:
        webhook.close()


def define(server: ServerProcess, handler: str) -> None:
    definition = {"handler": handler, "output_type": "String", "kind": "asynchronous"}
    for type_, args in (
        ("create_action", {"name": "mail", "definition": definition}),
        ("create_action_permission", {"action": "mail", "role": "user"}),
    ):
        assert server.query(type_, args).get("message") == "success"


def show(server: ServerProcess, run_id: str) -> Any:
    return json.loads(ok(server, "-o", "json", "runs", "show", run_id))


def wait_for(server: ServerProcess, run_id: str) -> Any:
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        found = show(server, run_id)
        if found["status"] in ("completed", "error", "cancelled"):
            return found
        time.sleep(0.05)
    raise AssertionError(f"run {run_id} did not finish")


def test_runs_are_listed_shown_cancelled_and_replayed(tmp_path: Path, hook: Webhook) -> None:
    database = f"sqlite:///{tmp_path}/sb.db"
    idle = ServerProcess(tmp_path, database_url=database, async_workers=0)
    runner: ServerProcess | None = None
    try:
        define(idle, hook.respond("/down", 500, {}))
        ids = [idle.query("run_action", {"name": "mail", "input": {}}, headers=USER)["action_id"] for _ in range(3)]
        listed = ok(idle, "runs", "list", "--status", "created")
        assert all(run_id in listed for run_id in ids)
        assert listed.splitlines()[0].split()[:3] == ["id", "action", "status"]

        # Cancel one by its id; again is refused (exit 1, saying why); then by filter, oldest first.
        assert ok(idle, "runs", "cancel", ids[0]) == f"cancelled {ids[0]}\n"
        again = cli(idle, "runs", "cancel", ids[0])
        assert again.returncode == 1 and f'run "{ids[0]}" was cancelled already' in again.stderr
        assert "code: invalid-run-state" in again.stderr
        assert ok(idle, "runs", "cancel", "--all", "--action", "mail", "--limit", "1") == (
            f"cancelled {ids[1]}\ncancelled 1 run(s)\n"
        )
        for usage in (("runs", "cancel"), ("runs", "cancel", ids[2], "--all"), ("runs", "replay")):
            done = cli(idle, *usage)
            assert done.returncode == 2 and "give the ids of runs" in done.stderr
        text = ok(idle, "runs", "show", ids[0])
        assert "status: cancelled" in text and "cancelled_by: role admin" in text

        # A server that runs: only the run left is delivered, and fails.
        runner = ServerProcess(tmp_path, database_url=database)
        assert wait_for(runner, ids[2])["status"] == "error"
        assert len(hook.calls("/down")) == 1

        # Fixed, the failed runs are replayed (the cancelled ones are not failed runs).
        runner.query(
            "update_action",
            {"name": "mail", "definition": {"handler": hook.respond("/up", body="sent"), "output_type": "String",
                                            "kind": "asynchronous"}},
        )  # fmt: skip
        lines = ok(runner, "runs", "replay", "--all", "--action", "mail").splitlines()
        assert lines[-1] == "replayed 1 run(s), refused 0" and lines[0].startswith(f"replayed {ids[2]} as ")
        replay_id = lines[0].rsplit(" ", 1)[1]
        done = wait_for(runner, replay_id)
        assert (done["output"], done["replay_of"], done["replayed_by"]) == ("sent", ids[2], {"role": "admin"})
        assert replay_id in ok(runner, "runs", "list", "--action", "mail")
        assert ok(runner, "runs", "replay", "--all") == "replayed 0 run(s), refused 0\n"  # each failure once

        # A cancelled run replayed by its id; a role that lost the permission: refused, exit 1.
        single = json.loads(ok(runner, "-o", "json", "runs", "replay", ids[0]))
        assert single["replay_of"] == ids[0] and wait_for(runner, single["id"])["output"] == "sent"
        runner.query("drop_action_permission", {"action": "mail", "role": "user"})
        refused = cli(runner, "runs", "replay", "--all", "--status", "cancelled")
        assert refused.returncode == 1
        assert f'refused {ids[1]}: role "user" may no longer run action "mail" (access-denied)' in refused.stdout
        paged = json.loads(ok(runner, "-o", "json", "runs", "list", "--limit", "2"))
        assert len(paged["runs"]) == 2 and paged["next"] == paged["runs"][-1]["id"]
        assert f"(more: --before {paged['next']})" in ok(runner, "runs", "list", "--limit", "2")
    finally:
        if runner is not None:
            runner.stop()
        idle.stop()
