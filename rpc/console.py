"""The console: a web page at /console to manage and run actions.

It is a client of /v1/query like any script (the browser calls it with fetch), so it can do
nothing a script cannot; the server only serves its files and points GET / at it. The files
under rpc/console_assets/ are installed with the package and served as they are: no build step.
Its libraries are vendored at exact versions by scripts/vendor_console.py.
"""

from __future__ import annotations

from pathlib import Path

from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.routing import BaseRoute, Mount, Route
from starlette.staticfiles import StaticFiles
from starlette.types import Scope

ASSETS = Path(__file__).parent / "console_assets"

# The page runs only its own scripts and talks only to its own server: an injected script could
# not run, nor send the admin secret (kept in sessionStorage) elsewhere.
HEADERS = {
    "Content-Security-Policy": (
        "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
        "connect-src 'self'; object-src 'none'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'"
    ),
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
    # Files keep their names across versions: revalidate (ETag) so an upgrade is seen at once.
    "Cache-Control": "no-cache",
}


class ConsoleFiles(StaticFiles):
    async def get_response(self, path: str, scope: Scope) -> Response:
        response = await super().get_response(path, scope)
        response.headers.update(HEADERS)
        return response


async def _to_console(request: Request) -> Response:
    return RedirectResponse("/console/", status_code=307)


def console_routes() -> list[BaseRoute]:
    return [
        Route("/", _to_console, methods=["GET", "HEAD"]),
        Mount("/console", ConsoleFiles(directory=ASSETS, html=True), name="console"),
    ]
