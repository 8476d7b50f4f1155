"""Operating the server: request ids, access log lines, /metrics, start-up and its failures."""

from __future__ import annotations

import json
import os
import re
import subprocess
import time
from pathlib import Path
from typing import Any

import httpx2 as httpx
import jwt
import pytest
from prometheus_client.parser import text_string_to_metric_families
from starlette.testclient import TestClient

from rpc.config import ConfigError, load_config
from tests.conftest import PG_URL, ClientFactory, _pg_admin, query
from tests.processes import SWITCHBOARD, ServerProcess, free_port
from tests.webhook import Webhook

TYPES = {"objects": [{"name": "Out", "fields": [{"name": "n", "type": "Int!"}]}]}


def define(client: TestClient, name: str, handler: str, **definition: Any) -> None:
    if query(client, "export_metadata").json().get("custom_types") is None:
        assert query(client, "set_custom_types", TYPES).status_code == 200
    args = {"name": name, "definition": {"handler": handler, "output_type": "Out", **definition}}
    assert query(client, "create_action", args).status_code == 200


def run(client: TestClient, name: str, headers: dict[str, str] | None = None) -> Any:
    return query(client, "run_action", {"name": name, "input": {}}, headers=headers)


def wait_for(predicate: Any, seconds: float = 20) -> None:
    deadline = time.monotonic() + seconds
    while not predicate():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.02)


# --- request ids ---------------------------------------------------------------------------------


def test_a_request_id_is_taken_or_made_and_answered(client: TestClient) -> None:
    assert client.get("/healthz", headers={"X-Request-Id": "abc-123"}).headers["x-request-id"] == "abc-123"
    made = client.get("/healthz").headers["x-request-id"]
    assert re.fullmatch("[0-9a-f]{32}", made)
    assert client.get("/healthz").headers["x-request-id"] != made
    # Too long, or not plain ASCII: replaced (it goes into every log line and the handler's headers).
    for unfit in ("x" * 200, "caf\u00e9".encode(), "two words", ""):
        answered = client.get("/healthz", headers={"X-Request-Id": unfit}).headers["x-request-id"]
        assert re.fullmatch("[0-9a-f]{32}", answered)
    assert query(client, "no_such_operation", headers={"X-Request-Id": "r-9"}).headers["x-request-id"] == "r-9"


def test_webhooks_get_the_request_id_sync_and_async(make_client: ClientFactory, webhook: Webhook) -> None:
    client = make_client()
    define(client, "now", webhook.respond("/now", body={"n": 1}))
    define(client, "later", webhook.respond("/later", body={"n": 2}), kind="asynchronous")
    assert run(client, "now", {"X-Request-Id": "sync-1"}).json() == {"output": {"n": 1}}
    assert webhook.calls("/now")[0].headers["x-request-id"] == "sync-1"
    answer = run(client, "now")
    assert webhook.calls("/now")[1].headers["x-request-id"] == answer.headers["x-request-id"]
    # An async run carries the id of the request that queued it to its webhook.
    assert "action_id" in run(client, "later", {"X-Request-Id": "queued-7"}).json()
    wait_for(lambda: webhook.calls("/later"))
    assert webhook.calls("/later")[0].headers["x-request-id"] == "queued-7"


# --- metrics -------------------------------------------------------------------------------------


def scrape(
    client: TestClient, headers: dict[str, str] | None = None
) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    response = client.get("/metrics", headers=headers)
    assert response.status_code == 200, response.text
    assert response.headers["content-type"].startswith("text/plain")
    return {
        (sample.name, tuple(sorted(sample.labels.items()))): sample.value
        for family in text_string_to_metric_families(response.text)
        for sample in family.samples
    }


def value(samples: dict[tuple[str, tuple[tuple[str, str], ...]], float], name: str, **labels: str) -> float:
    return samples.get((name, tuple(sorted(labels.items()))), 0.0)


