"""Tracing: the caller's W3C trace context continued through Switchboard into the handler, and
OpenTelemetry spans exported over OTLP/HTTP when the server is given an `otlp_endpoint`.

Off (no `otlp_endpoint`, or the `[otel]` extra not installed), nothing of OpenTelemetry is
imported. The request log (rpc/logs.py) keeps the caller's `traceparent` and `tracestate` on the
request (`RequestInfo`) when the traceparent is well formed; an async run stores them with the
run (in its stored headers), and every call of a handler (webhook, http action) carries them
unchanged, so the handler joins the caller's trace. The run path pays a header comparison.

On, `Tracing` holds a TracerProvider of its own (not the global one: tests run several servers
in one process) and records:

- SERVER `<method> <route>`: each HTTP request, a child of the caller's traceparent when sent;
- INTERNAL `run <action>`: a synchronous run (run_action, a GraphQL field, Metabase's execute, a
  public link), whatever its handler kind;
- PRODUCER `queue <action>`: an async run being queued; its context is stored with the run, and
  CONSUMER `run <action>`, the run by a worker (of any server, any time later), is its child;
- CLIENT `<METHOD>`: the call of a webhook or http action's service; the traceparent the handler
  gets names this span as its parent;
- CLIENT `<OPERATION> <table or source>`: the transaction of a sql or table action on its data
  source (`INSERT orders`, `UPDATE shop`).

Spans carry no secret and no payload: no header values, no input or output, no bound parameter
(a sql action's statement text, with its `:tags`, is recorded).
"""

from __future__ import annotations

import logging
import re
from collections.abc import Mapping, MutableMapping
from importlib.metadata import PackageNotFoundError, version
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

from handlers.telemetry import RequestInfo, outcome
from metadata.errors import SwitchboardError

if TYPE_CHECKING:
    from opentelemetry.sdk.trace import SpanProcessor
    from opentelemetry.sdk.trace.export import SpanExporter
    from opentelemetry.trace import Span

log = logging.getLogger("switchboard.tracing")

TRACEPARENT = "traceparent"
TRACESTATE = "tracestate"
# version-traceid-parentid-flags, lowercase hex; a later version may add fields after a dash.
_TRACEPARENT = re.compile(r"([0-9a-f]{2})-([0-9a-f]{32})-([0-9a-f]{16})-[0-9a-f]{2}(-[!-~]*)?")
# A tracestate is a list of key=value members; it is sent on as it came, when it is plain text
# of a reasonable length (W3C: at least 512 characters should be propagated; 32 members at most).
_TRACESTATE = re.compile(r"[ -~\t]{1,8192}")
_ZERO_TRACE, _ZERO_SPAN = "0" * 32, "0" * 16


def fit_traceparent(value: str) -> bool:
    """Whether `value` is a traceparent to continue (W3C Trace Context, level 1)."""
    match = _TRACEPARENT.fullmatch(value)
    if match is None:
        return False
    release, trace_id, span_id, more = match.groups()
    if release == "ff" or trace_id == _ZERO_TRACE or span_id == _ZERO_SPAN:
        return False
    return more is None or release != "00"


def continue_trace(info: RequestInfo, traceparent: str | None, tracestate: str | None) -> None:
    """Keep the caller's trace context on the request, when its traceparent is well formed (a
    tracestate without one, or one that is not plain text, is dropped, as W3C says)."""
    if traceparent is not None and fit_traceparent(traceparent):
        info.traceparent = traceparent
        if tracestate is not None and _TRACESTATE.fullmatch(tracestate):
            info.tracestate = tracestate


def resume_trace(info: RequestInfo, stored: Mapping[str, str]) -> None:
    """An async run's trace context, as stored when it was queued, on the worker's request."""
    continue_trace(info, stored.get(TRACEPARENT), stored.get(TRACESTATE))


def send_trace(info: RequestInfo | None, headers: MutableMapping[str, str]) -> None:
    """Tracing off: the caller's trace context, unchanged, on a request to a handler."""
    if info is not None and info.traceparent is not None:
        headers[TRACEPARENT] = info.traceparent
        if info.tracestate is not None:
            headers[TRACESTATE] = info.tracestate
        else:
            headers.pop(TRACESTATE, None)  # a forwarded client header must not pair with another trace


