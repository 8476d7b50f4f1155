"""GET /metrics (and Hasura's path, /v1/metrics): the server's metrics in Prometheus' text format.

Counters and histograms are kept as requests and runs happen (handlers/telemetry.py); the store's
view is read at scrape time: the metadata resource version this server serves (from memory), and
the async queue, read from the runs table by one indexed statement. The queue is shared by every
server on the store, so every server reports the same figures: take their max, not their sum.
The workers of one `serve --workers N` answer a scrape together: counters and histograms summed
over the workers, gauges as the worker that answered read them (handlers/telemetry.py).

With `metrics_secret` set, a scrape must send `Authorization: Bearer <metrics_secret>` (what
Prometheus sends with `authorization: {credentials: ...}`), else 401; without it, the endpoint is
open, as /healthz is.
"""

from __future__ import annotations

import asyncio
import hmac
import logging
import math
import time
from collections.abc import Awaitable, Callable

from prometheus_client import CONTENT_TYPE_LATEST, generate_latest
from starlette.requests import Request
from starlette.responses import Response

from handlers.context import Runtime
from metadata.errors import Unauthorized
from rpc.responses import error_response

log = logging.getLogger("switchboard.metrics")


def _authorized(header: str | None, secret: str) -> bool:
    scheme, _, token = (header or "").partition(" ")
    return scheme.lower() == "bearer" and hmac.compare_digest(token.strip().encode(), secret.encode())


def metrics_endpoint(runtime: Runtime, secret: str | None) -> Callable[[Request], Awaitable[Response]]:
    metrics = runtime.metrics

    async def scrape(request: Request) -> Response:
        if secret is not None and not _authorized(request.headers.get("authorization"), secret):
            return error_response(Unauthorized("metrics_secret required: send Authorization: Bearer <secret>"), False)
        metrics.resource_version.set(runtime.store.resource_version)
        depth: float
        try:
            depth, oldest = await runtime.runs.waiting()
        except Exception as exc:  # an unreachable store must not hide the rest of the metrics
            log.warning("reading the async queue for metrics failed: %s", exc)
            metrics.store_errors.inc()
            depth, waited = math.nan, math.nan
        else:
            waited = 0.0 if oldest is None else max(0.0, time.time() - oldest)
        metrics.queue_depth.set(depth)
        metrics.oldest_waiting.set(waited)
        # Rendered on a thread: with per-action series at thousands of actions it takes a good
        # part of a second, which the event loop's other requests would otherwise wait for.
        body = await asyncio.to_thread(generate_latest, metrics.exposed)
        return Response(body, media_type=CONTENT_TYPE_LATEST)

    return scrape
