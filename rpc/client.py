"""The CLI's HTTP client for a running server: one `POST /v1/query` per call.

It uses the standard library's http.client: the CLI makes one request per command, and importing
aiohttp (and an event loop) for it cost more time than the request itself.
"""

from __future__ import annotations

import http.client
import json
from typing import Any
from urllib.parse import urlsplit

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
        status, text = self._post(body.encode(), headers)
        try:
            answer = json.loads(text)
        except ValueError:
            raise ConnectionFailed(f"{self.url} answered {status} with non-JSON: {text[:200]!r}") from None
        if status >= 300:
            raise ServerError(status, answer)
        return answer

    def _post(self, body: bytes, headers: dict[str, str]) -> tuple[int, str]:
        url = urlsplit(self.url)
        try:
            port = url.port
        except ValueError:
            port = -1
        if url.scheme not in ("http", "https") or not url.hostname or port == -1:
            raise ConnectionFailed(f"cannot reach {self.url}: not an http(s) URL")
        connection_class = http.client.HTTPSConnection if url.scheme == "https" else http.client.HTTPConnection
        connection = connection_class(url.hostname, port, timeout=TIMEOUT_SECONDS)
        path = url.path + (f"?{url.query}" if url.query else "")
        try:
            connection.request("POST", path, body=body, headers=headers)
            response = connection.getresponse()
            return response.status, response.read().decode("utf-8", errors="replace")
        except (OSError, http.client.HTTPException) as exc:
            raise ConnectionFailed(f"cannot reach {self.url}: {exc or type(exc).__name__}") from None
        finally:
            connection.close()
