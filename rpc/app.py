"""The ASGI app: POST /v1/query (and /v1/metadata, the same dispatcher), /v1/graphql (POST and
its websocket), Metabase's REST API at /api, GET /healthz, GET /v1/version, GET /metrics, and the
console's files at /console (GET / points there)."""

from __future__ import annotations

import asyncio
import contextlib
import gc
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager

from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.middleware.gzip import GZipMiddleware
from starlette.requests import ClientDisconnect, Request
from starlette.responses import PlainTextResponse, Response
from starlette.routing import Route, WebSocketRoute
from starlette.types import ASGIApp, Receive, Scope, Send

from handlers.context import Answer, Runtime, Session
from handlers.dispatch import execute, is_public
from handlers.execution.outgoing import Outgoing
from handlers.execution.proxies import Proxies
from handlers.execution.rate_limit import RateLimiter
from handlers.execution.worker import WorkerPool
from handlers.graphql.document import Limits
from handlers.graphql.service import GraphQL
from handlers.metabase.service import Metabase
from handlers.telemetry import Metrics
from handlers.tracing import Tracing, start_tracing
from metadata.api_keys import ApiKeys
from metadata.errors import SwitchboardError
from metadata.runs import Runs
from metadata.store import Store
from metadata.users import Users
from rpc.auth import Authenticator
from rpc.config import Config, load_config
from rpc.console import console_routes
from rpc.cors import Origins
from rpc.graphql import graphql_endpoint
from rpc.graphql_ws import Sockets, graphql_socket
from rpc.limits import PayloadTooLarge, read_body
from rpc.logs import RequestLog
from rpc.metabase import metabase_routes
from rpc.metrics import metrics_endpoint
from rpc.responses import bug_response, error_response, json_response

# What GET /v1/version answers, in Hasura's shape, to Hasura's tools (its CLI asks first, and
# refuses to go on without a 200): the Hasura API Switchboard speaks, not Switchboard's release.
# v2.0.0 is the first Hasura release of metadata v3 (what export_metadata answers), so every v2
# CLI (major 2, minor >= 0) finds the server compatible without a warning, sends the admin secret
# as X-Hasura-Admin-Secret (from v1.0.0-alpha38 on), and counts actions as served (v1.2.0-beta.1).
# A plain release, no pre-release tag: the CLI's version constraints would refuse a tagged one.
HASURA_VERSION = {"version": "v2.0.0", "server_type": "ce"}

# Answers are gzipped for clients that send `Accept-Encoding: gzip`, as Hasura's are, at its level
# (1: most of the gain for JSON at the least CPU; an export of 10,000 actions, 2 MB, becomes 62 kB
# in 3 ms). Answers under 1 KiB (a run's output, most errors) go as they are: they fit in a packet
# or two either way, and compressing them would cost more time than it saves.
GZIP_LEVEL = 1
GZIP_MINIMUM_BYTES = 1024


class Compression(GZipMiddleware):
    """Starlette's GZipMiddleware, for the clients that accept gzip only: the others' requests go
    straight on (Starlette would wrap them too, for a Vary header on large answers: ~7 µs each)."""

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and any(
            name == b"accept-encoding" and b"gzip" in value for name, value in scope["headers"]
        ):
            await super().__call__(scope, receive, send)
        else:
            await self.app(scope, receive, send)


