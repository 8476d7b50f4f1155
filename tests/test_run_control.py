"""Replaying and cancelling runs, on both stores, against a real webhook: replay_action_run(s) run a
logged run again as its role, under today's metadata and permissions, as a new run linked to the
original; cancel_action_run(s) keep a queued run from ever being delivered; get_action_result, the
log, the GraphQL query and its subscription say so, with who did it."""

from __future__ import annotations

import asyncio
import time
from datetime import UTC, datetime
from typing import Any

import httpx2 as httpx
from gql import Client, GraphQLRequest
from starlette.testclient import TestClient

from tests.conftest import ClientFactory, ServeFactory, query
from tests.test_graphql_ws import PROTOCOLS, transport
from tests.webhook import Webhook

USER = {"X-Hasura-Role": "user", "X-Hasura-User-Id": "42"}
ADMIN_HEADERS = {"X-Hasura-Admin-Secret": "s3cret"}


def ok(response: Any) -> Any:
    assert response.status_code == 200, response.text
    return response.json()


def definition(handler: str, **more: Any) -> dict[str, Any]:
    arguments = more.pop("arguments", [{"name": "email", "type": "String!"}])
    return {"handler": handler, "output_type": "String", "arguments": arguments, **more}


def define(client: TestClient, name: str, handler: str, **more: Any) -> None:
    ok(query(client, "create_action", {"name": name, "definition": definition(handler, **more)}))
    ok(query(client, "create_action_permission", {"action": name, "role": "user"}))


def rehandle(client: TestClient, name: str, handler: str, **more: Any) -> None:
    ok(query(client, "update_action", {"name": name, "definition": definition(handler, **more)}))


def start(client: TestClient, name: str, email: str = "a@b.c") -> str:
    return str(ok(query(client, "run_action", {"name": name, "input": {"email": email}}, headers=USER))["action_id"])


def wait_for(client: TestClient, run_id: str, *statuses: str) -> dict[str, Any]:
    wanted = statuses or ("completed", "error", "cancelled")
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        result = ok(query(client, "get_action_result", {"id": run_id}))
        if result["status"] in wanted:
            return dict(result)
        time.sleep(0.02)
    raise AssertionError(f"run {run_id} is not {wanted}: {result}")


def refusal(response: Any) -> tuple[int, str, str, str]:
    body = response.json()
    return response.status_code, body["code"], body["path"], body["error"]


def test_a_failed_async_run_is_replayed_under_todays_handler(client: TestClient, webhook: Webhook) -> None:
    define(client, "notify", webhook.respond("/down", 500, {}), kind="asynchronous")
    failed_id = start(client, "notify")
    failed = wait_for(client, failed_id)
    assert failed["status"] == "error"

    # The handler is fixed; the run is replayed, as the user who started it, with its input.
    rehandle(client, "notify", webhook.respond("/up", body="sent"), kind="asynchronous")
    replay = ok(query(client, "replay_action_run", {"id": failed_id}))
    assert replay["replay_of"] == failed_id and replay["replayed_by"] == {"role": "admin"}
    assert replay["id"] != failed_id  # a new run, queued (created, or already taken by a worker)
    done = wait_for(client, replay["id"])
    assert (done["status"], done["output"], done["replay_of"]) == ("completed", "sent", failed_id)
    [call] = webhook.calls("/up")
    assert call.body["input"] == {"email": "a@b.c"}
    assert call.body["session_variables"] == {"x-hasura-role": "user", "x-hasura-user-id": "42"}
    assert call.headers["idempotency-key"] == replay["id"]  # a new run: its own key

    # The original is as it was; the user who started it sees the replay too (their run).
    assert ok(query(client, "get_action_result", {"id": failed_id})) == failed
    assert ok(query(client, "get_action_result", {"id": replay["id"]}, headers=USER))["status"] == "completed"
    log = ok(query(client, "get_action_log", {"action": "notify"}))["runs"]
    assert [(r["id"], r.get("replay_of"), r.get("replayed_by")) for r in log] == [
        (replay["id"], failed_id, {"role": "admin"}),
        (failed_id, None, None),
    ]
    assert log[0]["role"] == "user"


