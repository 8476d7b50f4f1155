"""One packet per answer: a transport whose writes in one turn of the event loop go out together.

uvicorn writes an answer's head and its body with two `transport.write` calls, so every answer
was two system calls and two packets; on loopback the first alone was a third of the server's CPU
per synchronous run (py-spy, bench/run_action.py). Held until the end of the loop's turn (a
`call_soon`), they go out as one. Closing sends what is held first; aborting drops it.
"""

from __future__ import annotations

import asyncio
from typing import Any


class CoalescingTransport:
    def __init__(self, transport: asyncio.Transport, loop: asyncio.AbstractEventLoop) -> None:
        self._transport, self._loop = transport, loop
        self._held: list[bytes] | None = None

    def write(self, data: bytes | bytearray | memoryview) -> None:
        if self._held is None:
            self._held = [bytes(data)]
            self._loop.call_soon(self._flush)
        else:
            self._held.append(bytes(data))

    def writelines(self, lines: Any) -> None:
        for data in lines:
            self.write(data)

    def _flush(self) -> None:
        held, self._held = self._held, None
        if held and not self._transport.is_closing():
            self._transport.write(held[0] if len(held) == 1 else b"".join(held))

    def is_closing(self) -> bool:
        return self._transport.is_closing()

    def get_write_buffer_size(self) -> int:
        return self._transport.get_write_buffer_size() + sum(map(len, self._held or ()))

    def write_eof(self) -> None:
        self._flush()
        self._transport.write_eof()

    def close(self) -> None:
        self._flush()
        self._transport.close()

    def abort(self) -> None:
        self._held = None
        self._transport.abort()

    def __getattr__(self, name: str) -> Any:  # the rest (extra info, reading, the protocol) as is
        return getattr(self._transport, name)