def traces_url(endpoint: str) -> str:
    """OTLP/HTTP's traces URL of a collector's base URL (`http://collector:4318`), as
    OTEL_EXPORTER_OTLP_ENDPOINT is read; a URL that already ends in /v1/traces is kept."""
    endpoint = endpoint.rstrip("/")
    return endpoint if endpoint.endswith("/v1/traces") else endpoint + "/v1/traces"


def start_tracing(endpoint: str | None) -> Tracing | None:
    """Tracing to `endpoint` over OTLP/HTTP; None without an endpoint, or (with a warning) when
    the [otel] extra is not installed."""
    if endpoint is None:
        return None
    try:
        return Tracing.otlp(endpoint)
    except ImportError as exc:
        log.warning(
            "otlp_endpoint is set but OpenTelemetry is not installed (%s): spans are not exported; "
            "install it with pip install 'switchboard[otel]'",
            exc.name or exc,
        )
        return None


def _version() -> str:
    try:
        return version("switchboard")
    except PackageNotFoundError:  # a checkout that was not installed
        return "dev"


class Active:
    """A started span, the current one (of this task) until it is ended: spans end in the task
    they were started in, innermost first."""

    __slots__ = ("_detach", "_token", "span")

    def __init__(self, span: Span, token: object, detach: Any) -> None:
        self.span, self._token, self._detach = span, token, detach

    def set(self, name: str, value: str | int | float | bool) -> None:
        self.span.set_attribute(name, value)

    def answered(self, status: int) -> None:
        """End an HTTP span with its status: a 5xx is an error."""
        self.span.set_attribute("http.response.status_code", status)
        if status >= 500:
            from opentelemetry.trace import StatusCode

            self.span.set_attribute("error.type", str(status))
            self.span.set_status(StatusCode.ERROR)
        self.end()

    def end(self, exc: BaseException | None = None) -> None:
        try:
            if exc is not None:
                _failed(self.span, exc)
            self.span.end()
        finally:
            self._detach(self._token)

    def __enter__(self) -> Active:
        return self

    def __exit__(self, kind: object, exc: BaseException | None, tb: object) -> None:
        self.end(exc)


def _failed(span: Span, exc: BaseException) -> None:
    """A span's error: the outcome always; an error status when the handler or Switchboard
    failed (a refusal the caller gets as a 4xx is the caller's, as OTel's HTTP conventions say)."""
    from opentelemetry.trace import StatusCode

    result = outcome(exc)
    span.set_attribute("switchboard.outcome", result)
    if isinstance(exc, SwitchboardError):
        span.set_attribute("error.type", exc.code)
        if result != "error":
            span.set_status(StatusCode.ERROR, exc.message)
    else:
        span.set_attribute("error.type", type(exc).__qualname__)
        span.record_exception(exc)
        span.set_status(StatusCode.ERROR, type(exc).__qualname__)