def test_a_logged_sync_run_is_replayed_and_logged_whatever_the_audit_setting(
    make_client: ClientFactory, webhook: Webhook
) -> None:
    auditing = make_client(audit_sync_runs=True)
    define(auditing, "charge", webhook.respond("/charge-down", 503, {}))
    response = query(auditing, "run_action", {"name": "charge", "input": {"email": "x@y.z"}}, headers=USER)
    assert response.status_code == 502
    [failed] = ok(query(auditing, "get_action_log", {"action": "charge"}))["runs"]
    assert (failed["mode"], failed["status"]) == ("sync", "error")

    # Replayed through a server that does not audit sync runs: the replay is logged all the same.
    plain = make_client()
    rehandle(plain, "charge", webhook.respond("/charge", body="charged"))
    replay = ok(query(plain, "replay_action_run", {"id": failed["id"]}))
    assert (replay["status"], replay["output"], replay["errors"]) == ("completed", "charged", None)
    assert replay["replay_of"] == failed["id"]
    assert webhook.calls("/charge")[0].body["input"] == {"email": "x@y.z"}
    log = ok(query(plain, "get_action_log", {"action": "charge"}))["runs"]
    assert [r["id"] for r in log] == [replay["id"], failed["id"]]
    assert log[0]["mode"] == "sync"

    # A replay that fails again is the replay's own outcome (200: the replay happened), logged.
    rehandle(plain, "charge", webhook.respond("/charge-still-down", 503, {}))
    again = ok(query(plain, "replay_action_run", {"id": failed["id"]}))
    assert again["status"] == "error" and again["errors"]["code"] == "unexpected"
    assert again["errors"]["internal"]  # an admin reads the details


def test_a_replay_is_refused_as_its_run_would_be_today(make_client: ClientFactory, webhook: Webhook) -> None:
    client = make_client(audit_sync_runs=True)
    define(client, "greet", webhook.respond("/greet", body="hi"))
    ok(query(client, "run_action", {"name": "greet", "input": {"email": "a@b.c"}}, headers=USER))
    [run] = ok(query(client, "get_action_log"))["runs"]

    # Its input no longer fits today's arguments.
    rehandle(client, "greet", webhook.url("/greet"), arguments=[{"name": "email", "type": "Int!"}])
    code, kind, path, error = refusal(query(client, "replay_action_run", {"id": run["id"]}))
    assert (code, kind, path) == (400, "validation-failed", "$.args.id")
    assert error.startswith('the run\'s input no longer fits action "greet": ') and "$.input.email" in error
    rehandle(client, "greet", webhook.url("/greet"))

    # Its role lost the permission.
    ok(query(client, "drop_action_permission", {"action": "greet", "role": "user"}))
    assert refusal(query(client, "replay_action_run", {"id": run["id"]})) == (
        400, "access-denied", "$.args.id", 'role "user" may no longer run action "greet"'
    )  # fmt: skip

    # Its action is gone (its runs kept).
    ok(query(client, "drop_action", {"name": "greet", "clear_data": False}))
    assert refusal(query(client, "replay_action_run", {"id": run["id"]})) == (
        400, "not-exists", "$.args.id", f'action "greet" of run "{run["id"]}" no longer exists'
    )  # fmt: skip
    assert len(webhook.calls("/greet")) == 1  # none of the refused replays reached the handler
    assert [r["id"] for r in ok(query(client, "get_action_log"))["runs"]] == [run["id"]]  # nor the log

    # An unknown run; a run not finished; a non-admin; bad args.
    assert refusal(query(client, "replay_action_run", {"id": "nope"})) == (
        400, "not-exists", "$.args.id", 'action run with id "nope" does not exist'
    )  # fmt: skip
    for type_ in ("replay_action_run", "replay_action_runs", "cancel_action_run", "cancel_action_runs"):
        args = {"limit": 1} if type_ == "replay_action_runs" else {"id": run["id"]} if type_.endswith("_run") else {}
        assert refusal(query(client, type_, args, headers=USER))[:2] == (400, "access-denied")
        inside = query(client, "bulk", [{"type": type_, "args": args}])
        assert refusal(inside)[:3] == (400, "parse-failed", "$.args[0].type")
    assert refusal(query(client, "replay_action_runs", {}))[:3] == (400, "parse-failed", "$.args")
    assert refusal(query(client, "replay_action_runs", {"limit": 0}))[:3] == (400, "parse-failed", "$.args.limit")
    assert refusal(query(client, "replay_action_runs", {"limit": 5, "status": "processing"}))[:3] == (
        400, "parse-failed", "$.args.status"
    )  # fmt: skip
    window = {"limit": 5, "since": "2026-01-02T00:00:00Z", "until": "2026-01-01T00:00:00Z"}
    assert refusal(query(client, "replay_action_runs", window))[:3] == (400, "validation-failed", "$.args.until")


