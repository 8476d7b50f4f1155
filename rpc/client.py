"""The CLI's HTTP client for a running server: one `POST /v1/query` per call."""

from __future__ import annotations

import asyncio
import json
from typing import Any

import aiohttp

TIMEOUT_SECONDS = 120


class ServerError(Exception):
    """The server refused a request: its status and Hasura error body `{path, error, code}`."""

    def __init__(self, status: int, body: Any) -> None:
        self.status = status
        self.body = body if isinstance(body, dict) else {"error": str(body)}
        super().__init__(self.body.get("error", f"HTTP {status}"))


class ConnectionFailed(Exception):
    """The server could not be reached or did not answer JSON."""


class Client:
    def __init__(self, endpoint: str, admin_secret: str | None = None, api_key: str | None = None) -> None:
        self.url = endpoint.rstrip("/") + "/v1/query"
        self.admin_secret = admin_secret
        self.api_key = api_key

    def query(self, type_: str, args: Any = None, *, role: str | None = None, **extra: Any) -> Any:
        """The answer of one envelope; raises ServerError on a non-2xx answer."""
        headers = {"Content-Type": "application/json"}
        if self.admin_secret:
            headers["X-Hasura-Admin-Secret"] = self.admin_secret
        if self.api_key:
            headers["X-Api-Key"] = self.api_key
        if role:
            headers["X-Hasura-Role"] = role
        body = json.dumps({"type": type_, "args": {} if args is None else args, **extra})
        status, text = asyncio.run(self._post(body, headers))
        try:
            answer = json.loads(text)
        except ValueError:
            raise ConnectionFailed(f"{self.url} answered {status} with non-JSON: {text[:200]!r}") from None
        if status >= 300:
            raise ServerError(status, answer)
        return answer

    async def _post(self, body: str, headers: dict[str, str]) -> tuple[int, str]:
        try:
            timeout = aiohttp.ClientTimeout(total=TIMEOUT_SECONDS)
            async with (
                aiohttp.ClientSession(timeout=timeout) as session,
                session.post(self.url, data=body, headers=headers) as response,
            ):
                return response.status, await response.text()
        except (aiohttp.ClientError, TimeoutError, ValueError) as exc:
            raise ConnectionFailed(f"cannot reach {self.url}: {exc or type(exc).__name__}") from None
