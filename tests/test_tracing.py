"""Tracing: the caller's W3C trace context continued through Switchboard into the handler (sync,
async, GraphQL, http actions), spans of runs, handler calls and sql/table transactions in the
SDK's in-memory exporter, and exported over OTLP/HTTP to a real receiver on loopback. Off, the
caller's context reaches the handler unchanged and OpenTelemetry is never imported."""

from __future__ import annotations

import logging
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import msgspec
import pytest
from opentelemetry.sdk.trace import ReadableSpan
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import SpanKind, StatusCode
from starlette.testclient import TestClient

from handlers.tracing import Tracing, fit_traceparent, start_tracing, traces_url
from rpc.app import create_app
from rpc.config import Config, ConfigError, load_config
from tests.conftest import ClientFactory, query
from tests.otlp import OtlpReceiver
from tests.shop import create_shop
from tests.webhook import Webhook

ROOT = Path(__file__).parent.parent
TYPES = {"objects": [{"name": "Out", "fields": [{"name": "n", "type": "Int!"}]}]}
TRACE_ID = "4bf92f3577b34da6a3ce929d0e0e4736"
CALLER_SPAN = "00f067aa0ba902b7"
TRACEPARENT = f"00-{TRACE_ID}-{CALLER_SPAN}-01"
TRACESTATE = "congo=t61rcWkgMzE,rojo=00f067aa0ba902b7"
CALLER = {"traceparent": TRACEPARENT, "tracestate": TRACESTATE}

Traced = Callable[..., tuple[TestClient, InMemorySpanExporter]]


def define(client: TestClient, name: str, handler: str, **definition: Any) -> None:
    if query(client, "export_metadata").json().get("custom_types") is None:
        assert query(client, "set_custom_types", TYPES).status_code == 200
    args = {"name": name, "definition": {"handler": handler, "output_type": "Out", **definition}}
    assert query(client, "create_action", args).status_code == 200


def run(client: TestClient, name: str, headers: dict[str, str] | None = None, **input: Any) -> Any:
    return query(client, "run_action", {"name": name, "input": input}, headers=headers)


def wait_for(predicate: Callable[[], Any], seconds: float = 20) -> None:
    deadline = time.monotonic() + seconds
    while not predicate():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.02)


def parts(traceparent: str) -> tuple[str, str, str]:
    """(trace id, parent span id, flags) of a traceparent."""
    version, trace_id, span_id, flags = traceparent.split("-")
    assert version == "00"
    return trace_id, span_id, flags


def hexed(span: ReadableSpan) -> tuple[str, str]:
    assert span.context is not None
    return f"{span.context.trace_id:032x}", f"{span.context.span_id:016x}"


def parent_of(span: ReadableSpan) -> str | None:
    return None if span.parent is None else f"{span.parent.span_id:016x}"


def named(exporter: InMemorySpanExporter, name: str) -> ReadableSpan:
    found = [span for span in exporter.get_finished_spans() if span.name == name]
    assert len(found) == 1, [span.name for span in exporter.get_finished_spans()]
    return found[0]


@pytest.fixture
def traced(database_url: str) -> Iterator[Traced]:
    """Apps on the same store whose spans go to the SDK's in-memory exporter."""
    opened: list[TestClient] = []

    def make(**settings: Any) -> tuple[TestClient, InMemorySpanExporter]:
        exporter = InMemorySpanExporter()
        config = msgspec.convert({"database_url": database_url, **settings}, Config)
        client = TestClient(create_app(config, tracing=Tracing.exporting_to(exporter)))
        client.__enter__()
        opened.append(client)
        return client, exporter

    yield make
    for client in reversed(opened):
        client.__exit__(None, None, None)


# --- off: the caller's context, unchanged ---------------------------------------------------------


