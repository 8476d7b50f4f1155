"""`switchboard serve --workers N`: real worker processes on one port and one store, each request
sent to a chosen worker (a kept-alive connection found, through /proc, in that worker's hands), and
what must hold across them: every worker serves, each async run runs once, a SIGTERM stops them
all without running a run twice, subscriptions are pushed whichever process finished the run
(SQLite too), a revoked key closes its sockets on every worker, a public link's rate limit holds
for the whole server, the metrics count every worker, a dead worker is replaced and workers
without their parent stop."""

from __future__ import annotations

import asyncio
import http.client
import json
import os
import re
import signal
import subprocess
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any, TypeVar

import pytest
from websockets.exceptions import ConnectionClosed
from websockets.sync.client import ClientConnection, connect

from handlers.execution.rate_limit import SharedBuckets, SharedRateLimiter
from metadata.api_keys import ApiKeys
from metadata.store import Store
from rpc.server import cores, worker_count
from tests.processes import SWITCHBOARD, ServerProcess, free_port
from tests.test_durability import TYPES, define_async, deliveries, wait_all
from tests.webhook import Received, Webhook

RESULT = "subscription ($id: uuid!) { work(id: $id) { id output { n } errors } }"


# --- the worker processes, and connections to each ----------------------------------------------


def serve(tmp_path: Path, *args: str, workers: int = 2, **settings: Any) -> ServerProcess:
    """`switchboard serve --workers N`, once every worker listens (the parent's line says so)."""
    settings = {"log_level": "info", "log_format": "json", "keep_alive_seconds": 60, **settings}
    server = ServerProcess(tmp_path, f"--workers={workers}", *args, **settings)
    deadline = time.monotonic() + 20
    while "worker processes" not in server.log_text():
        assert time.monotonic() < deadline, server.log_text()
        time.sleep(0.05)
    return server


@pytest.fixture
def stopping() -> Iterator[list[ServerProcess]]:
    """Servers stopped at the end of the test, whatever happens."""
    servers: list[ServerProcess] = []
    yield servers
    for server in servers:
        server.stop()


def children(pid: int) -> list[int]:
    found = []
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            stat = Path(f"/proc/{entry}/stat").read_text().rsplit(")", 1)[1].split()
            command = Path(f"/proc/{entry}/cmdline").read_bytes()
        except OSError:
            continue
        if int(stat[1]) == pid and b"spawn_main" in command:
            found.append(int(entry))
    return sorted(found)


def workers_of(server: ServerProcess) -> list[int]:
    return children(server.process.pid)


def owner(server: ServerProcess, client_port: int) -> int:
    """The worker holding the server side of the connection from `client_port`."""
    deadline = time.monotonic() + 5
    while time.monotonic() < deadline:
        inode = None
        for table in ("/proc/net/tcp", "/proc/net/tcp6"):
            for line in Path(table).read_text().splitlines()[1:]:
                fields = line.split()
                local, remote = (int(address.rsplit(":", 1)[1], 16) for address in fields[1:3])
                if local == server.port and remote == client_port:
                    inode = fields[9]
        for pid in workers_of(server):
            try:
                held = {os.readlink(f"/proc/{pid}/fd/{fd}") for fd in os.listdir(f"/proc/{pid}/fd")}
            except OSError:
                continue
            if f"socket:[{inode}]" in held:
                return pid
        time.sleep(0.01)  # not accepted yet
    raise AssertionError(f"no worker holds the connection from port {client_port}")


T = TypeVar("T", http.client.HTTPConnection, ClientConnection)


def pinned(server: ServerProcess, count: int, open_one: Callable[[], T], client_port: Callable[[T], int]) -> list[T]:
    """A connection held by each of `count` workers: opened until each holds one (the others
    closed), in the workers' order."""
    held: dict[int, T] = {}
    deadline = time.monotonic() + 30  # a worker just started may still be importing
    while time.monotonic() < deadline:
        conn = open_one()
        pid = owner(server, client_port(conn))
        if pid in held:
            conn.close()
            time.sleep(0.01)
            continue
        held[pid] = conn
        if len(held) == count:
            return [held[pid] for pid in sorted(held)]
    raise AssertionError(f"connections reached {len(held)} of {count} workers")