def test_the_failed_runs_of_a_filter_are_replayed_once(make_client: ClientFactory, webhook: Webhook) -> None:
    client = make_client()
    define(client, "sync_up", webhook.respond("/sync-down", 500, {}), kind="asynchronous")
    define(client, "other", webhook.respond("/other-down", 500, {}), kind="asynchronous")
    first = [start(client, "sync_up", f"{n}@x") for n in range(3)]
    for run_id in first:
        wait_for(client, run_id)
    middle = datetime.now(UTC).isoformat()
    time.sleep(0.01)
    later = [start(client, "sync_up", f"{n}@y") for n in range(3, 5)]
    elsewhere = start(client, "other")
    for run_id in [*later, elsewhere]:
        wait_for(client, run_id)

    rehandle(client, "sync_up", webhook.respond("/sync", body="ok"), kind="asynchronous")
    # Oldest first, at most `limit`, only the action's, only before `until`.
    answer = ok(query(client, "replay_action_runs", {"action": "sync_up", "until": middle, "limit": 2}))
    assert [r["replay_of"] for r in answer["replayed"]] == first[:2] and answer["refused"] == []
    answer = ok(query(client, "replay_action_runs", {"action": "sync_up", "limit": 10}))
    assert [r["replay_of"] for r in answer["replayed"]] == [first[2], *later]
    replays = [r["id"] for r in answer["replayed"]]
    assert all(wait_for(client, run_id)["status"] == "completed" for run_id in replays)
    assert sorted(c.body["input"]["email"] for c in webhook.calls("/sync")) == ["0@x", "1@x", "2@x", "3@y", "4@y"]
    # Replayed already: a second "replay all failed" replays nothing of them.
    nothing = {"replayed": [], "refused": []}
    assert ok(query(client, "replay_action_runs", {"action": "sync_up", "limit": 10})) == nothing

    # One refused run (its role lost the permission) does not stop the others; `since` bounds.
    ok(query(client, "drop_action_permission", {"action": "other", "role": "user"}))
    answer = ok(query(client, "replay_action_runs", {"since": middle, "limit": 10}))
    assert answer["replayed"] == []
    assert answer["refused"] == [
        {"id": elsewhere, "error": 'role "user" may no longer run action "other"', "code": "access-denied"}
    ]


def test_queued_runs_are_cancelled_and_never_delivered(make_client: ClientFactory, webhook: Webhook) -> None:
    idle = make_client(async_workers=0)  # a server that queues, and runs nothing
    define(idle, "mail", webhook.respond("/mail", body="sent"), kind="asynchronous")
    ids = [start(idle, "mail", f"{n}@m") for n in range(4)]

    cancelled = ok(query(idle, "cancel_action_run", {"id": ids[0]}))
    assert cancelled["status"] == "cancelled" and cancelled["cancelled_by"] == {"role": "admin"}
    reason = {"path": "$", "error": "the run was cancelled by admin before it started", "code": "cancelled"}
    assert cancelled["errors"] == reason
    assert ok(query(idle, "get_action_result", {"id": ids[0]}, headers=USER))["errors"] == reason
    assert refusal(query(idle, "cancel_action_run", {"id": ids[0]})) == (
        400, "invalid-run-state", "$.args.id", f'run "{ids[0]}" was cancelled already'
    )  # fmt: skip
    # By filter: the oldest waiting ones first, at most `limit`.
    assert ok(query(idle, "cancel_action_runs", {"action": "mail", "limit": 2})) == {"cancelled": ids[1:3]}
    assert ok(query(idle, "cancel_action_runs", {"action": "other"})) == {"cancelled": []}
    log = ok(query(idle, "get_action_log", {"status": "cancelled"}))["runs"]
    assert sorted(r["id"] for r in log) == sorted(ids[:3])

    # A server with workers runs only the run left.
    runner = make_client()
    assert wait_for(runner, ids[3])["status"] == "completed"
    time.sleep(0.3)
    assert [c.body["input"]["email"] for c in webhook.calls("/mail")] == ["3@m"]
    assert {ok(query(runner, "get_action_result", {"id": i}))["status"] for i in ids[:3]} == {"cancelled"}
    assert refusal(query(runner, "cancel_action_run", {"id": ids[3]})) == (
        400, "invalid-run-state", "$.args.id",
        f'run "{ids[3]}" has finished (status completed): there is nothing to cancel',
    )  # fmt: skip
    assert refusal(query(runner, "cancel_action_run", {"id": "nope"}))[:2] == (400, "not-exists")
    # A cancelled run can be replayed after all.
    replay = ok(query(runner, "replay_action_run", {"id": ids[0]}))
    assert wait_for(runner, replay["id"])["output"] == "sent"


