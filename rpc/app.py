"""The ASGI app: POST /v1/query (and /v1/metadata, the same dispatcher), GET /healthz."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import PlainTextResponse, Response
from starlette.routing import Route

from handlers.dispatch import execute
from metadata.errors import SwitchboardError
from metadata.store import Store
from rpc.auth import authenticate
from rpc.config import Config, load_config
from rpc.responses import bug_response, error_response, json_response


def create_app(config: Config | None = None) -> Starlette:
    config = config or load_config()
    store = Store(config.database_url)

    @asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        await store.open()
        try:
            yield
        finally:
            await store.close()

    async def query(request: Request) -> Response:
        admin = False
        try:
            session = authenticate(request.headers, config)
            admin = session.is_admin
            return json_response(await execute(store, await request.body(), session))
        except SwitchboardError as exc:
            return error_response(exc, admin)
        except Exception as exc:  # a bug: logged, and answered without internals
            return bug_response(exc)

    async def healthz(request: Request) -> Response:
        try:
            await store.ping()
        except Exception:
            return PlainTextResponse("ERROR", status_code=503)
        return PlainTextResponse("OK")

    app = Starlette(
        routes=[
            Route("/v1/query", query, methods=["POST"]),
            Route("/v1/metadata", query, methods=["POST"]),
            Route("/healthz", healthz, methods=["GET"]),
        ],
        lifespan=lifespan,
    )
    app.state.store = store
    app.state.config = config
    return app
