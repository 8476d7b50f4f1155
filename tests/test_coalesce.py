"""rpc/coalesce.py over a real TCP connection: the writes of one turn of the event loop are held
and go out together at its end (uvicorn's head and body of an answer, as one packet); closing
sends what is held, aborting drops it. Every other test's HTTP answer also goes through it."""

from __future__ import annotations

import asyncio

from rpc.coalesce import CoalescingTransport


async def connected() -> tuple[CoalescingTransport, asyncio.StreamReader, asyncio.Server]:
    accepted: asyncio.Future[asyncio.StreamReader] = asyncio.get_running_loop().create_future()

    async def on_accept(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        accepted.set_result(reader)
        await asyncio.sleep(5)

    server = await asyncio.start_server(on_accept, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    loop = asyncio.get_running_loop()
    transport, _ = await loop.create_connection(asyncio.Protocol, "127.0.0.1", port)
    return CoalescingTransport(transport, loop), await accepted, server


def test_writes_of_one_turn_go_out_together_at_its_end() -> None:
    async def test() -> None:
        transport, peer, server = await connected()
        transport.write(b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\n")
        transport.write(b"{}")
        assert transport.get_write_buffer_size() == 40  # held, not yet written
        assert transport.get_extra_info("peername")[0] == "127.0.0.1"  # the rest is the transport's
        await asyncio.sleep(0)
        assert transport.get_write_buffer_size() == 0
        assert await peer.readexactly(40) == b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\n{}"
        transport.write(b"last")
        transport.close()  # what is held goes first
        assert await peer.read() == b"last"
        server.close()

    asyncio.run(asyncio.wait_for(test(), 10))


def test_abort_drops_what_is_held() -> None:
    async def test() -> None:
        transport, peer, server = await connected()
        transport.write(b"never")
        transport.abort()
        await asyncio.sleep(0)
        assert await peer.read() == b""
        server.close()

    asyncio.run(asyncio.wait_for(test(), 10))
