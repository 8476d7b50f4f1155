"""An aiohttp server on a free loopback port, in a thread of its own with its own event loop:
the base of the tests' real webhook, proxy and OTLP receiver. A subclass says what it serves
(`app`: an aiohttp Application or low-level Server); `port` is known once the constructor returns."""

from __future__ import annotations

import asyncio
import threading
from abc import ABC, abstractmethod

from aiohttp import web


class LoopbackServer(ABC):
    def __init__(self) -> None:
        self.loop = asyncio.new_event_loop()
        self.port = 0
        started = threading.Event()
        self.thread = threading.Thread(target=self._serve, args=(started,), daemon=True)
        self.thread.start()
        assert started.wait(10), f"{type(self).__name__} did not start"

    @abstractmethod
    def app(self) -> web.Application | web.Server:
        """What this server serves (called on its own thread, with its loop set)."""

    def _serve(self, started: threading.Event) -> None:
        asyncio.set_event_loop(self.loop)

        async def start() -> web.BaseRunner:
            served = self.app()
            runner: web.BaseRunner = (
                web.AppRunner(served, access_log=None)
                if isinstance(served, web.Application)
                else web.ServerRunner(served)
            )
            await runner.setup()
            site = web.TCPSite(runner, "127.0.0.1", 0)
            await site.start()
            self.port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
            return runner

        self.runner = self.loop.run_until_complete(start())
        started.set()
        self.loop.run_forever()

    def close(self) -> None:
        asyncio.run_coroutine_threadsafe(self.runner.cleanup(), self.loop).result(10)
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join(10)
