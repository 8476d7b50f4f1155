"""`switchboard serve` as a real process, for tests that need one (restarts, SIGKILL, several
servers on one store)."""

from __future__ import annotations

import os
import resource
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


def _limit_files(count: int) -> None:
    resource.setrlimit(resource.RLIMIT_NOFILE, (count, count))


class ServerProcess:
    def __init__(
        self,
        cwd: Path,
        *serve_args: str,
        log: Path | None = None,
        env: dict[str, str] | None = None,
        port: int | None = None,
        max_files: int | None = None,
        **settings: Any,
    ) -> None:
        """`log`: the file the server logs to (else server-<port>.log in `cwd`); `env`: the
        environment it starts in, as given (else this process's without its SWITCHBOARD_*
        variables); `settings` are set as SWITCHBOARD_* variables over it; `max_files`: the
        process's file descriptor limit (soft and hard)."""
        self.port = port or free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        # query() calls as admin, with the secret when the server has one.
        self.headers = {"x-hasura-admin-secret": str(settings["admin_secret"])} if "admin_secret" in settings else {}
        if env is None:
            env = {k: v for k, v in os.environ.items() if not k.startswith("SWITCHBOARD_")}
        env = dict(env)
        env |= {"SWITCHBOARD_LOG_LEVEL": "warning"}
        env |= {f"SWITCHBOARD_{k.upper()}": str(v) for k, v in settings.items()}
        env |= {"SWITCHBOARD_PORT": str(self.port)}
        # What the server logs, for tests that check it (and for reading after a failure).
        self.log = log or cwd / f"server-{self.port}.log"
        with self.log.open("ab") as output:
            self.process = subprocess.Popen(
                [SWITCHBOARD, "serve", *serve_args],
                cwd=cwd,
                env=env,
                stdout=output,
                stderr=subprocess.STDOUT,
                preexec_fn=None if max_files is None else lambda: _limit_files(max_files),
            )
        for _ in range(200):
            try:
                if httpx.get(f"{self.url}/healthz").status_code == 200:
                    return
            except httpx.TransportError:
                time.sleep(0.05)
        self.stop()
        raise AssertionError("server did not start")

    def log_text(self) -> str:
        return self.log.read_text(errors="replace")

    def query(self, type_: str, args: Any = None, headers: dict[str, str] | None = None, **extra: Any) -> Any:
        body = {"type": type_, "args": args or {}, **extra}
        response = httpx.post(f"{self.url}/v1/query", json=body, headers=headers or self.headers, timeout=30)
        return response.json()

    def kill(self) -> None:
        self.process.send_signal(signal.SIGKILL)
        self.process.wait(10)

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.terminate()
            self.process.wait(15)