def pinned_http(server: ServerProcess, count: int = 2) -> list[http.client.HTTPConnection]:
    """A kept-alive HTTP connection held by each worker."""

    def open_one() -> http.client.HTTPConnection:
        conn = http.client.HTTPConnection("127.0.0.1", server.port, timeout=30)
        conn.request("GET", "/healthz")
        assert conn.getresponse().read() == b"OK"
        return conn

    return pinned(server, count, open_one, lambda conn: int(conn.sock.getsockname()[1]))


def pinned_sockets(server: ServerProcess, count: int = 2) -> list[ClientConnection]:
    """A websocket (graphql-transport-ws) held by each worker, not yet initialised."""

    def open_one() -> ClientConnection:
        return connect(f"ws://127.0.0.1:{server.port}/v1/graphql", subprotocols=["graphql-transport-ws"])

    return pinned(server, count, open_one, lambda ws: int(ws.socket.getsockname()[1]))


def post(conn: http.client.HTTPConnection, type_: str, args: Any, headers: dict[str, str] | None = None) -> Any:
    body = json.dumps({"type": type_, "args": args})
    conn.request("POST", "/v1/query", body, {"Content-Type": "application/json", **(headers or {})})
    response = conn.getresponse()
    return response.status, json.loads(response.read())


class InFlight:
    """A webhook answer that counts the calls in flight at once (and the most there were)."""

    def __init__(self, delay: float) -> None:
        self.delay, self.now, self.most = delay, 0, 0
        self.lock = threading.Lock()

    async def __call__(self, received: Received) -> tuple[int, Any]:
        with self.lock:
            self.now += 1
            self.most = max(self.most, self.now)
        try:
            await asyncio.sleep(self.delay)
        finally:
            with self.lock:
                self.now -= 1
        return 200, {"n": received.body["input"]["n"]}


# --- every worker serves ---------------------------------------------------------------------------


def test_every_worker_serves_on_the_one_port(tmp_path: Path, stopping: list[ServerProcess]) -> None:
    server = serve(tmp_path, workers=3, database_url=f"sqlite:///{tmp_path}/sb.db")
    stopping.append(server)
    assert len(workers_of(server)) == 3
    started = [json.loads(line) for line in server.log_text().splitlines() if "listening on" in line]
    assert len(started) == 1, started  # one line for the server, from the parent
    assert started[0]["message"].endswith(", 3 worker processes")
    connections = pinned_http(server, 3)
    for conn in connections:
        assert post(conn, "export_metadata", {})[0] == 200
    # Each worker wrote its own access lines, marked with its number.
    served = {json.loads(line).get("worker") for line in server.log_text().splitlines() if '"GET /healthz' in line}
    assert served == {1, 2, 3}


def test_workers_setting_and_option(tmp_path: Path) -> None:
    assert worker_count("auto") == cores() >= 1
    assert worker_count(3) == 3
    env = {k: v for k, v in os.environ.items() if not k.startswith("SWITCHBOARD_")}
    refused = subprocess.run(
        [SWITCHBOARD, "serve", "--workers", "0"], cwd=tmp_path, env=env, capture_output=True, text=True, timeout=30
    )
    assert refused.returncode == 2
    assert "'0' is not a number of processes (1 or more) or auto" in refused.stderr
    bad = subprocess.run(
        [SWITCHBOARD, "serve"],
        cwd=tmp_path, env=env | {"SWITCHBOARD_WORKERS": "many"}, capture_output=True, text=True, timeout=30,
    )  # fmt: skip
    assert bad.returncode == 1
    assert bad.stderr == (
        "error: SWITCHBOARD_WORKERS: Invalid enum value 'many'; expected one of a number, auto (setting workers)\n"
    )


