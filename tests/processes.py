"""`switchboard serve` as a real process, for tests that need one (restarts, SIGKILL, several
servers on one store)."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import httpx2 as httpx

SWITCHBOARD = str(Path(sys.executable).with_name("switchboard"))


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class ServerProcess:
    def __init__(self, cwd: Path, *serve_args: str, log: Path | None = None, **settings: Any) -> None:
        """`log`: a file for the server's stderr (else it is the test's)."""
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        env = {k: v for k, v in os.environ.items() if not k.startswith("SWITCHBOARD_")}
        env |= {"SWITCHBOARD_LOG_LEVEL": "warning"}
        env |= {f"SWITCHBOARD_{k.upper()}": str(v) for k, v in settings.items()}
        env |= {"SWITCHBOARD_PORT": str(self.port)}
        stderr = None if log is None else log.open("ab")
        self.process = subprocess.Popen([SWITCHBOARD, "serve", *serve_args], cwd=cwd, env=env, stderr=stderr)
        if stderr is not None:
            stderr.close()  # the child has its own copy
        for _ in range(200):
            try:
                if httpx.get(f"{self.url}/healthz").status_code == 200:
                    return
            except httpx.TransportError:
                time.sleep(0.05)
        self.stop()
        raise AssertionError("server did not start")

    def query(self, type_: str, args: Any = None, **extra: Any) -> Any:
        response = httpx.post(f"{self.url}/v1/query", json={"type": type_, "args": args or {}, **extra}, timeout=30)
        return response.json()

    def kill(self) -> None:
        self.process.send_signal(signal.SIGKILL)
        self.process.wait(10)

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.terminate()
            self.process.wait(15)