def create_app(config: Config | None = None, tracing: Tracing | None = None) -> Starlette:
    """`tracing`: where spans go instead of `otlp_endpoint`'s collector (tests: in memory)."""
    config = config or load_config()
    tracing = tracing or start_tracing(config.otlp_endpoint)
    store = Store(config.database_url)
    runtime = Runtime(
        store=store,
        runs=Runs(store),
        api_keys=ApiKeys(store),
        users=Users(store),
        audit_sync_runs=config.audit_sync_runs,
        lease_margin=config.async_lease_margin_seconds,
        public_role=config.public_role,
        public_limiter=RateLimiter(config.public_rate_limit),
        metrics=Metrics(config.metrics_per_action),
        public_sharing=config.enable_public_sharing,
        # Outgoing HTTP honours HTTP_PROXY / HTTPS_PROXY / NO_PROXY, as Hasura's client does.
        proxies=Proxies.from_environment(),
        tracing=tracing,
    )
    metabase = Metabase(runtime, config.max_session_age, config.enable_public_sharing)
    graphql = GraphQL(
        runtime,
        Limits(
            config.graphql_max_document_bytes,
            config.graphql_max_tokens,
            config.graphql_max_depth,
            config.graphql_max_fields,
        ),
    )

    auth = Authenticator(config, runtime.api_keys)
    origins = Origins(config.cors_domain, config.disable_cors)
    sockets = Sockets(
        runtime.api_keys,
        config.max_websockets,
        config.websocket_init_timeout_seconds,
        config.max_subscriptions_per_websocket,
    )

    @asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        await store.open()
        # Everything loaded so far lives as long as the server: keep it out of every GC pass,
        # which would otherwise show up as pauses in the run path's tail latency.
        gc.collect()
        gc.freeze()
        # A request allocates a few hundred objects (coroutines, frames, dicts): at Python's
        # default threshold (700) the collector ran every couple of requests and cost ~20 µs of
        # each; every 10,000 allocations it costs a few, and holds at most that much garbage.
        gc.set_threshold(10_000, 50, 100)
        workers = WorkerPool(runtime, config.async_workers, config.async_shutdown_grace_seconds)
        runtime.http = http = Outgoing(runtime.proxies)
        try:
            if auth.jwt is not None:
                await auth.jwt.start(http)
            workers.start()
            store.watch(on_runs=workers.wake, on_finished=graphql.watch.wake)
            stopping = asyncio.Event()
            janitor = asyncio.create_task(_expire(runtime.runs, metabase, config.runs_retention_days, stopping))
            try:
                yield
            finally:
                # Told, not cancelled (as the async workers' claimer): a delete cut off inside its
                # transaction would keep SQLite's write lock while the rest of the stop writes.
                stopping.set()
                await asyncio.gather(janitor, return_exceptions=True)
                await sockets.stop()
                if auth.jwt is not None:
                    await auth.jwt.stop()
                await workers.stop()
                await runtime.runs.close()
                await runtime.engines.close()
                await store.close()
                if tracing is not None:  # the spans still batched go out (blocking: in a thread)
                    await asyncio.to_thread(tracing.shutdown)
        finally:
            http.close()

    async def query(request: Request) -> Response:
        admin = False
        try:
            try:
                session = await auth.session(request.headers)
            except SwitchboardError:
                # Public links need no credentials: run_public_action goes on as an anonymous
                # caller (it runs as the public role whoever calls).
                body = await _public_body(request, config)
                if body is None or not is_public(body):
                    raise
                return _answer(await execute(runtime, body, Session(role=config.public_role)))
            admin = session.is_admin
            body = await read_body(request, config.max_body_bytes)
            return _answer(await execute(runtime, body, session))
        except SwitchboardError as exc:
            return error_response(exc, admin)
        except ClientDisconnect:
            # The caller hung up before sending its whole body: nothing ran, and no one is
            # listening for an answer. Not an error of ours, so nothing is logged.
            return Response(status_code=400)
        except Exception as exc:  # a bug: logged, and answered without internals
            return bug_response(exc)

    async def healthz(request: Request) -> Response:
        try:
            await store.ping()
        except Exception:
            runtime.metrics.store_errors.inc()
            return PlainTextResponse("ERROR", status_code=503)
        return PlainTextResponse("OK")

    async def version(request: Request) -> Response:
        return json_response(HASURA_VERSION)  # public, as Hasura's: the CLI asks before it sends a secret

    scrape = metrics_endpoint(runtime, config.metrics_secret)
    # The POST endpoints, one dispatcher for /v1/query and /v1/metadata as Hasura's two paths.
    posts: dict[str, Endpoint] = {
        "/v1/query": query,
        "/v1/metadata": query,
        "/v1/graphql": graphql_endpoint(graphql, auth, config),
    }
    app = Starlette(
        routes=[
            *(Route(path, endpoint, methods=["POST"]) for path, endpoint in posts.items()),
            WebSocketRoute("/v1/graphql", graphql_socket(graphql, auth, sockets, origins)),
            Route("/healthz", healthz, methods=["GET"]),
            Route("/v1/version", version, methods=["GET"]),
            Route("/metrics", scrape, methods=["GET"]),
            Route("/v1/metrics", scrape, methods=["GET"]),  # Hasura's path
            *console_routes(),
            *metabase_routes(metabase, config),
        ],
        lifespan=lifespan,
        middleware=[
            # Request ids, the access log line, the request metrics and the request's span.
            Middleware(RequestLog, metrics=runtime.metrics, tracing=tracing),
            *origins.middleware(),  # before the direct route: preflights and headers for it too
            # Before the direct route too, so that /v1/query's answers are compressed (websockets
            # pass through).
            Middleware(Compression, minimum_size=GZIP_MINIMUM_BYTES, compresslevel=GZIP_LEVEL),
            Middleware(DirectRoute, endpoints=posts),
        ],
    )
    app.state.runtime = runtime
    app.state.graphql = graphql
    app.state.metabase = metabase
    app.state.config = config
    return app


Endpoint = Callable[[Request], Awaitable[Response]]


class DirectRoute:
    """POSTs to the paths of `endpoints` go straight to their endpoint, past Starlette's exception
    layer, router and endpoint wrapper: the run path's hottest routes pay none of them (each
    endpoint answers every error itself). Everything else, and other methods on these paths
    (405), go on as routed."""

    def __init__(self, app: ASGIApp, endpoints: dict[str, Endpoint]) -> None:
        self.app, self.endpoints = app, endpoints

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        endpoint = self.endpoints.get(scope["path"]) if scope["type"] == "http" and scope["method"] == "POST" else None
        if endpoint is None:
            await self.app(scope, receive, send)
            return
        response = await endpoint(Request(scope, receive, send))
        await response(scope, receive, send)


def _answer(result: object) -> Response:
    """A JSON answer; a synchronous handler's Set-Cookie headers go with it, as Hasura's do."""
    if not isinstance(result, Answer):
        return json_response(result)
    response = json_response(result.body)
    for cookie in result.cookies:
        response.headers.append("set-cookie", cookie)
    return response


# The most an unauthenticated request may make the server buffer to see whether it is public.
PUBLIC_BODY_LIMIT = 1 << 20


async def _public_body(request: Request, config: Config) -> bytes | None:
    """The body of a request that failed authentication, or None past PUBLIC_BODY_LIMIT bytes.

    Authentication comes before the body is read; only a request that may be run_public_action
    is read at all without credentials, and then never beyond the limit, so anonymous callers
    cannot make the server hold bodies of any size.
    """
    try:
        return await read_body(request, min(PUBLIC_BODY_LIMIT, config.max_body_bytes))
    except PayloadTooLarge:
        return None


async def _expire(runs: Runs, metabase: Metabase, days: float, stopping: asyncio.Event) -> None:
    """Delete runs past the retention period (finished, or queued and never taken), and expired
    sessions, at start and then hourly, until `stopping` is set."""
    while not stopping.is_set():
        with contextlib.suppress(Exception):
            await runs.delete_before(time.time() - days * 86400, stopping=stopping)
        with contextlib.suppress(Exception):
            await metabase.sessions.delete_expired()
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(stopping.wait(), 3600)