def test_start_up_failures_are_one_line_before_any_worker(tmp_path: Path, stopping: list[ServerProcess]) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("SWITCHBOARD_")}
    taken = ServerProcess(tmp_path, database_url=f"sqlite:///{tmp_path}/a.db")
    stopping.append(taken)
    in_use = subprocess.run(
        [SWITCHBOARD, "serve", "--workers", "2", "--port", str(taken.port)],
        cwd=tmp_path, env=env, capture_output=True, text=True, timeout=60,
    )  # fmt: skip
    assert in_use.returncode == 1
    assert in_use.stderr.startswith(f"error: cannot listen on 127.0.0.1:{taken.port}: the port is already in use")
    assert len(in_use.stderr.splitlines()) == 1
    gone = "postgresql://postgres@127.0.0.1:5432/sb_no_such_database"
    no_store = subprocess.run(
        [SWITCHBOARD, "serve", "--workers", "2", "--port", str(free_port())],
        cwd=tmp_path, env=env | {"SWITCHBOARD_DATABASE_URL": gone}, capture_output=True, text=True, timeout=60,
    )  # fmt: skip
    assert no_store.returncode == 1
    assert no_store.stderr == (
        f'error: cannot open the store {gone}: database "sb_no_such_database" does not exist\n'
    ), no_store.stderr


# --- async runs ------------------------------------------------------------------------------------


def test_async_runs_run_once_across_workers(
    tmp_path: Path, webhook: Webhook, database_url: str, stopping: list[ServerProcess]
) -> None:
    """Runs queued through either worker are each run once, by both workers' pools at once."""
    in_flight = InFlight(0.2)
    webhook.respond("/work", handler=in_flight)
    server = serve(tmp_path, database_url=database_url, async_workers=2)
    stopping.append(server)
    define_async(server, webhook.url("/work"))
    connections = pinned_http(server)
    ids = []
    for n in range(40):
        status, answer = post(connections[n % 2], "run_action", {"name": "work", "input": {"n": n}})
        assert status == 200, answer
        ids.append(answer["action_id"])
    results = wait_all(server, ids, 60)
    assert [r["status"] for r in results] == ["completed"] * 40, results
    assert all(r["attempts"] == 1 for r in results)
    assert deliveries(webhook) == Counter(ids)
    assert in_flight.most > 2  # more than one worker's 2 slots ran at once


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
def test_sigterm_stops_every_worker_and_runs_nothing_twice(
    tmp_path: Path, webhook: Webhook, database_url: str, stopping: list[ServerProcess]
) -> None:
    """As one server's graceful stop (tests/test_durability.py), for all its workers at once."""
    webhook.respond("/work", body={"n": 1}, delay=0.2)
    # The default lease: a graceful stop hands its runs back itself, and a lease short enough to
    # run out on a loaded machine would let the other worker run a run still in flight again.
    settings = {"database_url": database_url, "async_workers": 4}
    server = serve(tmp_path, **settings)
    define_async(server, webhook.url("/work"))
    connections = pinned_http(server)
    queued = [post(connections[n % 2], "run_action", {"name": "work", "input": {"n": n}}) for n in range(80)]
    ids = [answer["action_id"] for _, answer in queued]
    deadline = time.monotonic() + 20
    while len(webhook.calls("/work")) < 20 and time.monotonic() < deadline:
        time.sleep(0.01)
    pids = workers_of(server)
    server.process.send_signal(signal.SIGTERM)
    assert server.process.wait(30) == 0
    assert not any(Path(f"/proc/{pid}").exists() for pid in pids)
    log = server.log_text()
    assert log.splitlines()[-1].endswith('"message":"switchboard stopped"}')
    restarted = serve(tmp_path, **settings)
    stopping.append(restarted)
    results = wait_all(restarted, ids, 60)
    assert [r["status"] for r in results] == ["completed"] * 80, results
    delivered = deliveries(webhook)
    assert set(delivered) == set(ids)
    assert sum(count - 1 for count in delivered.values()) == 0, (delivered, log[-6000:])


# --- subscriptions ---------------------------------------------------------------------------------


