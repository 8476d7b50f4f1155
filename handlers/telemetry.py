"""What the server reports about itself: the request being served, and its Prometheus metrics.

The request (or async run) being handled is a `RequestInfo` in a context variable, so it follows
the request through every await without being passed around: its id, which every log line and
webhook call of it carries, and what the dispatcher learnt of it (operation type, role) for its
access log line.

`Metrics` holds the counters and histograms, one registry per server (tests run several servers
in one process). Label values come from a bounded set (registered operation types, fixed kinds,
handlers and outcomes), never from what a caller sends, so a caller cannot grow the series
without bound. Runs are labelled by action only when asked (`per_action`): a series per action
grows with the metadata, and histograms multiply it by their buckets (at 2,000 actions a scrape
was 6.6 MB; by default it stays a few kB whatever the metadata holds).

Under `switchboard serve --workers N` the workers keep their series in prometheus-client's
multiprocess mode (PROMETHEUS_MULTIPROC_DIR, set by the parent before it starts them): a scrape,
whichever worker answers it, reports the sum of every worker's counters and histograms (those of
workers that exited included), and the gauges as the scraping worker sets them. The process_*
series are left out then: they would describe only the worker that answered.
"""

from __future__ import annotations

import os
import re
import time
from collections.abc import Mapping
from contextvars import ContextVar
from dataclasses import dataclass
from typing import Literal

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, ProcessCollector, disable_created_metrics
from prometheus_client.multiprocess import MultiProcessCollector

from metadata.errors import SwitchboardError

REQUEST_ID_HEADER = "x-request-id"
# A request id from the caller is kept only when it is short and plain (it ends up in every log
# line and in the handler's headers): 1 to 128 visible ASCII characters; else a random one (32
# hex digits, as W3C trace ids: a fifth of the cost of formatting a UUID) is made.
_FIT_REQUEST_ID = re.compile(r"[!-~]{1,128}")
# No `*_created` series next to each counter and histogram: Prometheus does not need them.
disable_created_metrics()  # type: ignore[no-untyped-call]
# Buckets from 1 ms to 60 s: runs and handlers span loopback calls to slow third-party APIs.
_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0)


@dataclass
class RequestInfo:
    request_id: str
    operation: str | None = None
    role: str | None = None
    # The caller's W3C trace context, when it sent a well-formed one (handlers/tracing.py).
    traceparent: str | None = None
    tracestate: str | None = None


_current: ContextVar[RequestInfo | None] = ContextVar("switchboard_request", default=None)


def begin(request_id: str | None) -> RequestInfo:
    """Make `request_id` (or a fresh one, when it is absent or unfit) the current request's."""
    if request_id is None or not _FIT_REQUEST_ID.fullmatch(request_id):
        request_id = os.urandom(16).hex()
    info = RequestInfo(request_id)
    _current.set(info)
    return info


def current() -> RequestInfo | None:
    """The request (or async run) being handled."""
    return _current.get()


def request_id() -> str | None:
    info = _current.get()
    return None if info is None else info.request_id


def note_operation(name: str) -> None:
    """The operation being served; the first one noted wins (a bulk's envelopes do not replace it)."""
    info = _current.get()
    if info is not None and info.operation is None:
        info.operation = name


def note_role(role: str) -> None:
    info = _current.get()
    if info is not None:
        info.role = role


def with_request_id(headers: Mapping[str, str]) -> dict[str, str]:
    """An async run's stored headers, with the id of the request that queued it: the worker
    carries it on (log lines, the webhook's X-Request-Id)."""
    rid = request_id()
    return dict(headers) if rid is None else {**headers, REQUEST_ID_HEADER: rid}


def outcome(exc: BaseException | None) -> str:
    """A run's outcome label: completed, error (refused: the handler's 4xx, a database
    constraint), timeout, or failed (the handler or source failed, or a bug)."""
    if exc is None:
        return "completed"
    if not isinstance(exc, SwitchboardError) or exc.status >= 500:
        return "timeout" if isinstance(exc, SwitchboardError) and exc.status == 504 else "failed"
    return "error"


PerAction = Literal["none", "counters", "histograms"]


