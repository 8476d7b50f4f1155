"""Hasura's own action tests, their GraphQL steps (server/tests-py/queries/actions/**, and the
requests test_actions.py makes itself), ported to tests/hasura/graphql/<group>/*.yaml and run
through Switchboard's real /v1/graphql, answers compared exactly as Hasura's harness compares them
(the status and the whole JSON body, the fields of `data` in the selection's order; `"@any"` only
where Hasura's Python test checks nothing).

A group is a directory, set up as Hasura's test class sets it up, by its `schema_setup.yaml`:
`run_sql`, the tables Hasura's run_sql makes (made here straight in the source database, on
PostgreSQL and on SQLite); `values_teardown`, what Hasura runs after each test; the metadata
(`metadata_from`, a step of an existing port in tests/hasura/, then `metadata`), applied on
/v1/metadata after adding the source `default`. Each group is set up once per backend and module:
a real uvicorn server with an admin secret, a store and a source database of its own, and
Hasura's test webhook (tests/hasura_webhook.py's HasuraWebhookServer, answering exactly as
Hasura's does) inserting into and reading that source's `user` table. Before each file, the
values_teardown runs, the rows test_actions.py inserts first are inserted (`rows`), and metadata
a previous file left changed is put back.

As in Hasura's harness, every request carries the admin secret, a step's `headers` (a role,
session variables) beside it, and handlers are `{{ACTION_WEBHOOK_HANDLER}}/...`, the environment
variable naming the webhook (older upstream files' `http://127.0.0.1:5593` is read as that).

A step may `save` values of its answer (`{name: [path, ...]}`) that later steps use as
`{{name}}`, poll for `retry_for` seconds (Hasura's check_query_timeout, for asynchronous results),
run `repeat` times, and expect `response_headers` (`{name: [values]}`).
A step with `xfail_reason` is a known defect of Switchboard's: the file's test xfails when such
steps fail and every other passes, and fails when one of them passes (strict).
"""

from __future__ import annotations

import json
import os
import re
import time
from collections.abc import Callable, Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import graphql
import httpx2 as httpx
import msgspec
import pytest
import yaml

from rpc.config import Config
from tests.conftest import BACKENDS, Served, _database
from tests.hasura_webhook import HasuraWebhookServer
from tests.shop import sql
from tests.test_scenarios import matches

HERE = Path(__file__).parent / "hasura"
PORTED = HERE / "graphql"
SETUP = "schema_setup.yaml"
FILES = sorted(f for f in PORTED.glob("*/*.yaml") if f.name != SETUP)
SECRET = "hasura-test-secret"
ADMIN = {"X-Hasura-Admin-Secret": SECRET}
HANDLER_ENV = "ACTION_WEBHOOK_HANDLER"


def substitute(value: Any, replace: Callable[[str], str]) -> Any:
    if isinstance(value, str):
        return replace(value)
    if isinstance(value, list):
        return [substitute(v, replace) for v in value]
    if isinstance(value, dict):
        return {k: substitute(v, replace) for k, v in value.items()}
    return value


def load(path: Path) -> Any:
    return substitute(
        yaml.safe_load(path.read_text()), lambda s: s.replace("http://127.0.0.1:5593", "{{" + HANDLER_ENV + "}}")
    )


def statements(script: str, url: str) -> list[str]:
    """Hasura's run_sql (PostgreSQL) as statements. On SQLite a SERIAL key is an INTEGER PRIMARY
    KEY, which starts again after the largest id left (no sequence to set)."""
    found = [s.strip() for s in script.split(";") if s.strip()]
    if url.startswith("sqlite"):
        found = [s.replace("SERIAL PRIMARY KEY", "INTEGER PRIMARY KEY") for s in found if "setval(" not in s]
    return found


