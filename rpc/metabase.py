"""/api/...: Metabase's REST API, a second front door as thin as /v1/graphql (handlers/metabase/).

Credentials are a session (`X-Metabase-Session`, or the `metabase.SESSION` cookie `POST
/api/session` sets) or an API key (`X-Api-Key`); the admin secret is not one. Answers follow
Metabase's conventions: the resource itself as JSON, 204 with no body, and errors as Metabase
gives them (text/plain `Unauthenticated`, `You don't have permissions to do that.`, `Not found.`;
JSON `{"errors": {...}}` or `{"message": ...}`). An unknown /api path is 404 `API endpoint does
not exist.`. Bodies are read under `max_body_bytes`, as everywhere.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

from starlette.requests import ClientDisconnect, Request
from starlette.responses import PlainTextResponse, Response
from starlette.routing import BaseRoute, Route

from handlers.metabase import accounts, actions, databases, execute, models
from handlers.metabase.errors import MetabaseError, NotFound, from_switchboard
from handlers.metabase.service import Caller, Metabase
from handlers.telemetry import note_operation, note_role
from metadata.errors import SwitchboardError
from metadata.metabase_ids import MAX_ID
from rpc.config import Config
from rpc.limits import read_body
from rpc.responses import bug_response, json_response

SESSION_HEADER = "x-metabase-session"
SESSION_COOKIE = "metabase.SESSION"

Handler = Callable[[Request, Caller | None, bytes], Awaitable[Any]]


def _token(request: Request) -> str | None:
    return request.headers.get(SESSION_HEADER) or request.cookies.get(SESSION_COOKIE)


def _id(request: Request, name: str = "id") -> int:
    value = request.path_params[name]
    if not isinstance(value, int) or value > MAX_ID:  # ids are 32-bit: a larger one names nothing
        raise NotFound()
    return value


def _rendered(result: Any) -> Response:
    if isinstance(result, Response):
        return result
    if result is None or result is execute.NO_CONTENT:
        return Response(status_code=204)
    return json_response(result)


def _error(exc: MetabaseError) -> Response:
    if isinstance(exc.body, str):
        return PlainTextResponse(exc.body, exc.status, headers=exc.headers)
    return json_response(exc.body, exc.status, exc.headers)


def metabase_routes(mb: Metabase, config: Config) -> list[BaseRoute]:
    def route(path: str, method: str, name: str, handler: Handler, signed_in: bool = True) -> Route:
        async def endpoint(request: Request) -> Response:
            note_operation(f"api:{name}")
            try:
                caller = await mb.caller(_token(request), request.headers.get("x-api-key")) if signed_in else None
                if caller is not None:
                    note_role(caller.session.role)
                body = await read_body(request, config.max_body_bytes) if method in ("POST", "PUT") else b""
                return _rendered(await handler(request, caller, body))
            except MetabaseError as exc:
                return _error(exc)
            except SwitchboardError as exc:
                return _error(from_switchboard(exc))
            except ClientDisconnect:
                return Response(status_code=400)
            except Exception as exc:  # a bug: logged, and answered without internals
                return bug_response(exc)

        return Route(path, endpoint, methods=[method], name=f"metabase:{name}")

    def caller(c: Caller | None) -> Caller:
        assert c is not None
        return c

    async def login(request: Request, _: Caller | None, body: bytes) -> Response:
        address = request.client.host if request.client else "-"
        answer, token = await accounts.login(mb, body, address)
        response = json_response(answer)
        response.set_cookie(SESSION_COOKIE, token, httponly=True, samesite="lax", path="/")
        response.set_cookie("metabase.TIMEOUT", "alive", samesite="lax", path="/")
        return response

    async def logout(request: Request, _: Caller | None, body: bytes) -> Response:
        await accounts.logout(mb, _token(request))
        response = Response(status_code=204)
        response.delete_cookie(SESSION_COOKIE, path="/")
        response.delete_cookie("metabase.TIMEOUT", path="/")
        return response

    def query(request: Request) -> dict[str, str]:
        return dict(request.query_params)

    return [
        route("/api/session", "POST", "login", login, signed_in=False),
        route("/api/session", "DELETE", "logout", logout, signed_in=False),
        route("/api/user/current", "GET", "current_user", lambda r, c, b: _done(accounts.current(caller(c)))),
        route("/api/user", "GET", "list_users", lambda r, c, b: accounts.list_users(mb, caller(c), query(r))),
        route("/api/user", "POST", "create_user", lambda r, c, b: accounts.create_user(mb, caller(c), b)),
        route("/api/user/{id:int}", "GET", "get_user", lambda r, c, b: accounts.get_user(mb, caller(c), _id(r))),
        route(
            "/api/user/{id:int}", "PUT", "update_user", lambda r, c, b: accounts.update_user(mb, caller(c), _id(r), b)
        ),
        route(
            "/api/user/{id:int}",
            "DELETE",
            "deactivate_user",
            lambda r, c, b: accounts.deactivate_user(mb, caller(c), _id(r)),
        ),
        route("/api/database", "GET", "list_databases", lambda r, c, b: databases.list_databases(mb, caller(c))),
        route(
            "/api/database/{id:int}",
            "GET",
            "get_database",
            lambda r, c, b: databases.get_database(mb, caller(c), _id(r)),
        ),
        route(
            "/api/database/{id:int}/metadata",
            "GET",
            "database_metadata",
            lambda r, c, b: databases.metadata(mb, caller(c), _id(r)),
        ),
        route(
            "/api/database/{id:int}",
            "PUT",
            "update_database",
            lambda r, c, b: databases.update_database(mb, caller(c), _id(r), b),
        ),
        route("/api/card", "POST", "create_card", lambda r, c, b: models.create_card(mb, caller(c), b)),
        route("/api/card/{id:int}", "GET", "get_card", lambda r, c, b: models.get_card(mb, caller(c), _id(r))),
        route("/api/card/{id:int}", "PUT", "update_card", lambda r, c, b: models.update_card(mb, caller(c), _id(r), b)),
        route("/api/card/{id:int}", "DELETE", "delete_card", lambda r, c, b: models.delete_card(mb, caller(c), _id(r))),
        route("/api/action", "GET", "list_actions", lambda r, c, b: actions.list_actions(mb, caller(c), query(r))),
        route("/api/action", "POST", "create_action", lambda r, c, b: actions.create(mb, caller(c), b)),
        route("/api/action/public", "GET", "public_actions", lambda r, c, b: execute.public_actions(mb, caller(c))),
        route("/api/action/{id:int}", "GET", "get_action", lambda r, c, b: actions.get(mb, caller(c), _id(r))),
        route("/api/action/{id:int}", "PUT", "update_action", lambda r, c, b: actions.update(mb, caller(c), _id(r), b)),
        route("/api/action/{id:int}", "DELETE", "delete_action", lambda r, c, b: actions.delete(mb, caller(c), _id(r))),
        route(
            "/api/action/{id:int}/execute",
            "POST",
            "execute_action",
            lambda r, c, b: execute.execute(mb, caller(c), _id(r), b),
        ),
        route(
            "/api/action/{id:int}/execute",
            "GET",
            "prefetch_action",
            lambda r, c, b: execute.prefetch(mb, caller(c), _id(r), query(r)),
        ),
        route(
            "/api/action/{id:int}/public_link",
            "POST",
            "share_action",
            lambda r, c, b: execute.share(mb, caller(c), _id(r)),
        ),
        route(
            "/api/action/{id:int}/public_link",
            "DELETE",
            "unshare_action",
            lambda r, c, b: execute.unshare(mb, caller(c), _id(r)),
        ),
        route(
            "/api/public/action/{uuid}",
            "GET",
            "public_action",
            lambda r, c, b: execute.public_form(mb, r.path_params["uuid"]),
            signed_in=False,
        ),
        route(
            "/api/public/action/{uuid}/execute",
            "POST",
            "public_execute",
            lambda r, c, b: execute.public_execute(mb, r.path_params["uuid"], b),
            signed_in=False,
        ),
        Route("/api/{rest:path}", _unknown, methods=["GET", "POST", "PUT", "DELETE", "PATCH"]),
    ]


async def _done(value: Any) -> Any:
    return value


async def _unknown(request: Request) -> Response:
    note_operation("api:unknown")
    return PlainTextResponse("API endpoint does not exist.", 404)