def test_metrics_count_requests_runs_and_the_queue(make_client: ClientFactory, webhook: Webhook) -> None:
    client = make_client(metrics_per_action="histograms")
    define(client, "ok", webhook.respond("/ok", body={"n": 1}))
    define(client, "down", webhook.respond("/down", status=500, body={}))
    define(client, "refuses", webhook.respond("/refuses", status=400, body={"message": "no"}))
    define(client, "later", webhook.respond("/later", body={"n": 2}), kind="asynchronous")
    for name in ("ok", "ok", "down", "refuses"):
        run(client, name)
    query(client, "no_such_operation")
    client.post("/v1/query", content=b"[[[")
    assert "action_id" in run(client, "later").json()
    wait_for(lambda: webhook.calls("/later"))

    samples = scrape(client)
    assert value(samples, "switchboard_requests_total", operation="run_action", status="200") == 3
    assert value(samples, "switchboard_requests_total", operation="run_action", status="502") == 1
    assert value(samples, "switchboard_requests_total", operation="run_action", status="400") == 1
    assert value(samples, "switchboard_requests_total", operation="unknown", status="400") == 1
    assert value(samples, "switchboard_requests_total", operation="invalid", status="400") == 1
    assert value(samples, "switchboard_request_duration_seconds_count", operation="create_action") == 4
    runs = "switchboard_action_runs_total"
    assert value(samples, runs, action="ok", kind="sync", outcome="completed") == 2
    assert value(samples, runs, action="down", kind="sync", outcome="failed") == 1
    assert value(samples, runs, action="refuses", kind="sync", outcome="error") == 1
    wait_for(lambda: value(scrape(client), runs, action="later", kind="async", outcome="completed") == 1)
    assert value(samples, "switchboard_action_run_duration_seconds_count", action="ok", kind="sync") == 2
    assert value(samples, "switchboard_handler_duration_seconds_count", action="ok", handler="webhook") == 2
    assert value(samples, "switchboard_metadata_resource_version") == client.app.state.runtime.store.resource_version
    assert value(samples, "switchboard_store_errors_total") == 0
    assert value(samples, "process_open_fds") > 0


def test_by_default_the_metrics_stay_the_same_size_however_many_actions_ran(
    make_client: ClientFactory, webhook: Webhook
) -> None:
    """With a series per action (histograms above all), 2,000 actions that had run once made a
    6.6 MB scrape: by default runs are counted and timed by kind, handler and outcome only."""
    client = make_client()
    handler = webhook.respond("/ok", body={"n": 1})
    define(client, "a0", handler)
    run(client, "a0")
    runs = ("switchboard_action_run", "switchboard_handler_duration")

    def run_lines() -> int:
        return sum(line.startswith(runs) for line in client.get("/metrics").text.splitlines())

    before = run_lines()
    actions = [
        {"name": f"a{i}", "definition": {"handler": handler, "output_type": "Out", "arguments": []}}
        for i in range(1, 300)
    ]
    bulk = [{"type": "create_action", "args": action} for action in actions]
    assert query(client, "bulk", bulk).status_code == 200
    for action in actions:
        assert run(client, action["name"]).status_code == 200
    samples = scrape(client)
    assert value(samples, "switchboard_action_runs_total", kind="sync", outcome="completed") == 300
    assert value(samples, "switchboard_action_run_duration_seconds_count", kind="sync") == 300
    assert value(samples, "switchboard_handler_duration_seconds_count", handler="webhook") == 300
    assert run_lines() == before
    assert "action=" not in client.get("/metrics").text
    counted = make_client(metrics_per_action="counters")  # on the same store: one series per action
    assert run(counted, "a1").status_code == 200
    samples = scrape(counted)
    assert value(samples, "switchboard_action_runs_total", action="a1", kind="sync", outcome="completed") == 1
    assert value(samples, "switchboard_action_run_duration_seconds_count", kind="sync") == 1


def test_the_queue_as_metrics_when_no_worker_runs_it(make_client: ClientFactory, webhook: Webhook) -> None:
    client = make_client(async_workers=0)
    define(client, "later", webhook.respond("/later", body={"n": 2}), kind="asynchronous")
    for _ in range(3):
        assert "action_id" in run(client, "later").json()
    time.sleep(0.05)
    samples = scrape(client)  # read from the store at scrape time
    assert value(samples, "switchboard_async_queue_depth") == 3
    assert value(samples, "switchboard_async_oldest_waiting_seconds") >= 0.05