@contextmanager
def handler_env(url: str) -> Iterator[None]:
    """ACTION_WEBHOOK_HANDLER names this webhook while the block runs (the server reads it at
    call time; a worker runs one test at a time)."""
    before = os.environ.get(HANDLER_ENV)
    os.environ[HANDLER_ENV] = url
    try:
        yield
    finally:
        if before is None:
            del os.environ[HANDLER_ENV]
        else:
            os.environ[HANDLER_ENV] = before


@dataclass
class Env:
    """One group's setup on one backend."""

    served: Served
    source_url: str
    webhook_url: str
    values_teardown: list[str]
    baseline: dict[str, Any] = field(default_factory=dict)

    def post(self, path: str, body: Any, headers: dict[str, str] | None = None) -> httpx.Response:
        return httpx.post(f"{self.served.url}{path}", json=body, headers={**ADMIN, **(headers or {})}, timeout=60)

    def metadata(self, body: Any) -> Any:
        response = self.post("/v1/metadata", body)
        assert response.status_code == 200, f"{body.get('type')}: {response.text}"
        return response.json()

    def exported(self) -> dict[str, Any]:
        document = dict(self.metadata({"type": "export_metadata", "args": {}}))
        document.pop("resource_version", None)
        return document

    def reset(self, rows: list[dict[str, Any]]) -> None:
        """Hasura's values_teardown, the rows the test inserts first, and the setup's metadata if
        a file left it changed."""
        for statement in self.values_teardown:
            sql(self.source_url, statement)
        for row in rows:
            columns, values = ", ".join(row), ", ".join(f":{c}" for c in row)
            sql(self.source_url, f'INSERT INTO "user" ({columns}) VALUES ({values})', **row)
        if self.source_url.startswith("postgresql") and any("id" in row for row in rows):
            sql(self.source_url, """SELECT setval('user_id_seq', (SELECT max(id) FROM "user"))""")
        if self.exported() != self.baseline:
            self.metadata({"type": "replace_metadata", "args": self.baseline})


def _setup_metadata(setup: dict[str, Any]) -> list[dict[str, Any]]:
    envelopes: list[dict[str, Any]] = []
    if "metadata_from" in setup:
        source = setup["metadata_from"]
        [step] = [s for s in load(HERE / source["file"])["steps"] if s["description"] == source["step"]]
        envelopes += step["query"]["args"]
    return envelopes + setup.get("metadata", [])


@contextmanager
def _env(group: str, backend: str, directory: Path) -> Iterator[Env]:
    with ExitStack() as stack:
        store = stack.enter_context(contextmanager(_database)(backend, directory, f"hg_{group}_store"))
        source = stack.enter_context(contextmanager(_database)(backend, directory, f"hg_{group}_source"))
        webhook = HasuraWebhookServer(source)
        stack.callback(webhook.close)
        setup = load(PORTED / group / SETUP)
        for statement in statements(setup.get("run_sql", ""), source):
            sql(source, statement)
        served = Served(msgspec.convert({"database_url": store, "admin_secret": SECRET}, Config))
        stack.callback(served.stop)
        env = Env(served, source, webhook.url, statements(setup.get("values_teardown", ""), source))
        add_source = {"type": "add_source", "args": {"name": "default", "url": source}}
        with handler_env(webhook.url):
            env.metadata({"type": "bulk", "args": [add_source, *_setup_metadata(setup)]})
        env.baseline = env.exported()
        yield env


@pytest.fixture(scope="module")
def envs(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Callable[[str, str], Env]]:
    """Each group's setup on each backend, made when a test first needs it, kept for the module."""
    made: dict[tuple[str, str], Env] = {}
    with ExitStack() as stack:

        def get(group: str, backend: str) -> Env:
            if (group, backend) not in made:
                directory = tmp_path_factory.mktemp(f"{group}-{backend}")
                made[group, backend] = stack.enter_context(_env(group, backend, directory))
            return made[group, backend]

        yield get