class Tracing:
    """Spans of one server, exported by `processor`."""

    def __init__(self, processor: SpanProcessor) -> None:
        from opentelemetry import context, trace
        from opentelemetry.sdk.resources import SERVICE_NAME, SERVICE_VERSION, Resource
        from opentelemetry.sdk.trace import TracerProvider
        from opentelemetry.trace.propagation.tracecontext import TraceContextTextMapPropagator

        # OTEL_SERVICE_NAME and OTEL_RESOURCE_ATTRIBUTES are read; the service is "switchboard"
        # unless they name it. The sampler is the SDK's (OTEL_TRACES_SAMPLER; by default it
        # follows the caller's sampled flag, and samples every trace Switchboard starts).
        resource = Resource.create({SERVICE_VERSION: _version()})
        if str(resource.attributes.get(SERVICE_NAME, "")).startswith("unknown_service"):
            resource = resource.merge(Resource({SERVICE_NAME: "switchboard"}))
        self.provider = TracerProvider(resource=resource, shutdown_on_exit=False)
        self.provider.add_span_processor(processor)
        self.tracer = self.provider.get_tracer("switchboard", _version())
        self._propagator = TraceContextTextMapPropagator()
        self._attach, self._detach = context.attach, context.detach
        self._in_context, self._kinds = trace.set_span_in_context, trace.SpanKind

    @classmethod
    def otlp(cls, endpoint: str) -> Tracing:
        """Spans batched and sent to an OTLP/HTTP collector (protobuf) from a thread of their
        own; the exporter reads OTEL_EXPORTER_OTLP_HEADERS (and _TRACES_HEADERS), _TIMEOUT,
        _COMPRESSION and _CERTIFICATE as the SDK documents them."""
        from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
        from opentelemetry.sdk.trace.export import BatchSpanProcessor

        return cls(BatchSpanProcessor(OTLPSpanExporter(endpoint=traces_url(endpoint))))

    @classmethod
    def exporting_to(cls, exporter: SpanExporter) -> Tracing:
        """Each span handed to `exporter` as it ends (tests: the SDK's in-memory exporter)."""
        from opentelemetry.sdk.trace.export import SimpleSpanProcessor

        return cls(SimpleSpanProcessor(exporter))

    def shutdown(self) -> None:
        """Export what is left, and stop (blocking: call it from a thread)."""
        self.provider.shutdown()

    def _start(self, name: str, kind: Any, attributes: dict[str, Any], parent: Any = None) -> Active:
        span = self.tracer.start_span(name, context=parent, kind=kind, attributes=attributes)
        return Active(span, self._attach(self._in_context(span, parent)), self._detach)

    def _parent(self, traceparent: str | None, tracestate: str | None) -> Any:
        """The context of a remote parent (None: the current context's span, or a new trace)."""
        if traceparent is None:
            return None
        carrier = {TRACEPARENT: traceparent}
        if tracestate is not None:
            carrier[TRACESTATE] = tracestate
        return self._propagator.extract(carrier)

    def server(self, method: str, path: str, info: RequestInfo) -> Active:
        """An HTTP request's span: the caller's trace continued (the context on `info`)."""
        attributes = {"http.request.method": method, "url.path": path, "switchboard.request_id": info.request_id}
        return self._start(method, self._kinds.SERVER, attributes, self._parent(info.traceparent, info.tracestate))

    def run(self, action: str, kind: str, handler: str, run_id: str | None) -> Active:
        """A run of an action: a synchronous one inside its request's span, an async one (a
        CONSUMER) inside the context its run was queued with (`resume`)."""
        attributes = {"switchboard.action": action, "switchboard.run.mode": kind, "switchboard.handler": handler}
        if run_id is not None:
            attributes["switchboard.run.id"] = run_id
        span_kind = self._kinds.CONSUMER if kind == "async" else self._kinds.INTERNAL
        return self._start(f"run {action}", span_kind, attributes)

    def queue(self, action: str) -> Active:
        """An async run being queued (PRODUCER): `inject` its context into the stored headers."""
        return self._start(f"queue {action}", self._kinds.PRODUCER, {"switchboard.action": action})

    def resume(self, stored: Mapping[str, str]) -> None:
        """A worker's task: the trace context an async run was queued with, as current."""
        parent = self._parent(stored.get(TRACEPARENT), stored.get(TRACESTATE))
        if parent is None:
            from opentelemetry import context

            parent = context.Context()  # a run without one starts a trace of its own
        self._attach(parent)

    def client(self, method: str, url: str, headers: MutableMapping[str, str]) -> Active:
        """A call of a handler (CLIENT); its context goes into `headers` (traceparent, and
        tracestate when the trace has one), so the handler's spans are its children."""
        try:
            parts = urlsplit(url)
            host, port = parts.hostname or "", parts.port
        except ValueError:
            host, port = "", None
        attributes: dict[str, Any] = {"http.request.method": method, "server.address": host}
        if port is not None:
            attributes["server.port"] = port
        active = self._start(method, self._kinds.CLIENT, attributes)
        self.inject(headers)
        return active

    def database(
        self, operation: str, source: str, system: str, attributes: dict[str, Any], target: str | None = None
    ) -> Active:
        """A sql or table action's transaction on its data source (CLIENT), named by what it
        does and to what (a table, else the source)."""
        given = {"db.system.name": system, "db.namespace": source, "db.operation.name": operation, **attributes}
        return self._start(f"{operation} {target or source}", self._kinds.CLIENT, given)

    def inject(self, headers: MutableMapping[str, str]) -> None:
        """The current span's context into `headers` (replacing any traceparent there)."""
        headers.pop(TRACESTATE, None)
        self._propagator.inject(headers)


def finish_server(
    active: Active, method: str, status: int, route: str | None, operation: str | None, role: str | None
) -> None:
    """End an HTTP request's span, named by its route (`None`: a path no route matched)."""
    span = active.span
    if route is not None:
        span.set_attribute("http.route", route)
        span.update_name(f"{method} {route}")
    if operation is not None:
        span.set_attribute("switchboard.operation", operation)
    if role is not None:
        span.set_attribute("switchboard.role", role)
    active.answered(status)