def test_metrics_secret(make_client: ClientFactory) -> None:
    client = make_client(metrics_secret="s3cret", admin_secret="admin")
    for headers in (
        {},
        {"Authorization": "Bearer wrong"},
        {"Authorization": "s3cret"},
        {"X-Hasura-Admin-Secret": "admin"},
    ):
        denied = client.get("/metrics", headers=headers)
        assert denied.status_code == 401
        assert denied.json()["code"] == "access-denied"
    assert "switchboard_requests_total" in client.get("/v1/metrics", headers={"Authorization": "Bearer s3cret"}).text
    scrape(client, {"Authorization": "bearer s3cret"})


def test_store_errors_are_counted_and_metrics_still_answer() -> None:
    name = f"sb_test_metrics_gone_{os.getpid()}"
    _pg_admin(f'CREATE DATABASE "{name}"')
    try:
        from rpc.app import create_app
        from rpc.config import Config

        with TestClient(create_app(Config(database_url=PG_URL.rsplit("/", 1)[0] + f"/{name}"))) as client:
            assert value(scrape(client), "switchboard_store_errors_total") == 0
            _pg_admin(f'DROP DATABASE "{name}" WITH (FORCE)')
            assert client.get("/healthz").status_code == 503
            assert query(client, "get_action_log").status_code == 503
            samples = scrape(client)
            assert value(samples, "switchboard_store_errors_total") >= 3  # healthz, the query, the scrape
            assert value(samples, "switchboard_async_queue_depth") != value(samples, "switchboard_async_queue_depth")
    finally:
        _pg_admin(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


# --- the real process: log lines, start-up ------------------------------------------------------


def lines(log: Path) -> list[dict[str, Any]]:
    return [json.loads(line) for line in log.read_text().splitlines()]


def test_json_log_lines_of_a_real_server(tmp_path: Path, webhook: Webhook) -> None:
    log = tmp_path / "server.log"
    secret = "do-not-log-me"
    server = ServerProcess(tmp_path, log=log, log_level="info", log_format="json", admin_secret=secret)
    admin = {"X-Hasura-Admin-Secret": secret}
    try:
        with httpx.Client(base_url=server.url, headers=admin) as http:
            http.post("/v1/query", json={"type": "set_custom_types", "args": TYPES})
            down = webhook.respond("/down", status=500, body={})
            args = {"name": "down", "definition": {"handler": down, "output_type": "Out"}}
            http.post("/v1/query", json={"type": "create_action", "args": args})
            failed = http.post(
                "/v1/query?token=x",
                json={"type": "run_action", "args": {"name": "down"}},
                headers={"X-Request-Id": "r-1"},
            )
            assert failed.status_code == 502
            http.post("/v1/query", json={"type": "export_metadata", "args": {}}, headers={"X-Hasura-Role": "user"})
            http.get("/no/such\npath".replace("\n", "%0A"))
    finally:
        server.stop()
    entries = lines(log)
    assert secret not in log.read_text()
    started = entries[0]
    assert started["level"] == "info" and started["request_id"] == "-"
    assert f"listening on http://127.0.0.1:{server.port}, store sqlite:///./switchboard.db" in started["message"]
    access = [e for e in entries if e["logger"] == "switchboard.access"]
    [run_line] = [e for e in access if e["request_id"] == "r-1"]
    assert run_line["method"] == "POST" and run_line["path"] == "/v1/query"  # never the query string
    assert (run_line["operation"], run_line["role"], run_line["status"]) == ("run_action", "admin", 502)
    assert run_line["duration_ms"] > 0
    # Every line of that request carries its id: here the handler's failure.
    [failure] = [e for e in entries if e["logger"] == "switchboard.runs"]
    assert failure["request_id"] == "r-1" and failure["level"] == "warning"
    assert 'action "down" failed (sync run, 502 unexpected)' in failure["message"]
    assert any(e["operation"] == "export_metadata" and e["role"] == "user" and e["status"] == 400 for e in access)
    assert any(e["path"] == "/no/such\\x0apath" and e["status"] == 404 for e in access)
    assert entries[-1]["message"] == "switchboard stopped"


def test_text_log_lines(tmp_path: Path) -> None:
    log = tmp_path / "server.log"
    server = ServerProcess(tmp_path, log=log, log_level="info")
    try:
        httpx.get(f"{server.url}/healthz", headers={"X-Request-Id": "t-1"})
    finally:
        server.stop()
    text = log.read_text()
    assert re.search(r"^\S+Z INFO switchboard \[-\] switchboard \S+ listening on http://127\.0\.0\.1:\d+, store ", text)
    assert re.search(r"\n\S+Z INFO switchboard\.access \[t-1\] GET /healthz - - 200 \d+\.\dms\n", text)
    assert "Uvicorn running" not in text and "Traceback" not in text


@pytest.mark.parametrize("log_format", ["text", "json"])
def test_a_log_line_per_event_whatever_callers_send(tmp_path: Path, webhook: Webhook, log_format: str) -> None:
    """A role with line breaks (from a token, or a handler's answer in an error) cannot split a
    text line into a forged one, and a lone surrogate (JSON's "\\ud800") in a claim is refused
    with 400, not a 500 whose traceback broke the JSON log."""
    log = tmp_path / "server.log"
    key = "k" * 32
    server = ServerProcess(
        tmp_path,
        log=log,
        log_level="info",
        log_format=log_format,
        admin_secret="s",
        jwt_secret=json.dumps({"type": "HS256", "key": key}),
    )
    forged = "user\n2026-01-01T00:00:00.000Z INFO switchboard.access [x] GET /forged\u2028\x85"
    enum = {"name": "Color", "values": [{"value": "RED"}]}
    types = {"enums": [enum], "objects": [{"name": "Paint", "fields": [{"name": "c", "type": "Color!"}]}]}

    def bearer(role: str, user: str) -> dict[str, str]:
        claims = {"x-hasura-allowed-roles": [role], "x-hasura-default-role": role, "x-hasura-user-id": user}
        return {"Authorization": "Bearer " + jwt.encode({"https://hasura.io/jwt/claims": claims}, key, "HS256")}

    try:
        with httpx.Client(base_url=server.url, headers={"X-Hasura-Admin-Secret": "s"}) as http:
            assert http.post("/v1/query", json={"type": "set_custom_types", "args": types}).status_code == 200
            handler = webhook.respond("/paint", body={"c": "BLUE\nERROR forged"})
            args = {"name": "paint", "definition": {"handler": handler, "output_type": "Paint"}}
            assert http.post("/v1/query", json={"type": "create_action", "args": args}).status_code == 200
            assert http.post("/v1/query", json={"type": "run_action", "args": {"name": "paint"}}).status_code == 502
        body = {"type": "run_action", "args": {"name": "paint"}}
        refused = httpx.post(f"{server.url}/v1/query", json=body, headers=bearer(forged, "1"))
        assert refused.status_code == 400
        surrogate = httpx.post(f"{server.url}/v1/query", json=body, headers=bearer("user", "u\ud800"))
        assert surrogate.status_code == 400, surrogate.text
        assert surrogate.json()["code"] == "jwt-invalid-claims"
    finally:
        server.stop()
    text = log.read_text()
    assert "Traceback" not in text and "\u2028" not in text and "\x85" not in text
    if log_format == "json":
        entries = lines(log)  # every line is one JSON object
        assert any(e["role"] == forged and e["status"] == 400 for e in entries if e["logger"] == "switchboard.access")
    else:
        for line in text.splitlines():
            assert re.match(r"\S+Z (INFO|WARNING) switchboard(\.\w+)? \[[\w-]+\] ", line), line
        assert "GET /forged" in text and "/forged\\u2028\\x85" in text
    assert sum("POST /v1/query" in line for line in text.splitlines()) == 5


def test_warning_level_writes_no_access_lines(tmp_path: Path) -> None:
    log = tmp_path / "server.log"
    server = ServerProcess(tmp_path, log=log)  # log_level: warning
    try:
        httpx.get(f"{server.url}/healthz")
    finally:
        server.stop()
    assert log.read_text() == ""


MISSING = PG_URL.rsplit("/", 1)[0] + "/sb_no_such_database"
SHOWN = MISSING.replace("postgresql://", "")


@pytest.mark.parametrize(
    ("environ", "message"),
    [
        ({"DATABASE_URL": MISSING}, f'the store postgresql://{SHOWN}: database "sb_no_such_database" does not exist'),
        ({"DATABASE_URL": "postgresql://u:pw@127.0.0.1:{closed}/db"},"u:***@127.0.0.1:{closed}/db: connection refused"),
        ({"DATABASE_URL": "no/such/directory/x.db"}, "the store no/such/directory/x.db: unable to open database file"),
        ({"DATABASE_URL": "oracle://u:pw@h/db"}, "cannot use the store oracle://u:***@h/db: "),
        ({"LOG_LEVEL": "verbose"}, "LOG_LEVEL: Invalid enum value 'verbose'; expected one of critical, error, "),
        ({"DATABSE_URL": "x"}, "SWITCHBOARD_DATABSE_URL is not a setting (did you mean SWITCHBOARD_DATABASE_URL?)"),
    ],
)  # fmt: skip
def test_a_server_that_cannot_start_says_why_in_one_line(tmp_path: Path, environ: dict[str, str], message: str) -> None:
    closed = str(free_port())
    env = {k: v for k, v in os.environ.items() if not k.startswith("SWITCHBOARD_")}
    env |= {f"SWITCHBOARD_{k}": v.replace("{closed}", closed) for k, v in environ.items()}
    env |= {"SWITCHBOARD_PORT": str(free_port())}
    done = subprocess.run([SWITCHBOARD, "serve"], cwd=tmp_path, env=env, capture_output=True, text=True, timeout=60)
    assert done.returncode == 1
    assert done.stderr.count("\n") == 1, done.stderr
    assert done.stderr.startswith("error: "), done.stderr
    assert message.replace("{closed}", closed) in done.stderr
    assert "pw" not in done.stderr


def test_a_port_in_use_is_one_line(tmp_path: Path) -> None:
    first = ServerProcess(tmp_path)
    try:
        env = {k: v for k, v in os.environ.items() if not k.startswith("SWITCHBOARD_")}
        env |= {"SWITCHBOARD_PORT": str(first.port), "SWITCHBOARD_LOG_LEVEL": "warning"}
        done = subprocess.run([SWITCHBOARD, "serve"], cwd=tmp_path, env=env, capture_output=True, text=True, timeout=60)
    finally:
        first.stop()
    # One line of ours, naming the way out: no uvicorn log line, no traceback.
    assert (done.returncode, done.stdout) == (1, "")
    assert done.stderr == (
        f"error: cannot listen on 127.0.0.1:{first.port}: the port is already in use (another server?); "
        "choose another with --port (or the port setting)\n"
    )


def test_version() -> None:
    done = subprocess.run([SWITCHBOARD, "--version"], capture_output=True, text=True, timeout=30)
    assert re.fullmatch(r"switchboard \d+\.\d+\.\d+\S*\n", done.stdout)


def test_settings_of_logging_and_metrics() -> None:
    loaded = load_config(None, {"SWITCHBOARD_LOG_FORMAT": "json", "SWITCHBOARD_METRICS_SECRET": "m"})
    assert (loaded.log_format, loaded.metrics_secret) == ("json", "m")
    with pytest.raises(
        ConfigError, match="SWITCHBOARD_LOG_FORMAT: Invalid enum value 'xml'; expected one of text, json"
    ):
        load_config(None, {"SWITCHBOARD_LOG_FORMAT": "xml"})
    # The CLI's and the tests' own variables are not settings, and not errors.
    load_config(None, {"SWITCHBOARD_ENDPOINT": "http://x", "SWITCHBOARD_TEST_POSTGRES_URL": "postgresql://x"})