def in_order(expected: Any, actual: Any, query: str) -> bool:
    """Whether the objects of `data` that answer a selection set list their fields in the order
    `expected` does, as Hasura's harness checks (its collapse_order_not_selset: other objects, JSON
    values, `errors`, are compared unordered; a document it cannot walk, with fragments, wholly
    unordered)."""

    def walk(expected: Any, actual: Any, selections: Any) -> bool:
        if expected == "@any":
            return True
        if list(expected) != list(actual):
            return False
        for selection in selections.selections:
            name = selection.alias.value if selection.alias else selection.name.value
            inner, value = selection.selection_set, expected[name]
            if inner is None or not isinstance(value, dict | list):
                continue
            pairs = zip(value, actual[name], strict=True) if isinstance(value, list) else [(value, actual[name])]
            if not all(walk(e, a, inner) for e, a in pairs):
                return False
        return True

    try:
        return walk(expected, actual, graphql.parse(query).definitions[0].selection_set)
    except (AttributeError, KeyError, TypeError, ValueError, graphql.GraphQLError):
        return True


def _dig(answer: Any, path: list[Any]) -> Any:
    for key in path:
        answer = answer[key]
    return answer


def _run_step(env: Env, step: dict[str, Any], saved: dict[str, str]) -> str | None:
    """Runs one step; returns what was wrong with its answer, or None."""
    step = substitute(step, lambda s: re.sub(r"\{\{(\w+)\}\}", lambda m: saved.get(m[1], m[0]), s))
    deadline = time.monotonic() + step.get("retry_for", 0)
    while True:
        response = env.post(step["url"], step["query"], step.get("headers"))
        try:
            answer = response.json()
        except ValueError:
            answer = response.text
        wrong = None
        if response.status_code != step["status"]:
            wrong = f"status {response.status_code}, expected {step['status']}"
        elif "response" in step and not matches(step["response"], answer):
            wrong = "a different answer"
        elif "data" in step.get("response", {}) and not in_order(
            step["response"]["data"], answer["data"], step["query"]["query"]
        ):
            wrong = "the fields of `data` not in the selection's order"
        for name, values in step.get("response_headers", {}).items():
            if response.headers.get_list(name) != values:
                wrong = f"{name}: {response.headers.get_list(name)}, expected {values}"
        if wrong is None or time.monotonic() > deadline:
            break
        time.sleep(0.1)
    if wrong is not None:
        expected = json.dumps(step.get("response"), sort_keys=True)
        return f"{wrong}\n  expected: {expected}\n  actual:   {json.dumps(answer, sort_keys=True)}"
    for name, path in step.get("save", {}).items():
        saved[name] = str(_dig(answer, path))
    return None


def _cases() -> list[Any]:
    cases = []
    for ported in FILES:
        group = ported.parent.name
        for backend in BACKENDS:
            mark = pytest.mark.xdist_group(f"hasura-graphql-{group}-{backend}")
            cases.append(pytest.param(ported, backend, id=f"{group}/{ported.stem}-{backend}", marks=mark))
    return cases


@pytest.mark.parametrize(("ported", "backend"), _cases())
def test_hasura_graphql(ported: Path, backend: str, envs: Callable[[str, str], Env]) -> None:
    env = envs(ported.parent.name, backend)
    spec = load(ported)
    saved: dict[str, str] = {}
    failed, xfailed, xpassed = [], [], []
    with handler_env(env.webhook_url):
        env.reset(spec.get("rows", []))
        for i, step in enumerate(spec["steps"]):
            where = f"{ported.parent.name}/{ported.name} step {i} ({step.get('description', '')})"
            wrong = None
            for _ in range(step.get("repeat", 1)):
                wrong = wrong or _run_step(env, step, saved)
            if "xfail_reason" in step:
                (xpassed if wrong is None else xfailed).append(f"{where}: {step['xfail_reason']}")
            elif wrong is not None:
                failed.append(f"{where}: {wrong}")
    if failed or xpassed:
        pytest.fail("\n".join(failed + [f"XPASS(strict) {x}" for x in xpassed]), pytrace=False)
    if xfailed:
        pytest.xfail("; ".join(xfailed))
