"""What one client may cost the real server (`switchboard serve`): bodies past the size limit
or too slow, request heads too slow, floods of idle connections, descriptors running out."""

from __future__ import annotations

import logging
import socket
import time
from collections.abc import Iterator
from pathlib import Path

import httpx2 as httpx
import pytest

from rpc.limits import OncePerMinute
from tests.processes import ServerProcess

HEAD = b"POST /v1/query HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerProcess]:
    cwd = tmp_path_factory.mktemp("limits")
    process = ServerProcess(
        cwd,
        database_url=f"sqlite:///{cwd}/sb.db",
        max_body_bytes=1000,
        body_timeout_seconds=1,
        header_timeout_seconds=1,
        max_connections=40,
        log_level="info",
    )
    yield process
    process.stop()


def answer(conn: socket.socket, wait: float = 5.0) -> bytes:
    """What the server sends before it closes the connection (or `wait` seconds pass)."""
    conn.settimeout(wait)
    got = b""
    try:
        while chunk := conn.recv(65536):
            got += chunk
    except TimeoutError:
        pass
    return got


def test_a_declared_body_past_the_limit_is_refused_unread(server: ServerProcess) -> None:
    with socket.create_connection(("127.0.0.1", server.port)) as conn:
        conn.sendall(HEAD + b"Content-Length: 5000000\r\n\r\n")  # and never sends it
        reply = answer(conn)
    assert reply.startswith(b"HTTP/1.1 413"), reply
    assert b'"code":"payload-too-large"' in reply


def test_a_streamed_body_past_the_limit_is_refused(server: ServerProcess) -> None:
    def chunks() -> Iterator[bytes]:
        yield b'{"type": "export_metadata", "args": {"x": "'
        yield b"a" * 2000
        yield b'"}}'

    response = httpx.post(f"{server.url}/v1/query", content=chunks())
    assert response.status_code == 413
    assert response.json()["error"] == "the request body is larger than 1000 bytes"
    small = httpx.post(f"{server.url}/v1/query", json={"type": "export_metadata", "args": {}})
    assert small.status_code == 200


def test_a_body_too_slow_is_refused(server: ServerProcess) -> None:
    with socket.create_connection(("127.0.0.1", server.port)) as conn:
        conn.sendall(HEAD + b"Content-Length: 100\r\n\r\n" + b'{"type": ')
        started = time.monotonic()
        reply = answer(conn)
    assert reply.startswith(b"HTTP/1.1 408"), reply
    assert b'"code":"request-timeout"' in reply
    assert time.monotonic() - started < 4


@pytest.mark.parametrize("drip", [False, True], ids=["silent", "dripping"])
def test_a_head_too_slow_is_cut_off(server: ServerProcess, drip: bool) -> None:
    with socket.create_connection(("127.0.0.1", server.port)) as conn:
        conn.sendall(b"POST /v1/query HTTP/1.1\r\n")
        started = time.monotonic()
        closed = False
        while time.monotonic() - started < 6 and not closed:
            try:
                if drip:
                    conn.sendall(b"X")  # a byte now and then never completes the head
                conn.settimeout(0.3)
                closed = conn.recv(1024) == b""
            except TimeoutError:
                continue
            except OSError:
                closed = True
    assert closed
    assert time.monotonic() - started < 4


def test_a_flood_of_idle_connections_never_keeps_healthz_out(server: ServerProcess) -> None:
    flood = [socket.create_connection(("127.0.0.1", server.port)) for _ in range(200)]
    try:
        for i in range(0, 200, 40):  # half of them slowly sending a head that never ends
            flood[i].sendall(b"GET /healthz HTTP/1.1\r\n")
        response = httpx.get(f"{server.url}/healthz", timeout=5)
        assert response.status_code == 200
        assert httpx.post(f"{server.url}/v1/query", json={"type": "export_metadata", "args": {}}).status_code == 200
    finally:
        for conn in flood:
            conn.close()


def test_running_out_of_descriptors_is_logged_once(tmp_path: Path) -> None:
    """With 256 descriptors the server keeps at most 48 connections, evicting idle ones: a flood
    of hundreds never exhausts them, and /healthz answers throughout."""
    server = ServerProcess(tmp_path, database_url=f"sqlite:///{tmp_path}/sb.db", max_files=256)
    try:
        flood = []
        for _ in range(300):
            try:
                flood.append(socket.create_connection(("127.0.0.1", server.port), timeout=1))
            except OSError:
                break
        assert httpx.get(f"{server.url}/healthz", timeout=5).status_code == 200
        for conn in flood:
            conn.close()
    finally:
        server.stop()
    log = server.log_text()
    assert "max_connections 1000 lowered to 48 and max_websockets 1000 to 48" in log
    assert log.count("out of system resource") + log.count("_start_serving") <= 2


def test_the_descriptor_message_filter_lets_one_a_minute_through() -> None:
    kept = OncePerMinute("out of system resource")
    record = logging.LogRecord(
        "asyncio", logging.ERROR, __file__, 1, "socket.accept() out of system resource", (), None
    )
    assert kept.filter(record)
    assert [kept.filter(record) for _ in range(40_000)].count(True) == 0
    other = logging.LogRecord("asyncio", logging.ERROR, __file__, 1, "something else", (), None)
    assert kept.filter(other)