def test_off_the_callers_trace_context_reaches_the_handler_unchanged(
    make_client: ClientFactory, webhook: Webhook
) -> None:
    client = make_client()
    define(client, "now", webhook.respond("/now", body={"n": 1}))
    define(client, "later", webhook.respond("/later", body={"n": 2}), kind="asynchronous")
    define(client, "forwarding", webhook.respond("/forwarding", body={"n": 3}), forward_client_headers=True)

    assert run(client, "now", CALLER).json() == {"output": {"n": 1}}
    got = webhook.calls("/now")[-1].headers
    assert (got["traceparent"], got["tracestate"]) == (TRACEPARENT, TRACESTATE)
    # An async run keeps the context of the request that queued it.
    assert "action_id" in run(client, "later", CALLER).json()
    wait_for(lambda: webhook.calls("/later"))
    got = webhook.calls("/later")[0].headers
    assert (got["traceparent"], got["tracestate"]) == (TRACEPARENT, TRACESTATE)

    # Without one, the handler gets none; a malformed one (or two of them) is not passed on, nor
    # is a tracestate without a traceparent.
    run(client, "now")
    assert "traceparent" not in webhook.calls("/now")[-1].headers
    for unfit in (
        TRACEPARENT.upper(),
        f"ff-{TRACE_ID}-{CALLER_SPAN}-01",
        f"00-{'0' * 32}-{CALLER_SPAN}-01",
        f"00-{TRACE_ID}-{'0' * 16}-01",
        f"00-{TRACE_ID}-{CALLER_SPAN}-01-extra",
        "nonsense",
    ):
        assert run(client, "now", {"traceparent": unfit, "tracestate": TRACESTATE}).status_code == 200
        assert "traceparent" not in webhook.calls("/now")[-1].headers, unfit
        assert "tracestate" not in webhook.calls("/now")[-1].headers
    twice = [("traceparent", TRACEPARENT), ("traceparent", TRACEPARENT)]
    assert client.post("/v1/query", json={"type": "run_action", "args": {"name": "now"}}, headers=twice).is_success
    assert "traceparent" not in webhook.calls("/now")[-1].headers
    run(client, "now", {"tracestate": TRACESTATE})
    assert "tracestate" not in webhook.calls("/now")[-1].headers
    # A later version's traceparent may carry more fields: sent on as it came.
    later = f"01-{TRACE_ID}-{CALLER_SPAN}-01-future"
    run(client, "now", {"traceparent": later})
    assert webhook.calls("/now")[-1].headers["traceparent"] == later
    # A handler that gets the client's headers gets the same context, not a second one.
    run(client, "forwarding", {"traceparent": TRACEPARENT})
    got = webhook.calls("/forwarding")[-1].headers
    assert got["traceparent"] == TRACEPARENT and "tracestate" not in got


