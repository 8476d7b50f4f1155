"""Shared fixtures: a fresh database on each backend (a SQLite file, a uniquely named PostgreSQL
database dropped afterwards) and the real ASGI app, lifespan included, in-process or served by a
real uvicorn on a loopback port (for clients that need a socket: gql, websockets)."""

from __future__ import annotations

import asyncio
import os
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import asyncpg
import msgspec
import pytest
import uvicorn
from starlette.testclient import TestClient

from rpc.app import create_app
from rpc.config import Config
from tests.processes import free_port
from tests.progress import FileProgress
from tests.webhook import Webhook

# The console's browser fixtures, shared by every tests/test_console*.py module.
pytest_plugins = ["tests.console_fixtures"]

# Proxy variables of the developer's environment would take the requests of the servers under test
# (and of the test clients) to servers on loopback; tests of proxies (test_proxies.py) set their own.
PROXY_VARIABLES = ("http_proxy", "https_proxy", "no_proxy", "all_proxy")


def pytest_configure(config: pytest.Config) -> None:
    """A line per test file as it finishes (tests/progress.py), on the process that reports."""
    for name in PROXY_VARIABLES:
        os.environ.pop(name, None)
        os.environ.pop(name.upper(), None)
    if not hasattr(config, "workerinput"):
        config.pluginmanager.register(FileProgress(config), "file-progress")


PG_URL = os.environ.get("SWITCHBOARD_TEST_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432/postgres")
BACKENDS = ["sqlite", "postgres"]


def pytest_sessionstart(session: pytest.Session) -> None:
    """Most tests run on PostgreSQL too: without it the session stops at once with one line saying
    how to start it, instead of a traceback per test. Checked by the controller before xdist
    starts its workers (they skip it)."""
    if hasattr(session.config, "workerinput"):
        return
    problem = _postgres_problem(PG_URL)
    if problem is not None:
        # pytest prints the reason of an exit on stderr, and its terminal report would repeat it:
        # the one line is the whole report.
        reporter = session.config.pluginmanager.get_plugin("terminalreporter")
        if reporter is not None:
            session.config.pluginmanager.unregister(reporter)
        pytest.exit(problem, returncode=1)


def _postgres_problem(url: str) -> str | None:
    """Why the tests cannot use the PostgreSQL server at `url`, or None when they can."""
    parts = urlsplit(url)
    where = f"{parts.hostname or 'localhost'}:{parts.port or 5432}"
    how = (
        "start it with `pg_ctlcluster --skip-systemctl-redirect $(ls /etc/postgresql) main start`, "
        "or set SWITCHBOARD_TEST_POSTGRES_URL to the URL of one (postgresql://user@host:port/postgres)"
    )

    async def connect() -> None:
        conn = await asyncpg.connect(url, timeout=10)
        await conn.close()

    try:
        asyncio.run(connect())
    except (OSError, TimeoutError) as exc:
        reason = "connection refused" if isinstance(exc, ConnectionRefusedError) else str(exc) or type(exc).__name__
        return f"PostgreSQL at {where} is not reachable ({reason}); the tests need it: {how}"
    except Exception as exc:  # reachable, but refusing: authentication, a missing database
        return (
            f"PostgreSQL at {where} refused the tests' connection ({exc}); set SWITCHBOARD_TEST_POSTGRES_URL "
            "to a URL it accepts, of a role that may create databases (the tests make their own)"
        )
    return None


def _pg_admin(sql: str) -> None:
    async def run() -> None:
        conn = await asyncpg.connect(PG_URL)
        try:
            await conn.execute(sql)
        finally:
            await conn.close()

    asyncio.run(run())


def _database(backend: str, directory: Path, name: str) -> Iterator[str]:
    """A SQLite file in `directory`, or a uniquely named PostgreSQL database dropped afterwards."""
    if backend == "sqlite":
        yield f"sqlite:///{directory / f'{name}.db'}"
        return
    unique = f"sb_{name}_{uuid.uuid4().hex[:12]}"
    _pg_admin(f'CREATE DATABASE "{unique}"')
    try:
        yield PG_URL.rsplit("/", 1)[0] + f"/{unique}"
    finally:
        _pg_admin(f'DROP DATABASE IF EXISTS "{unique}" WITH (FORCE)')


@pytest.fixture(params=BACKENDS)
def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    yield from _database(request.param, tmp_path, "switchboard")


@pytest.fixture
def source_url(database_url: str, tmp_path: Path) -> Iterator[str]:
    """A database for sql/table actions to write to, on the store's backend (a second database)."""
    yield from _database("sqlite" if database_url.startswith("sqlite") else "postgres", tmp_path, "shop")


ClientFactory = Callable[..., TestClient]


@pytest.fixture
def make_client(database_url: str) -> Iterator[ClientFactory]:
    """Clients on the same store; each one is a separate app, as a separate server process is."""
    opened: list[TestClient] = []

    def make(**settings: Any) -> TestClient:
        config = msgspec.convert({"database_url": database_url, **settings}, Config)
        client = TestClient(create_app(config))
        client.__enter__()
        opened.append(client)
        return client

    yield make
    for client in reversed(opened):
        client.__exit__(None, None, None)


@pytest.fixture
def client(make_client: ClientFactory) -> TestClient:
    return make_client()


def query(
    client: TestClient, type_: str, args: Any = None, headers: dict[str, str] | None = None, **envelope: Any
) -> Any:
    """POST one envelope; returns the httpx response."""
    body = {"type": type_, "args": {} if args is None else args, **envelope}
    return client.post("/v1/query", json=body, headers=headers)


@pytest.fixture
def webhook() -> Iterator[Webhook]:
    hook = Webhook()
    yield hook
    hook.close()


class Served:
    """The app served by a real uvicorn (websockets included) in a thread of its own."""

    def __init__(self, config: Config) -> None:
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.graphql = f"{self.url}/v1/graphql"
        self.websocket = f"ws://127.0.0.1:{self.port}/v1/graphql"
        self.server = uvicorn.Server(
            uvicorn.Config(create_app(config), host="127.0.0.1", port=self.port, log_level="warning")
        )
        self.thread = threading.Thread(target=self.server.run, daemon=True)
        self.thread.start()
        deadline = time.monotonic() + 20
        while not self.server.started:
            assert self.thread.is_alive() and time.monotonic() < deadline, "uvicorn did not start"
            time.sleep(0.02)

    def stop(self) -> None:
        self.server.should_exit = True
        self.thread.join(20)


ServeFactory = Callable[..., Served]


@pytest.fixture
def serve(database_url: str) -> Iterator[ServeFactory]:
    """Servers on the same store, as separate server processes would be."""
    started: list[Served] = []

    def make(**settings: Any) -> Served:
        started.append(Served(msgspec.convert({"database_url": database_url, **settings}, Config)))
        return started[-1]

    yield make
    for served in reversed(started):
        served.stop()