class Metrics:
    def __init__(self, per_action: PerAction = "none") -> None:
        self.registry = registry = CollectorRegistry()
        counted = ["action"] if per_action != "none" else []
        timed = ["action"] if per_action == "histograms" else []
        self._counted, self._timed = bool(counted), bool(timed)
        # What a scrape renders: this registry, or every worker's series (see the module's doc).
        self.exposed = registry
        shared = os.environ.get("PROMETHEUS_MULTIPROC_DIR")
        if shared:
            self.exposed = CollectorRegistry()
            MultiProcessCollector(self.exposed, shared)  # type: ignore[no-untyped-call]
        else:
            ProcessCollector(registry=registry)  # CPU, memory, open file descriptors
        self.requests = Counter(
            "switchboard_requests",
            "HTTP requests answered, by operation type and status.",
            ["operation", "status"],
            registry=registry,
        )
        self.request_seconds = Histogram(
            "switchboard_request_duration_seconds",
            "Time to answer an HTTP request, by operation type.",
            ["operation"],
            buckets=_BUCKETS,
            registry=registry,
        )
        self.runs = Counter(
            "switchboard_action_runs",
            "Action runs finished, by kind (sync, async) and outcome (completed, error, timeout, failed).",
            [*counted, "kind", "outcome"],
            registry=registry,
        )
        self.run_seconds = Histogram(
            "switchboard_action_run_duration_seconds",
            "Time from accepting a run to its outcome (for async runs, from queueing it), by kind.",
            [*timed, "kind"],
            buckets=_BUCKETS,
            registry=registry,
        )
        self.handler_seconds = Histogram(
            "switchboard_handler_duration_seconds",
            "Time the action's handler took to run, by handler (webhook, sql, table).",
            [*timed, "handler"],
            buckets=_BUCKETS,
            registry=registry,
        )
        self.store_errors = Counter(
            "switchboard_store_errors",
            "Times the metadata store could not be reached.",
            registry=registry,
        )
        self.resource_version = Gauge(
            "switchboard_metadata_resource_version",
            "The metadata resource version this server serves.",
            registry=registry,
            multiprocess_mode="mostrecent",  # as the worker answering the scrape sets it
        )
        self.queue_depth = Gauge(
            "switchboard_async_queue_depth",
            "Async runs due and waiting for a worker (shared by every server on the store).",
            registry=registry,
            multiprocess_mode="mostrecent",  # as the worker answering the scrape sets it
        )
        self.oldest_waiting = Gauge(
            "switchboard_async_oldest_waiting_seconds",
            "How long the oldest due async run has been waiting for a worker (0 when none is).",
            registry=registry,
            multiprocess_mode="mostrecent",  # as the worker answering the scrape sets it
        )
        # The labelled series of each label set, looked up once: `labels()` validates and locks on
        # every call, which the run path would pay several times per request.
        self._answered: dict[tuple[str, int], tuple[Counter, Histogram]] = {}
        self._ran: dict[tuple[str, str, str, str], tuple[Counter, Histogram, Histogram]] = {}

    def answered(self, operation: str, status: int, seconds: float) -> None:
        series = self._answered.get((operation, status))
        if series is None:
            series = (self.requests.labels(operation, str(status)), self.request_seconds.labels(operation))
            self._answered[operation, status] = series
        series[0].inc()
        series[1].observe(seconds)

    def ran(
        self, action: str, kind: str, handler: str, since: float, handler_since: float, exc: BaseException | None
    ) -> None:
        """One run's outcome: `since` is when it was accepted (or queued), `handler_since` when its
        handler started (both time.time())."""
        now = time.time()
        result = outcome(exc)
        key = (action if self._counted else "", kind, handler, result)
        series = self._ran.get(key)
        if series is None:
            counted, timed = (action,) if self._counted else (), (action,) if self._timed else ()
            series = (
                self.runs.labels(*counted, kind, result),
                self.run_seconds.labels(*timed, kind),
                self.handler_seconds.labels(*timed, handler),
            )
            self._ran[key] = series
        series[0].inc()
        series[1].observe(max(0.0, now - since))
        series[2].observe(max(0.0, now - handler_since))
