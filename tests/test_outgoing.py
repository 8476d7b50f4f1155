"""The server's outgoing HTTP client (handlers/execution/outgoing.py over http11.py) against real
servers on loopback ports written byte by byte, so that each test decides exactly what the
client sees: kept and reused connections, a connection the server closed while idle, redirects,
chunked, gzip and unframed bodies, answers that are not HTTP, timeouts, headers and URLs that
cannot be sent, and TLS checked against the system's trust store (SSL_CERT_FILE here)."""

from __future__ import annotations

import asyncio
import datetime
import gzip
import ipaddress
import ssl
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from handlers.execution import http11
from handlers.execution.outgoing import CallFailed, Outgoing
from handlers.execution.proxies import Proxies

Handler = Callable[[asyncio.StreamReader, asyncio.StreamWriter], Awaitable[None]]


async def read_request(reader: asyncio.StreamReader) -> tuple[str, dict[str, str], bytes]:
    """One request: its request line, headers (names lowercased) and body (by Content-Length)."""
    head = (await reader.readuntil(b"\r\n\r\n")).decode("latin-1")
    line, *fields = head.split("\r\n")[:-2]
    headers = {name.lower(): value.strip() for name, _, value in (f.partition(":") for f in fields)}
    body = await reader.readexactly(int(headers.get("content-length", 0)))
    return line, headers, body


def answer(status: int, body: bytes = b"{}", *headers: str) -> bytes:
    lines = [f"HTTP/1.1 {status} X", f"Content-Length: {len(body)}", *headers, "", ""]
    return "\r\n".join(lines).encode() + body