def test_a_started_run_cannot_be_cancelled_and_a_retry_can(client: TestClient, webhook: Webhook) -> None:
    define(client, "slow", webhook.respond("/slow", body="done", delay=1.5), kind="asynchronous")
    running = start(client, "slow")
    wait_for(client, running, "processing")
    assert refusal(query(client, "cancel_action_run", {"id": running})) == (
        400, "invalid-run-state", "$.args.id",
        f'run "{running}" has started (status processing): a started run cannot be cancelled',
    )  # fmt: skip
    assert wait_for(client, running)["status"] == "completed"

    # A run waiting for its retry has not started again: cancelled, it is not delivered again.
    retry = {"num_retries": 3, "retry_interval_seconds": 30}
    define(client, "flaky", webhook.respond("/flaky", 500, {}), kind="asynchronous", retry_conf=retry)
    waiting = start(client, "flaky")
    deadline = time.monotonic() + 20
    while not webhook.calls("/flaky") and time.monotonic() < deadline:
        time.sleep(0.02)
    result = wait_for(client, waiting, "created")
    assert result["attempts"] == 1
    assert ok(query(client, "cancel_action_run", {"id": waiting}))["status"] == "cancelled"
    assert len(webhook.calls("/flaky")) == 1

    # An async action made synchronous: its run's replay is a synchronous run, which ran when it
    # was called, so there is nothing to cancel.
    rehandle(client, "slow", webhook.respond("/fast", body="quick"))
    replay = ok(query(client, "replay_action_run", {"id": running}))
    assert (replay["status"], replay["output"]) == ("completed", "quick")
    [logged] = [r for r in ok(query(client, "get_action_log", {"action": "slow"}))["runs"] if r["id"] == replay["id"]]
    assert logged["mode"] == "sync"
    assert refusal(query(client, "cancel_action_run", {"id": replay["id"]})) == (
        400, "invalid-run-state", "$.args.id", f'run "{replay["id"]}" is a synchronous run: it ran when it was called'
    )  # fmt: skip


def test_graphql_answers_a_cancelled_run_and_its_subscription_completes(serve: ServeFactory, webhook: Webhook) -> None:
    """The subscriber's server and the one that cancels are not the same: the news comes through
    the store (PostgreSQL's NOTIFY; SQLite's poll)."""
    listener = serve(admin_secret="s3cret", async_workers=0)
    canceller = serve(admin_secret="s3cret", async_workers=0)
    meta = lambda served, type_, args: httpx.post(  # noqa: E731
        f"{served.url}/v1/query", json={"type": type_, "args": args}, headers=ADMIN_HEADERS, timeout=30
    ).json()
    later = {"handler": webhook.respond("/gql", body="x"), "output_type": "String", "kind": "asynchronous"}
    meta(listener, "create_action", {"name": "later", "definition": later})
    meta(listener, "create_action_permission", {"action": "later", "role": "user"})
    headers = {**ADMIN_HEADERS, **USER}
    subscription = "subscription ($id: uuid!) { later(id: $id) { id errors output } }"
    read_query = "query ($id: uuid!) { later(id: $id) { id errors output } }"

    async def go() -> tuple[str, list[Any], Any]:
        async with Client(transport=transport(listener, PROTOCOLS[0], headers)) as session:
            run_id = (await session.execute(GraphQLRequest("mutation { later }")))["later"]
        answers: list[Any] = []

        async def follow() -> None:
            async with Client(transport=transport(listener, PROTOCOLS[0], headers)) as session:
                async for answer in session.subscribe(GraphQLRequest(subscription, variable_values={"id": run_id})):
                    answers.append(answer)

        following = asyncio.create_task(follow())
        while not answers:
            await asyncio.sleep(0.02)
        await asyncio.to_thread(meta, canceller, "cancel_action_run", {"id": run_id})
        await asyncio.wait_for(following, 20)  # it completes: the run is over
        read = await asyncio.to_thread(
            lambda: httpx.post(
                listener.graphql,
                json={"query": read_query, "variables": {"id": run_id}},
                headers=headers,
            ).json()
        )
        return run_id, answers, read

    run_id, answers, read = asyncio.run(go())
    reason = {"path": "$", "error": "the run was cancelled by admin before it started", "code": "cancelled"}
    assert answers == [
        {"later": {"id": run_id, "errors": None, "output": None}},
        {"later": {"id": run_id, "errors": reason, "output": None}},
    ]
    assert read == {"data": {"later": {"id": run_id, "errors": reason, "output": None}}}