def subscribe(ws: ClientConnection, run_id: str) -> list[Any]:
    """The subscription's answers, until it completes."""
    ws.send(json.dumps({"type": "connection_init", "payload": {}}))
    assert json.loads(ws.recv(10))["type"] == "connection_ack"
    ws.send(json.dumps({"id": "1", "type": "subscribe", "payload": {"query": RESULT, "variables": {"id": run_id}}}))
    answers = []
    while True:
        message = json.loads(ws.recv(20))
        if message["type"] == "complete":
            return answers
        assert message["type"] == "next", message
        answers.append(message["payload"]["data"]["work"])


def test_subscriptions_are_pushed_from_another_process(
    tmp_path: Path, webhook: Webhook, database_url: str, stopping: list[ServerProcess]
) -> None:
    """The workers of one server hold the subscriptions and run nothing; another server on the
    store runs the runs: each push crosses processes (PostgreSQL: NOTIFY; SQLite: the poll)."""
    webhook.respond("/work", body={"n": 7}, delay=1.0)
    listener = serve(tmp_path, database_url=database_url, async_workers=0)
    stopping.append(listener)
    runner = ServerProcess(tmp_path, database_url=database_url, async_workers=4)
    stopping.append(runner)
    define_async(listener, webhook.url("/work"))
    sockets = pinned_sockets(listener)
    ids = [listener.query("run_action", {"name": "work", "input": {"n": n}})["action_id"] for n in range(2)]
    answers = {}

    def follow(ws: ClientConnection, run_id: str) -> None:
        answers[run_id] = subscribe(ws, run_id)

    threads = [threading.Thread(target=follow, args=pair) for pair in zip(sockets, ids, strict=True)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)
    for run_id in ids:
        assert answers[run_id][0] == {"id": run_id, "output": None, "errors": None}
        assert answers[run_id][-1] == {"id": run_id, "output": {"n": 7}, "errors": None}
    for ws in sockets:
        ws.close()


# --- API keys ----------------------------------------------------------------------------------------


def test_a_revoked_key_closes_its_sockets_on_every_worker(tmp_path: Path, stopping: list[ServerProcess]) -> None:
    server = serve(tmp_path, database_url=f"sqlite:///{tmp_path}/sb.db", admin_secret="s3cret")
    stopping.append(server)
    key = server.query("create_api_key", {"name": "robot", "role": "admin"})["key"]
    sockets = pinned_sockets(server)
    for ws in sockets:
        ws.send(json.dumps({"type": "connection_init", "payload": {"headers": {"x-api-key": key}}}))
        assert json.loads(ws.recv(10))["type"] == "connection_ack"
    connections = pinned_http(server)
    for conn in connections:
        assert post(conn, "export_metadata", {}, {"x-api-key": key})[0] == 200
    status, _ = post(connections[0], "revoke_api_key", {"name": "robot"}, {"x-hasura-admin-secret": "s3cret"})
    assert status == 200
    for conn in connections:  # refused by every worker at once
        assert post(conn, "export_metadata", {}, {"x-api-key": key})[0] == 401
    for ws in sockets:  # and every worker's sockets holding it close (checked every second)
        with pytest.raises(ConnectionClosed) as closed:
            ws.recv(10)
        assert closed.value.rcvd is not None
        assert (closed.value.rcvd.code, closed.value.rcvd.reason) == (4401, "Unauthorized: the API key was revoked")


def test_a_keys_use_is_written_once_a_minute_between_processes(tmp_path: Path) -> None:
    """Two processes' views of one store (as two workers): the second use within the minute writes
    nothing (before, each process wrote its own), and a write never moves the time back."""

    async def go() -> None:
        first, second = Store(f"sqlite:///{tmp_path}/sb.db"), Store(f"sqlite:///{tmp_path}/sb.db")
        await first.open()
        await second.open()
        try:
            keys, other = ApiKeys(first), ApiKeys(second)
            made = await keys.create("robot", "bot", None)
            assert made is not None
            key = made[0]
            await keys.find(key)
            used = (await keys.all())[0].last_used_at
            assert used is not None
            await other.find(key)
            assert (await keys.all())[0].last_used_at == used
        finally:
            await first.close()
            await second.close()

    asyncio.run(go())