class Server:
    """A server on a loopback port running `handler` for each connection it accepts."""

    def __init__(self, handler: Handler, tls: ssl.SSLContext | None = None) -> None:
        self.handler, self.tls = handler, tls
        self.connections = 0
        self.requests: list[tuple[str, dict[str, str], bytes]] = []

    async def __aenter__(self) -> Server:
        async def accepted(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
            self.connections += 1
            try:
                await self.handler(reader, writer)
            except (asyncio.IncompleteReadError, ConnectionError):
                pass
            finally:
                writer.close()

        self.server = await asyncio.start_server(accepted, "127.0.0.1", 0, ssl=self.tls)
        self.port = self.server.sockets[0].getsockname()[1]
        return self

    async def __aexit__(self, *exc: object) -> None:
        self.server.close()

    def url(self, path: str = "/hook", scheme: str = "http") -> str:
        return f"{scheme}://127.0.0.1:{self.port}{path}"

    async def read(self, reader: asyncio.StreamReader) -> tuple[str, dict[str, str], bytes]:
        request = await read_request(reader)
        self.requests.append(request)
        return request


def run(test: Callable[[], Awaitable[Any]]) -> Any:
    return asyncio.run(asyncio.wait_for(test(), 30))


async def post(url: str, body: bytes = b'{"n": 1}', headers: dict[str, str] | None = None, timeout: float = 5) -> Any:
    outgoing = Outgoing(Proxies({}))
    try:
        return await outgoing.send("POST", url, headers or {"Content-Type": "application/json"}, body, timeout)
    finally:
        outgoing.close()


def test_connections_are_kept_and_reused() -> None:
    async def test() -> None:
        async def handler(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
            while True:
                _, _, body = await server.read(reader)
                writer.write(answer(200, body))

        async with Server(handler) as server:
            outgoing = Outgoing(Proxies({}))
            replies = [await outgoing.send("POST", server.url(), {}, b'{"n": %d}' % n, 5) for n in range(3)]
            outgoing.close()
        assert [r.body for r in replies] == [b'{"n": 0}', b'{"n": 1}', b'{"n": 2}']
        assert server.connections == 1
        line, headers, _ = server.requests[0]
        assert line == "POST /hook HTTP/1.1"
        assert headers["host"] == f"127.0.0.1:{server.port}"
        assert headers["content-length"] == "8"

    run(test)


def test_idle_connections_are_closed_after_a_while_whichever_host_is_called_next(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(http11, "IDLE_SECONDS", 0.2)

    async def test() -> None:
        closed = asyncio.Event()

        async def first(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
            await a.read(reader)
            writer.write(answer(200))
            await reader.read()  # until the client closes the connection it kept
            closed.set()

        async def other(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
            while True:
                await b.read(reader)
                writer.write(answer(200))

        async with Server(first) as a, Server(other) as b:
            outgoing = Outgoing(Proxies({}))
            await outgoing.send("POST", a.url(), {}, b"{}", 5)
            await outgoing.send("POST", b.url(), {}, b"{}", 5)
            assert not closed.is_set()  # kept, for a while
            await asyncio.sleep(0.3)
            await outgoing.send("POST", b.url(), {}, b"{}", 5)
            await asyncio.wait_for(closed.wait(), 5)
            outgoing.close()

    run(test)


def test_a_kept_connection_the_server_closed_is_replaced_and_the_call_sent_again() -> None:
    """A server may close an idle connection as the next call is sent on it: it never read that
    call, so the call goes once more, on a new connection."""

    async def test() -> None:
        async def handler(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
            await server.read(reader)
            writer.write(answer(200, b'{"first": true}'))
            await server.read(reader)  # the next call on this connection: hung up on, unanswered

        async with Server(handler) as server:
            outgoing = Outgoing(Proxies({}))
            first = await outgoing.send("POST", server.url(), {}, b"{}", 5)
            second = await outgoing.send("POST", server.url(), {}, b"{}", 5)
            outgoing.close()
        assert (first.status, second.status) == (200, 200)
        assert server.connections == 2
        assert len(server.requests) == 3

    run(test)


@pytest.mark.parametrize("version", ["1.1", "1.0"])
def test_a_call_the_server_hung_up_on_after_answering_part_is_not_sent_again(version: str) -> None:
    async def test() -> None:
        async def handler(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
            await server.read(reader)
            writer.write(b"HTTP/%s 200 OK\r\nContent-Length: 10\r\n\r\n{" % version.encode())

        async with Server(handler) as server:
            with pytest.raises(CallFailed) as failed:
                await post(server.url())
        assert failed.value.message == "Connection failure"
        assert len(server.requests) == 1

    run(test)


def test_redirects_are_followed_as_aiohttp_did() -> None:
    async def test() -> None:
        async def handler(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
            while True:
                line, _, body = await server.read(reader)
                path = line.split()[1]
                if path == "/hook":
                    writer.write(answer(307, b"", "Location: /kept"))
                elif path == "/kept":
                    writer.write(answer(303, b"", f"Location: {server.url('/seen')}"))
                elif path == "/loop":
                    writer.write(answer(302, b"", "Location: /loop"))
                else:
                    writer.write(answer(200, line.encode() + b" " + body))

        async with Server(handler) as server:
            reply = await post(server.url(), body=b'{"n": 1}')
            # 307 keeps the method and body; 303 goes on as a GET without them.
            assert [(r[0], r[2]) for r in server.requests] == [
                ("POST /hook HTTP/1.1", b'{"n": 1}'),
                ("POST /kept HTTP/1.1", b'{"n": 1}'),
                ("GET /seen HTTP/1.1", b""),
            ]
            assert reply.body == b"GET /seen HTTP/1.1 "
            with pytest.raises(CallFailed) as failed:
                await post(server.url("/loop"))
            assert failed.value.message == "Too many redirects"

    run(test)


@pytest.mark.parametrize(
    "raw",
    [
        b'HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n4\r\n{"n"\r\n3\r\n: 1\r\n1\r\n}\r\n0\r\n\r\n',
        b"HTTP/1.1 200 OK\r\nContent-Encoding: gzip\r\nContent-Length: %d\r\n\r\n%s"
        % (len(gzip.compress(b'{"n": 1}')), gzip.compress(b'{"n": 1}')),
        b'HTTP/1.1 200 OK\r\nConnection: close\r\n\r\n{"n": 1}',  # the body ends with the connection
        b'HTTP/1.0 200 OK\r\n\r\n{"n": 1}',
    ],
    ids=["chunked", "gzip", "until-close", "http-1.0"],
)
def test_bodies_however_framed(raw: bytes) -> None:
    async def test() -> None:
        async def handler(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
            await server.read(reader)
            writer.write(raw)
            if b"Content-Length" not in raw and b"chunked" not in raw:
                writer.close()

        async with Server(handler) as server:
            assert (await post(server.url())).body == b'{"n": 1}'

    run(test)


def test_headers_come_back_as_written_and_in_order() -> None:
    async def test() -> None:
        async def handler(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
            await server.read(reader)
            writer.write(answer(200, b"{}", "Set-Cookie: a=1", "X-Trace: t", "set-cookie: b=2"))

        async with Server(handler) as server:
            reply = await post(server.url())
        assert reply.headers[1:] == [("Set-Cookie", "a=1"), ("X-Trace", "t"), ("set-cookie", "b=2")]
        assert reply.headers_named("SET-COOKIE") == ["a=1", "b=2"]

    run(test)


def test_an_answer_that_is_not_http() -> None:
    async def test() -> None:
        async def handler(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
            await server.read(reader)
            writer.write(b"SSH-2.0-OpenSSH_9.2\r\n")

        async with Server(handler) as server:
            with pytest.raises(CallFailed) as failed:
                await post(server.url())
        assert failed.value.message == "HTTP Exception occurred."
        assert "not HTTP" in failed.value.detail

    run(test)


def test_a_timeout_drops_the_connection() -> None:
    async def test() -> None:
        async def handler(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
            await server.read(reader)
            await asyncio.sleep(0.5)
            writer.write(answer(200))
            await server.read(reader)
            writer.write(answer(200, b'{"late": false}'))

        async with Server(handler) as server:
            outgoing = Outgoing(Proxies({}))
            with pytest.raises(TimeoutError):
                await outgoing.send("POST", server.url(), {}, b"{}", 0.1)
            # The next call does not read the late answer to the first: it has a connection of its own.
            reply = await outgoing.send("POST", server.url(), {}, b"{}", 5)
            outgoing.close()
        assert reply.body == b"{}"
        assert server.connections == 2

    run(test)


@pytest.mark.parametrize(
    ("url", "headers"),
    [
        ("http://127.0.0.1:{port}/hook", {"X-Bad": "a\rb"}),
        ("http://127.0.0.1:{port}/hook", {"X-Bad": "a\x01b"}),
        ("http://127.0.0.1:{port}/hook", {"Bad Name": "x"}),
        ("//127.0.0.1:{port}/hook", {}),
        ("ftp://127.0.0.1:{port}/hook", {}),
        ("http://127.0.0.1:99999/hook", {}),
    ],
)
def test_what_cannot_be_sent_is_refused_before_anything_is_sent(url: str, headers: dict[str, str]) -> None:
    async def test() -> None:
        async def handler(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
            await server.read(reader)

        async with Server(handler) as server:
            with pytest.raises(CallFailed) as failed:
                await post(url.format(port=server.port), headers=headers)
        assert failed.value.message == "HTTP Exception occurred."
        assert server.connections == 0

    run(test)


def test_the_url_s_credentials_path_and_query_as_sent() -> None:
    async def test() -> None:
        async def handler(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
            await server.read(reader)
            writer.write(answer(200))

        async with Server(handler) as server:
            await post(f"http://bot:p%40ss@127.0.0.1:{server.port}/a b/ü?q=1 2&r=%41#fragment")
        line, headers, _ = server.requests[0]
        assert line == "POST /a%20b/%C3%BC?q=1%202&r=%41 HTTP/1.1"
        assert headers["authorization"] == "Basic Ym90OnBAc3M="  # bot:p@ss
        assert headers["host"] == f"127.0.0.1:{server.port}"

    run(test)


def test_host_and_framing_headers_given_by_a_definition() -> None:
    """A transform may set Host (sent instead of the URL's); Content-Length and Transfer-Encoding
    are the client's to write, from the body it sends."""

    async def test() -> None:
        async def handler(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
            await server.read(reader)
            writer.write(answer(200))

        async with Server(handler) as server:
            given = {"HOST": "api.example.test", "content-length": "999", "Transfer-Encoding": "chunked"}
            await post(server.url(), body=b"{}", headers=given)
        _, headers, body = server.requests[0]
        assert (headers["host"], headers["content-length"], body) == ("api.example.test", "2", b"{}")
        assert "transfer-encoding" not in headers

    run(test)


def test_a_server_that_is_not_there() -> None:
    async def test() -> None:
        async with Server(lambda r, w: asyncio.sleep(0)) as server:
            url = server.url()
        with pytest.raises(CallFailed) as failed:
            await post(url)
        assert failed.value.message == "Connection failure"

    run(test)


def _certificate(directory: Path) -> ssl.SSLContext:
    """A self-signed certificate for 127.0.0.1: its server context; the certificate in ca.pem."""
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "switchboard test")])
    now = datetime.datetime.now(datetime.UTC)
    certificate = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(hours=1))
        .add_extension(x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]), False)
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), True)
        .sign(key, hashes.SHA256())
    )
    (directory / "ca.pem").write_bytes(certificate.public_bytes(serialization.Encoding.PEM))
    (directory / "key.pem").write_bytes(
        key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())
    )
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(directory / "ca.pem", directory / "key.pem")
    return context


def test_tls_is_checked_against_the_trust_store(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    tls = _certificate(tmp_path)

    async def test() -> None:
        async def handler(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
            await server.read(reader)
            writer.write(answer(200, b'{"secure": true}'))

        async with Server(handler, tls=tls) as server:
            url = server.url(scheme="https")
            with pytest.raises(CallFailed) as failed:  # a certificate no one vouches for
                await post(url)
            assert failed.value.message == "Connection failure"
            assert "CERTIFICATE_VERIFY_FAILED" in failed.value.detail
            monkeypatch.setenv("SSL_CERT_FILE", str(tmp_path / "ca.pem"))  # now trusted
            assert (await post(url)).body == b'{"secure": true}'

    run(test)
