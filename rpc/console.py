"""The console: a web page at /console to manage and run actions, and the public action forms.

The console is a client of /v1/query like any script (the browser calls it with fetch), so it can
do nothing a script cannot; the server serves its files, points GET / at it, and tells a fresh tab
whether to ask for credentials (GET /console/session). The files under rpc/console_assets/ are
installed with the package and served as they are: no build step. Its libraries are vendored at
exact versions by scripts/vendor_console.py (graphiql's browser build among them, for the GraphiQL
page, which talks to /v1/graphql and its websocket with the signed-in credentials).

GET /public/action/<uuid> (Metabase's URL for a public action) is the form anyone with the link
may fill in, without signing in: the page reads what to draw from GET /public/action/<uuid>/form
(the action's name, description and arguments, with the input types they use, and nothing of any
other action) and submits through run_public_action, like any caller of the link: the same rate
limit, permission and input checks, and execution. An unknown uuid, a dropped link or action, or
public sharing turned off answer 404 with a page saying the link no longer works.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import msgspec
from starlette.requests import Request
from starlette.responses import FileResponse, JSONResponse, RedirectResponse, Response
from starlette.routing import BaseRoute, Mount, Route
from starlette.staticfiles import StaticFiles
from starlette.types import Scope

from handlers.context import Runtime
from handlers.execution.executors import executor
from handlers.execution.signature import used_types
from handlers.metabase.execute import destinations
from handlers.operations.public_links import linked_action
from metadata.actions import Action
from metadata.errors import NotExists, SwitchboardError
from metadata.metabase import MetabaseAction

ASSETS = Path(__file__).parent / "console_assets"

# The page runs only its own scripts and talks only to its own server: an injected script could
# not run, nor send the admin secret (kept in sessionStorage) elsewhere. (GraphiQL's stylesheet
# carries its fonts as data: URLs.)
HEADERS = {
    "Content-Security-Policy": (
        "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; font-src 'self' data:; "
        "connect-src 'self'; object-src 'none'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'"
    ),
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
    # Files keep their names across versions: revalidate (ETag) so an upgrade is seen at once.
    "Cache-Control": "no-cache",
}
# What a public form's page says of a link that does not work (any reason: no other is told).
GONE = {"error": "this link no longer works", "code": "not-exists"}
# Metabase's words after a public form is sent, when the action sets no successMessage.
THANKS = "Thanks for your submission."


class ConsoleFiles(StaticFiles):
    async def get_response(self, path: str, scope: Scope) -> Response:
        response = await super().get_response(path, scope)
        response.headers.update(HEADERS)
        return response


async def _to_console(request: Request) -> Response:
    return RedirectResponse("/console/", status_code=307)


async def _session(request: Request) -> Response:
    """Whether the console must ask for credentials: without an admin secret every caller is
    admin (as Hasura's console opens). Answered with a 200 either way, so that a fresh tab's
    first look is no refusal (the browser would log a 401 as an error)."""
    asks = request.app.state.config.admin_secret is not None
    return JSONResponse({"credentials": "required" if asks else "none"}, headers=HEADERS)


async def _linked(runtime: Runtime, uuid: str) -> tuple[Action, MetabaseAction | None] | None:
    """The action a public link opens, and its Metabase fields; None: the link does not work."""
    try:
        action = await linked_action(runtime, uuid)
    except NotExists:
        return None
    fields = runtime.store.state.get("metabase_action", action.name)
    fields = fields if isinstance(fields, MetabaseAction) else None
    if fields is not None and fields.archived:  # as Metabase: an archived action's link is gone
        return None
    return action, fields


async def public_form(runtime: Runtime, uuid: str) -> dict[str, Any] | None:
    """What a public action's form shows: its name and description, its arguments (those
    run_action checks input against: a table action's derived from its table) with the input
    types they use, each field's label, placeholder and hint from Metabase's settings, the
    values of the fields Metabase hides, and the message once sent. None: the link does not work."""
    linked = await _linked(runtime, uuid)
    if linked is None:
        return None
    declared, fields = linked
    view = runtime.store.state
    runner = executor(declared)
    action = declared if runner.signature is None else await runner.signature(runtime, declared, view)
    settings: dict[str, Any] = {}
    if fields is not None:
        shown = fields.visualization_settings.get("fields")
        settings = shown if isinstance(shown, dict) else {}
    # Metabase keeps a field's settings under its parameter's id (or its template tag's).
    parameters_of: dict[str, list[str]] = {}
    for pid, name in destinations(action, fields).items():
        parameters_of.setdefault(name, []).append(pid)
    arguments: list[dict[str, Any]] = []
    hidden: dict[str, Any] = {}
    for argument in msgspec.to_builtins(action.definition.arguments):
        found = [
            settings[pid] for pid in parameters_of.get(argument["name"], []) if isinstance(settings.get(pid), dict)
        ]
        setting: dict[str, Any] = found[0] if found else {}
        if setting.get("hidden") is True:
            if setting.get("defaultValue") is not None:
                hidden[argument["name"]] = setting["defaultValue"]
            continue
        for key, given in (("label", "title"), ("placeholder", "placeholder"), ("description", "description")):
            if isinstance(setting.get(given), str) and setting[given]:
                argument[key] = setting[given]
        arguments.append(argument)
    visible = [a["type"] for a in arguments]
    types = used_types(view, visible)
    message = fields.visualization_settings.get("successMessage") if fields is not None else None
    return {
        "name": fields.name if fields is not None else declared.name,
        "description": (fields.description if fields is not None else None) or declared.comment,
        "arguments": arguments,
        "types": {k: v for k, v in types.items() if k in ("input_objects", "scalars", "enums")},
        "hidden": hidden,
        "success_message": message if isinstance(message, str) and message.strip() else THANKS,
    }


async def _public_page(request: Request) -> Response:
    linked = await _linked(request.app.state.runtime, request.path_params["uuid"])
    if linked is None:
        return FileResponse(ASSETS / "public_gone.html", status_code=404, headers=HEADERS)
    return FileResponse(ASSETS / "public.html", headers=HEADERS)


async def _public_form(request: Request) -> Response:
    try:
        form = await public_form(request.app.state.runtime, request.path_params["uuid"])
    except SwitchboardError as exc:  # a table action whose table cannot be read just now
        body = {"error": "this form cannot be shown just now; try again later", "code": exc.code}
        return JSONResponse(body, status_code=503, headers=HEADERS)
    if form is None:
        return JSONResponse(GONE, status_code=404, headers=HEADERS)
    return JSONResponse(form, headers=HEADERS)


def console_routes() -> list[BaseRoute]:
    return [
        Route("/", _to_console, methods=["GET", "HEAD"]),
        Route("/console/session", _session, methods=["GET"]),
        Route("/public/action/{uuid}", _public_page, methods=["GET", "HEAD"]),
        Route("/public/action/{uuid}/form", _public_form, methods=["GET"]),
        Mount("/console", ConsoleFiles(directory=ASSETS, html=True), name="console"),
    ]