# --- public links, metrics ------------------------------------------------------------------------


def test_a_public_links_rate_limit_holds_across_workers(
    tmp_path: Path, webhook: Webhook, stopping: list[ServerProcess]
) -> None:
    # One run per 5 s: per worker, each of the two would let one through at once.
    server = serve(tmp_path, database_url=f"sqlite:///{tmp_path}/sb.db", public_rate_limit=0.2)
    stopping.append(server)
    assert server.query("set_custom_types", TYPES)["message"] == "success"
    action = {"name": "hi", "definition": {"handler": webhook.respond("/hi", body={"n": 1}), "output_type": "Done"}}
    assert server.query("create_action", action)["message"] == "success"
    uuid = server.query("create_action_public_link", {"action": "hi"})["uuid"]
    connections = pinned_http(server)
    statuses = [post(connections[n % 2], "run_public_action", {"uuid": uuid, "input": {}})[0] for n in range(6)]
    assert sorted(statuses) == [200] + [429] * 5, statuses
    assert len(webhook.calls("/hi")) == 1


def test_shared_rate_limiter_buckets() -> None:
    import multiprocessing

    shared = SharedBuckets.create(multiprocessing.get_context("spawn"), slots=16)
    first, second = SharedRateLimiter(1, shared), SharedRateLimiter(1, shared)
    assert first.take("a") == 0
    assert 0.9 < second.take("a") <= 1  # the other process's take counted
    assert second.take("b") == 0
    # More keys busy at once than the table's neighbourhood holds: the limit loosens (a key may
    # get a fresh bucket), never stalls or fails.
    assert all(first.take(f"k{i}") == 0 for i in range(40))
    assert first.take("k39") > 0


def test_metrics_count_every_worker(tmp_path: Path, stopping: list[ServerProcess]) -> None:
    server = serve(tmp_path, database_url=f"sqlite:///{tmp_path}/sb.db")
    stopping.append(server)
    connections = pinned_http(server)
    for n in range(10):
        assert post(connections[n % 2], "export_metadata", {})[0] == 200
    for conn in connections:  # whichever worker answers the scrape, it counts both workers' requests
        conn.request("GET", "/metrics")
        text = conn.getresponse().read().decode()
        assert 'switchboard_requests_total{operation="export_metadata",status="200"} 10.0' in text, text
        assert "switchboard_metadata_resource_version 1.0" in text
        assert "process_cpu_seconds_total" not in text  # it would be the answering worker's only


# --- workers that die, and a parent that dies ------------------------------------------------------


def test_a_dead_worker_is_replaced_and_workers_stop_without_their_parent(
    tmp_path: Path, stopping: list[ServerProcess]
) -> None:
    server = serve(tmp_path, database_url=f"sqlite:///{tmp_path}/sb.db")
    stopping.append(server)
    first, second = workers_of(server)
    os.kill(first, signal.SIGKILL)
    deadline = time.monotonic() + 20
    while len(set(workers_of(server)) - {first}) < 2:
        assert time.monotonic() < deadline, server.log_text()
        time.sleep(0.05)
    assert re.search(rf"worker \d \(pid {first}\) exited \(status -9\); starting another", server.log_text())
    replaced = workers_of(server)
    assert second in replaced
    assert {1, 2} == {json.loads(line).get("worker") for line in _healthz_lines(server, pinned_http(server))}
    server.kill()  # the parent only
    deadline = time.monotonic() + 20
    while any(Path(f"/proc/{pid}").exists() for pid in replaced):
        assert time.monotonic() < deadline, "workers outlived their parent"
        time.sleep(0.05)
    assert server.log_text().count("the parent process is gone: stopping") == 2


def _healthz_lines(server: ServerProcess, connections: list[http.client.HTTPConnection]) -> list[str]:
    for conn in connections:
        conn.request("GET", "/healthz", headers={"x-request-id": "after-the-restart"})
        assert conn.getresponse().read() == b"OK"
    time.sleep(0.2)
    return [line for line in server.log_text().splitlines() if "after-the-restart" in line]
