"""Replay and Cancel in the console: on the runs page (each run's row and its details), for the
runs of a filter ("Replay all failed", "Cancel all queued"), and on a run followed from the Run
tab. The server runs no async workers, so queued runs stay queued until they are cancelled; sync
runs are logged (audit_sync_runs), so a failed sync run is there to replay.

Same browser as tests/test_console.py (its fixtures, one xdist group), and its own server.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from playwright.sync_api import Page, expect

from tests.console_fixtures import SECRET
from tests.processes import ServerProcess
from tests.test_console import define, field, open_page, query, sign_in
from tests.webhook import Webhook

pytestmark = pytest.mark.xdist_group("console")
USER = {"x-hasura-role": "user", "x-hasura-user-id": "3"}


@pytest.fixture(scope="module", name="server")
def server_fixture(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerProcess]:
    process = ServerProcess(
        tmp_path_factory.mktemp("console-runs"), admin_secret=SECRET, async_workers=0, audit_sync_runs="true"
    )
    try:
        yield process
    finally:
        process.stop()


def run_as_user(server: ServerProcess, name: str) -> Any:
    return server.query("run_action", {"name": name, "input": {}}, headers={**server.headers, **USER})


def runs_of(server: ServerProcess, action: str) -> list[Any]:
    return list(query(server, "get_action_log", {"action": action})["runs"])


def filter_runs(page: Page, server: ServerProcess, action: str) -> None:
    """The runs page filtered by `action` from the start (as an action's Runs tab opens it)."""
    open_page(page, server, "actions", "actions")  # the runs page reads its filter when it opens
    open_page(page, server, f"runs?action={action}", "runs")
    expect(page.locator("input[aria-label=Action]")).to_have_value(action)
    expect(page.locator("tr.run")).to_have_count(len(runs_of(server, action)))


def test_a_queued_run_is_cancelled_and_a_failed_run_replayed(page: Page, server: ServerProcess, hook: Webhook) -> None:
    define(server, "post", handler=hook.respond("/post", body="posted"), kind="asynchronous")
    query(server, "create_action_permission", {"action": "post", "role": "user"})
    queued = [run_as_user(server, "post")["action_id"] for _ in range(3)]
    sign_in(page, server)
    filter_runs(page, server, "post")

    # Cancel one from its row: the row says so, and the server never delivers it.
    row = page.locator(f"tr[data-run='{queued[0]}']")
    row.locator("button:text('Cancel')").click()
    expect(page.locator("[data-notice]")).to_have_text(f"Run {queued[0]} cancelled: it will never be delivered.")
    expect(row.locator(".status")).to_have_text("cancelled")
    expect(row.locator("button:text('Cancel')")).to_have_count(0)
    assert query(server, "get_action_result", {"id": queued[0]})["status"] == "cancelled"
    row.locator("button.link").click()  # its details: who cancelled it, and a Replay
    details = page.locator(".run-details")
    expect(details).to_contain_text("cancelled by")
    expect(details).to_contain_text("role admin")
    expect(details.locator("button:text('Replay')")).to_be_visible()

    # Cancel all queued runs of the filter: asked first.
    page.click("button:text('Cancel all queued')")
    dialog = page.locator("dialog")
    expect(dialog).to_contain_text("Cancel the queued runs of post?")
    dialog.locator("button:text('Cancel them')").click()
    expect(page.locator("[data-notice]")).to_have_text("Cancelled 2 queued runs of post.")
    assert {r["status"] for r in runs_of(server, "post")} == {"cancelled"}

    # A failed sync run (logged) is replayed from its row once its handler is fixed.
    define(server, "pay", handler=hook.respond("/pay-down", 500, {}))
    query(server, "create_action_permission", {"action": "pay", "role": "user"})
    for _ in range(2):
        run_as_user(server, "pay")
    failed = [r["id"] for r in runs_of(server, "pay")]
    pay = {"handler": hook.respond("/pay", body="paid"), "output_type": "String"}
    query(server, "update_action", {"name": "pay", "definition": pay})
    filter_runs(page, server, "pay")
    page.locator(f"tr[data-run='{failed[0]}'] button:text('Replay')").click()
    notice = page.locator("[data-notice]")
    expect(notice).to_contain_text(f"Run {failed[0]} replayed as ")
    expect(notice).to_contain_text(": completed.")
    [replay] = [r for r in runs_of(server, "pay") if r.get("replay_of") == failed[0]]
    assert (replay["status"], replay["output"], replay["role"]) == ("completed", "paid", "user")
    new_row = page.locator(f"tr[data-run='{replay['id']}']")
    expect(new_row.locator(".status")).to_have_text("completed")
    new_row.locator("button.link").click()
    expect(page.locator(".run-details")).to_contain_text(f"replay of{failed[0]}")

    # Replay all failed: the one not replayed yet.
    page.click("button:text('Replay all failed')")
    page.locator("dialog button:text('Replay them')").click()
    expect(notice).to_have_text("Replayed 1 failed run of pay.")
    assert len(hook.calls("/pay")) == 2
    page.click("button:text('Replay all failed')")
    page.locator("dialog button:text('Replay them')").click()
    expect(notice).to_have_text("Replayed 0 failed runs of pay.")


def test_refused_replays_are_named(page: Page, server: ServerProcess, hook: Webhook) -> None:
    define(server, "ship", handler=hook.respond("/ship-down", 500, {}))
    query(server, "create_action_permission", {"action": "ship", "role": "user"})
    run_as_user(server, "ship")
    [failed] = runs_of(server, "ship")
    query(server, "drop_action_permission", {"action": "ship", "role": "user"})
    sign_in(page, server)
    filter_runs(page, server, "ship")
    page.locator(f"tr[data-run='{failed['id']}'] button:text('Replay')").click()
    expect(page.locator(".banner.error")).to_contain_text('Role "user" may no longer run action "ship"')
    page.click("button:text('Replay all failed')")
    page.locator("dialog button:text('Replay them')").click()
    expect(page.locator("[data-notice]")).to_have_text("Replayed 0 failed runs of ship; 1 refused.")
    expect(page.locator("ul.refused")).to_contain_text(f'{failed["id"]}: role "user" may no longer run action "ship"')


def test_a_run_followed_from_the_run_tab_is_cancelled_then_replayed(
    page: Page, server: ServerProcess, hook: Webhook
) -> None:
    define(server, "report", handler=hook.respond("/report", body="ready"), kind="asynchronous")
    sign_in(page, server)
    open_page(page, server, "actions/report/run", "action-run")
    page.click("button:text('Run')")
    run = page.locator(".async-run").first
    expect(run).to_have_attribute("data-status", "created")
    run.locator("button:text('Cancel run')").click()
    expect(run).to_have_attribute("data-status", "cancelled")
    expect(run.locator("pre.errors")).to_contain_text('"code": "cancelled"')
    run.locator("button:text('Replay run')").click()
    replayed = run.locator(".async-run")
    expect(replayed).to_have_attribute("data-status", "created")  # no workers here: it waits
    assert [r["status"] for r in runs_of(server, "report")] == ["created", "cancelled"]
    assert field(page, "$.args.input", "input").count() == 0  # the action takes no input