def test_off_opentelemetry_is_never_imported(webhook: Webhook, tmp_path: Path) -> None:
    """No otlp_endpoint: a server that runs actions imports nothing of OpenTelemetry (installed
    here), and still passes the caller's context on."""
    url = webhook.respond("/plain", body={"n": 1})
    script = f"""
import sys
from starlette.testclient import TestClient
from rpc.app import create_app
from rpc.config import Config

with TestClient(create_app(Config(database_url="sqlite:///{tmp_path / "off.db"}"))) as client:
    def post(kind, args, headers=None):
        answer = client.post("/v1/query", json={{"type": kind, "args": args}}, headers=headers)
        assert answer.status_code == 200, answer.text
    post("set_custom_types", {TYPES!r})
    post("create_action", {{"name": "plain", "definition": {{"handler": "{url}", "output_type": "Out"}}}})
    post("run_action", {{"name": "plain"}}, {{"traceparent": "{TRACEPARENT}"}})
loaded = sorted(name for name in sys.modules if name.startswith("opentelemetry"))
assert not loaded, loaded
"""
    done = subprocess.run([sys.executable, "-c", script], cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    assert webhook.calls("/plain")[0].headers["traceparent"] == TRACEPARENT


# --- on: spans, and the handler's parent ----------------------------------------------------------


def test_a_sync_run_continues_the_callers_trace_into_the_handler(traced: Traced, webhook: Webhook) -> None:
    client, exporter = traced()
    define(client, "now", webhook.respond("/now", body={"n": 1}))
    exporter.clear()
    answer = run(client, "now", CALLER)
    assert answer.json() == {"output": {"n": 1}}

    server = named(exporter, "POST /v1/query")
    ran = named(exporter, "run now")
    called = named(exporter, "POST")
    assert server.kind == SpanKind.SERVER and ran.kind == SpanKind.INTERNAL and called.kind == SpanKind.CLIENT
    # One trace, the caller's: server <- caller, run <- server, call <- run.
    assert {hexed(span)[0] for span in (server, ran, called)} == {TRACE_ID}
    assert parent_of(server) == CALLER_SPAN and server.parent is not None and server.parent.is_remote
    assert parent_of(ran) == hexed(server)[1]
    assert parent_of(called) == hexed(ran)[1]
    # The handler's parent is Switchboard's call span; the caller's tracestate goes with it.
    got = webhook.calls("/now")[0].headers
    assert parts(got["traceparent"]) == (TRACE_ID, hexed(called)[1], "01")
    assert got["tracestate"] == TRACESTATE

    assert server.attributes is not None and ran.attributes is not None and called.attributes is not None
    assert server.attributes["http.route"] == "/v1/query"
    assert server.attributes["http.response.status_code"] == 200
    assert server.attributes["switchboard.operation"] == "run_action"
    assert server.attributes["switchboard.role"] == "admin"
    assert server.attributes["switchboard.request_id"] == answer.headers["x-request-id"]
    assert dict(ran.attributes) == {
        "switchboard.action": "now",
        "switchboard.run.mode": "sync",
        "switchboard.handler": "webhook",
        "switchboard.outcome": "completed",
    }
    assert called.attributes["http.request.method"] == "POST"
    assert called.attributes["server.address"] == "127.0.0.1"
    assert called.attributes["server.port"] == webhook.port
    assert called.attributes["http.response.status_code"] == 200
    assert called.resource.attributes["service.name"] == "switchboard"

    # Without a caller's context, Switchboard starts the trace.
    exporter.clear()
    run(client, "now")
    server = named(exporter, "POST /v1/query")
    assert server.parent is None
    assert parts(webhook.calls("/now")[1].headers["traceparent"])[0] == hexed(server)[0]
    assert "tracestate" not in webhook.calls("/now")[1].headers


def test_an_async_run_keeps_the_context_it_was_queued_with(traced: Traced, webhook: Webhook) -> None:
    """Queued on a server with no workers, run later by another server on the same store: the
    trace context travels with the run."""
    queueing, queued_spans = traced(async_workers=0)
    define(queueing, "later", webhook.respond("/later", body={"n": 2}), kind="asynchronous")
    queued_spans.clear()
    action_id = run(queueing, "later", CALLER).json()["action_id"]
    server, queued = named(queued_spans, "POST /v1/query"), named(queued_spans, "queue later")
    assert queued.kind == SpanKind.PRODUCER and parent_of(queued) == hexed(server)[1]
    assert hexed(queued)[0] == TRACE_ID
    assert queued.attributes is not None and queued.attributes["switchboard.run.id"] == action_id
    time.sleep(0.3)
    assert not webhook.calls("/later")

    _, worker_spans = traced()
    wait_for(lambda: len(worker_spans.get_finished_spans()) >= 2)
    ran, called = named(worker_spans, "run later"), named(worker_spans, "POST")
    assert ran.kind == SpanKind.CONSUMER and hexed(ran)[0] == TRACE_ID
    assert parent_of(ran) == hexed(queued)[1] and ran.parent is not None and ran.parent.is_remote
    assert parent_of(called) == hexed(ran)[1]
    assert ran.attributes is not None and ran.attributes["switchboard.run.id"] == action_id
    assert ran.attributes["switchboard.run.mode"] == "async"
    got = webhook.calls("/later")[0].headers
    assert parts(got["traceparent"]) == (TRACE_ID, hexed(called)[1], "01")
    assert got["tracestate"] == TRACESTATE
    assert got["idempotency-key"] == action_id


def test_graphql_fields_and_http_actions_are_traced(traced: Traced, webhook: Webhook) -> None:
    client, exporter = traced()
    define(client, "now", webhook.respond("/now", body={"n": 1}))
    http = {"method": "POST", "url": webhook.respond("/service", body={"title": "ok"}), "response_handle": ".body"}
    assert query(client, "create_action", {"name": "fetch", "definition": {"http": http}}).status_code == 200
    exporter.clear()
    answer = client.post("/v1/graphql", json={"query": "mutation { now { n } }"}, headers=CALLER)
    assert answer.json() == {"data": {"now": {"n": 1}}}
    server, ran, called = named(exporter, "POST /v1/graphql"), named(exporter, "run now"), named(exporter, "POST")
    assert parent_of(server) == CALLER_SPAN and parent_of(ran) == hexed(server)[1]
    assert parent_of(called) == hexed(ran)[1]
    assert server.attributes is not None and server.attributes["switchboard.operation"] == "graphql"
    assert parts(webhook.calls("/now")[0].headers["traceparent"]) == (TRACE_ID, hexed(called)[1], "01")

    exporter.clear()
    assert run(client, "fetch", CALLER).json() == {"output": {"title": "ok"}}
    ran, called = named(exporter, "run fetch"), named(exporter, "POST")
    assert ran.attributes is not None and ran.attributes["switchboard.handler"] == "http"
    assert parent_of(called) == hexed(ran)[1]
    got = webhook.calls("/service")[0].headers
    assert parts(got["traceparent"]) == (TRACE_ID, hexed(called)[1], "01")
    assert got["tracestate"] == TRACESTATE


def test_sql_and_table_actions_record_their_transaction(traced: Traced, source_url: str) -> None:
    client, exporter = traced()
    create_shop(source_url)
    assert query(client, "add_source", {"name": "shop", "url": source_url}).status_code == 200
    sql = {
        "sql": {"source": "shop", "statement": "UPDATE products SET price = {{price}} WHERE sku = {{sku}}"},
        "arguments": [{"name": "price", "type": "Float!"}, {"name": "sku", "type": "String!"}],
    }
    assert query(client, "create_action", {"name": "set_price", "definition": sql}).status_code == 200
    table = {"table": {"source": "shop", "table": "orders", "operation": "insert"}}
    assert query(client, "create_action", {"name": "new_order", "definition": table}).status_code == 200
    system = "sqlite" if source_url.startswith("sqlite") else "postgresql"

    exporter.clear()
    assert run(client, "set_price", CALLER, price=12.25, sku="A1").status_code == 200
    ran, transaction = named(exporter, "run set_price"), named(exporter, "UPDATE shop")
    assert transaction.kind == SpanKind.CLIENT and parent_of(transaction) == hexed(ran)[1]
    assert hexed(transaction)[0] == TRACE_ID
    assert transaction.attributes is not None and dict(transaction.attributes) == {
        "db.system.name": system,
        "db.namespace": "shop",
        "db.operation.name": "UPDATE",
        # The statement with its tags, never a bound value.
        "db.query.text": "UPDATE products SET price = :price WHERE sku = :sku",
    }

    exporter.clear()
    assert run(client, "new_order", CALLER, product_id=2).status_code == 200
    ran, transaction = named(exporter, "run new_order"), named(exporter, "INSERT orders")
    assert ran.attributes is not None and ran.attributes["switchboard.handler"] == "table"
    assert parent_of(transaction) == hexed(ran)[1]
    assert transaction.attributes is not None and transaction.attributes["db.collection.name"] == "orders"
    assert transaction.attributes["db.system.name"] == system

    # A statement the database refuses: the caller's error (400), recorded as such.
    exporter.clear()
    assert run(client, "set_price", price=-1, sku="A1").status_code == 400
    transaction = named(exporter, "UPDATE shop")
    assert transaction.attributes is not None
    assert transaction.attributes["switchboard.outcome"] == "error"
    assert transaction.attributes["error.type"] == "constraint-violation"
    assert transaction.status.status_code == StatusCode.UNSET


def test_failures_are_recorded_on_the_spans(traced: Traced, webhook: Webhook) -> None:
    client, exporter = traced()
    define(client, "down", webhook.respond("/down", status=500, body={}))
    define(client, "refuses", webhook.respond("/refuses", status=400, body={"message": "no"}))
    define(client, "slow", webhook.respond("/slow", body={"n": 1}, delay=3), timeout=1)

    exporter.clear()
    assert run(client, "down").status_code == 502
    server, ran, called = named(exporter, "POST /v1/query"), named(exporter, "run down"), named(exporter, "POST")
    assert called.status.status_code == StatusCode.ERROR
    assert called.attributes is not None and called.attributes["http.response.status_code"] == 500
    assert ran.status.status_code == StatusCode.ERROR
    assert ran.attributes is not None and ran.attributes["switchboard.outcome"] == "failed"
    assert ran.attributes["error.type"] == "unexpected"
    assert server.status.status_code == StatusCode.ERROR
    assert server.attributes is not None and server.attributes["http.response.status_code"] == 502

    # The handler's refusal is the caller's error: recorded, not a failure of the service.
    exporter.clear()
    assert run(client, "refuses").status_code == 400
    ran = named(exporter, "run refuses")
    assert ran.status.status_code == StatusCode.UNSET
    assert ran.attributes is not None and ran.attributes["switchboard.outcome"] == "error"

    exporter.clear()
    assert run(client, "slow").status_code == 504
    ran, called = named(exporter, "run slow"), named(exporter, "POST")
    assert ran.attributes is not None and ran.attributes["switchboard.outcome"] == "timeout"
    assert called.status.status_code == StatusCode.ERROR


def test_an_unsampled_caller_is_followed(traced: Traced, webhook: Webhook) -> None:
    """A caller that does not sample its trace: nothing is recorded, and the handler still gets
    the trace, unsampled, under a span id of Switchboard's."""
    client, exporter = traced()
    define(client, "now", webhook.respond("/now", body={"n": 1}))
    exporter.clear()
    run(client, "now", {"traceparent": f"00-{TRACE_ID}-{CALLER_SPAN}-00"})
    assert exporter.get_finished_spans() == ()
    trace_id, span_id, flags = parts(webhook.calls("/now")[0].headers["traceparent"])
    assert (trace_id, flags) == (TRACE_ID, "00") and span_id != CALLER_SPAN


def test_probes_and_scrapes_are_not_traced(traced: Traced) -> None:
    client, exporter = traced()
    exporter.clear()
    assert client.get("/healthz").status_code == 200
    assert client.get("/metrics").status_code == 200
    assert exporter.get_finished_spans() == ()
    # A path no route serves is named by its method only: span names stay few.
    assert client.get("/no/such/path", headers=CALLER).status_code == 404
    assert named(exporter, "GET").attributes is not None


# --- export over OTLP/HTTP ------------------------------------------------------------------------


@pytest.fixture
def receiver() -> Iterator[OtlpReceiver]:
    received = OtlpReceiver()
    yield received
    received.close()


def test_spans_are_exported_to_an_otlp_collector(database_url: str, webhook: Webhook, receiver: OtlpReceiver) -> None:
    config = load_config(environ={"SWITCHBOARD_DATABASE_URL": database_url, "SWITCHBOARD_OTLP_ENDPOINT": receiver.url})
    with TestClient(create_app(config)) as client:
        define(client, "now", webhook.respond("/now", body={"n": 1}))
        define(client, "later", webhook.respond("/later", body={"n": 2}), kind="asynchronous")
        assert run(client, "now", CALLER).json() == {"output": {"n": 1}}
        assert "action_id" in run(client, "later", CALLER).json()
        wait_for(lambda: webhook.calls("/later"))
    # Stopping the server sends what is still batched.
    assert receiver.requests >= 1
    assert receiver.content_types == {"application/x-protobuf"}
    ours = [span for span in receiver.spans if span.trace_id == TRACE_ID]
    assert {span.service for span in receiver.spans} == {"switchboard"}
    by_id = {span.span_id: span for span in ours}
    for path in ("/now", "/later"):
        # The handler's parent is an exported CLIENT span, child of its run, in the caller's trace.
        trace_id, parent, _ = parts(webhook.calls(path)[0].headers["traceparent"])
        assert trace_id == TRACE_ID
        called = by_id[parent]
        assert called.kind == 3 and called.name == "POST"
        ran = by_id[called.parent_span_id]
        assert ran.name == f"run {path[1:]}" and ran.attributes["switchboard.action"] == path[1:]
    assert by_id[by_id[parent].parent_span_id].kind == 5  # the async run: a CONSUMER
    servers = [span for span in ours if span.kind == 2]
    assert len(servers) == 2 and {span.parent_span_id for span in servers} == {CALLER_SPAN}
    assert all(span.attributes["http.route"] == "/v1/query" for span in servers)


def test_the_setting_and_a_missing_extra(monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture) -> None:
    assert load_config(environ={"SWITCHBOARD_OTLP_ENDPOINT": "http://collector:4318"}).otlp_endpoint == (
        "http://collector:4318"
    )
    for wrong in ("collector:4318", "ftp://collector", "http://", "http://collector:4318/ path"):
        with pytest.raises(ConfigError, match="otlp_endpoint must be an http:// or https:// URL"):
            load_config(environ={"SWITCHBOARD_OTLP_ENDPOINT": wrong})
    assert traces_url("http://collector:4318") == "http://collector:4318/v1/traces"
    assert traces_url("https://collector/otlp/") == "https://collector/otlp/v1/traces"
    assert traces_url("http://collector:4318/v1/traces") == "http://collector:4318/v1/traces"
    assert start_tracing(None) is None
    assert fit_traceparent(TRACEPARENT) and not fit_traceparent(TRACEPARENT + " ")

    # Without the [otel] extra (its exporter cannot be imported), the server runs untraced and says so.
    monkeypatch.setitem(sys.modules, "opentelemetry.exporter.otlp.proto.http.trace_exporter", None)
    with caplog.at_level(logging.WARNING, "switchboard.tracing"):
        assert start_tracing("http://collector:4318") is None
    assert "pip install 'switchboard[otel]'" in caplog.text
