"""GraphiQL in the console (graphiql's vendored browser build): queries and mutations over POST
/v1/graphql and subscriptions over a graphql-transport-ws websocket, with the signed-in
credentials and a chosen role; "Try in GraphiQL" from an action's page.

Same browser and webhook as tests/test_console.py (its fixtures, one xdist group); a server of
this module's own, since the custom types these tests add are no other test's.
"""

from __future__ import annotations

import json
import re
import time
from collections.abc import Iterator
from typing import Any

import pytest
from playwright.sync_api import Page, expect

from tests.console_fixtures import SECRET
from tests.processes import ServerProcess
from tests.test_console import define, open_page, query, sign_in
from tests.webhook import Webhook

pytestmark = pytest.mark.xdist_group("console")


@pytest.fixture(scope="module", name="server")
def server_fixture(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerProcess]:
    process = ServerProcess(tmp_path_factory.mktemp("console-graphiql"), admin_secret=SECRET)
    yield process
    process.stop()


def editor(page: Page, which: str) -> Any:
    """A CodeMirror editor of GraphiQL's: query, variables or result."""
    selectors = {
        "query": ".graphiql-query-editor .CodeMirror",
        "variables": ".graphiql-editor-tool .CodeMirror",
        "result": ".result-window .CodeMirror",
    }
    return page.locator(selectors[which]).first


def text_of(page: Page, which: str) -> str:
    value = editor(page, which).evaluate("(el) => el.CodeMirror.getValue()")
    assert isinstance(value, str)
    return value


def set_text(page: Page, which: str, text: str) -> None:
    editor(page, which).evaluate("(el, text) => el.CodeMirror.setValue(text)", text)
    page.wait_for_timeout(300)  # GraphiQL reads an edit after a pause (its operations, their names)


def result(page: Page) -> Any:
    """The result pane's JSON, once there is one."""
    expect(editor(page, "result")).to_contain_text("{")
    return json.loads(text_of(page, "result"))


def run(page: Page, operation: str | None = None) -> None:
    page.locator(".graphiql-execute-button").click()
    if operation is not None:  # several operations: GraphiQL asks which
        page.get_by_role("menuitem", name=operation, exact=True).click()


def open_graphiql(page: Page, server: ServerProcess, hash_: str = "graphiql") -> None:
    open_page(page, server, hash_, "graphiql")
    expect(page.locator(".graphiql-container")).to_be_visible()


def test_try_an_action_in_graphiql_as_admin_and_as_a_role(page: Page, server: ServerProcess, hook: Webhook) -> None:
    fields = [{"name": "text", "type": "String!"}, {"name": "n", "type": "Int"}]
    types = query(server, "export_metadata", {"sections": ["custom_types"]}).get("custom_types") or {}
    if not any(t["name"] == "GqGreeting" for t in types.get("objects", [])):
        objects = [*types.get("objects", []), {"name": "GqGreeting", "fields": fields}]
        assert "error" not in query(server, "set_custom_types", {**types, "objects": objects})
    handler = hook.respond("/gq-greet", body={"text": "hello", "n": 2})
    define(server, "gq_greet", "GqGreeting", handler=handler, arguments=[{"name": "who", "type": "String!"}])
    define(server, "gq_hidden", handler=handler)
    whoami = hook.respond("/gq-whoami", body="you")
    define(server, "gq_whoami", handler=whoami, type="query")
    query(server, "create_action_permission", {"action": "gq_greet", "role": "gq_user"})
    query(server, "create_action_permission", {"action": "gq_whoami", "role": "gq_user"})
    sign_in(page, server)

    # From the action's page, a ready operation.
    open_page(page, server, "actions/gq_greet", "action-definition")
    page.get_by_role("link", name="Try in GraphiQL").click()
    expect(page.locator("main[data-page=graphiql][data-ready=true]")).to_be_visible()
    expect(editor(page, "query")).to_contain_text("mutation gq_greet($who: String!)")
    operation = text_of(page, "query")
    assert re.search(r"gq_greet\(who: \$who\) \{\s+text\s+n\s+\}", operation), operation
    assert json.loads(text_of(page, "variables")) == {"who": ""}

    # A mutation as admin: the signed-in credentials go with it.
    set_text(page, "variables", '{"who": "Ada"}')
    run(page)
    assert result(page) == {"data": {"gq_greet": {"text": "hello", "n": 2}}}
    call = hook.calls("/gq-greet")[-1]
    assert call.body["input"] == {"who": "Ada"}
    assert call.body["session_variables"]["x-hasura-role"] == "admin"

    # As a role: its schema (the explorer shows only what it may run) and its session.
    page.select_option("select[name=graphiql_role]", "gq_user")
    expect(page.locator("main[data-page=graphiql][data-ready=true]")).to_be_visible()
    expect(editor(page, "query")).to_contain_text("mutation gq_greet")  # the operation is kept
    set_text(page, "variables", '{"who": "Bo"}')
    before = len(hook.calls("/gq-greet"))
    run(page)
    deadline = time.monotonic() + 10  # the same answer as before: wait for the webhook's call
    while len(hook.calls("/gq-greet")) == before and time.monotonic() < deadline:
        page.wait_for_timeout(50)
    expect(editor(page, "result")).to_contain_text('"text": "hello"')
    call = hook.calls("/gq-greet")[-1]
    assert call.body["input"] == {"who": "Bo"}
    assert call.body["session_variables"] == {"x-hasura-role": "gq_user"}
    page.get_by_role("button", name=re.compile("Show Documentation Explorer")).click()
    explorer = page.locator(".graphiql-doc-explorer")
    explorer.get_by_role("link", name="mutation_root").click()
    expect(explorer).to_contain_text("gq_greet")
    expect(explorer).not_to_contain_text("gq_hidden")
    # A query as the role.
    set_text(page, "query", "query who { gq_whoami }")
    set_text(page, "variables", "")
    run(page)
    expect(editor(page, "result")).to_contain_text('"gq_whoami": "you"')
    assert hook.calls("/gq-whoami")[-1].body["session_variables"] == {"x-hasura-role": "gq_user"}
    # A field the role may not run is refused, as the server says.
    set_text(page, "query", "mutation hidden { gq_hidden }")
    set_text(page, "variables", "")
    run(page)
    expect(editor(page, "result")).to_contain_text("gq_hidden")
    assert "errors" in result(page)


def test_a_subscription_pushes_an_async_runs_result(page: Page, server: ServerProcess, hook: Webhook) -> None:
    types = query(server, "export_metadata", {"sections": ["custom_types"]}).get("custom_types") or {}
    if not any(t["name"] == "GqReport" for t in types.get("objects", [])):
        objects = [*types.get("objects", []), {"name": "GqReport", "fields": [{"name": "url", "type": "String!"}]}]
        assert "error" not in query(server, "set_custom_types", {**types, "objects": objects})
    handler = hook.respond("/gq-report", body={"url": "https://example.com/r.pdf"}, delay=0.5)
    arguments = [{"name": "month", "type": "String!"}]
    define(server, "gq_report", "GqReport", handler=handler, kind="asynchronous", arguments=arguments)
    query(server, "create_action_permission", {"action": "gq_report", "role": "gq_reader"})
    sign_in(page, server)
    open_graphiql(page, server, "graphiql?action=gq_report&role=gq_reader")
    expect(page.locator("select[name=graphiql_role]")).to_have_value("gq_reader")
    operations = text_of(page, "query")
    assert "mutation gq_report($month: String!)" in operations
    assert "subscription gq_report_result($id: uuid!)" in operations

    assert json.loads(text_of(page, "variables")) == {"month": ""}
    set_text(page, "variables", '{"month": "2026-10"}')
    run(page, "gq_report")
    expect(editor(page, "result")).to_contain_text('"gq_report"')
    run_id = result(page)["data"]["gq_report"]
    assert re.fullmatch(r"[0-9a-f-]{36}", run_id)

    # The subscription: over the websocket, as the role, until the run is done.
    set_text(page, "variables", json.dumps({"id": run_id}))
    with page.expect_websocket() as opened:
        run(page, "gq_report_result")
    socket = opened.value
    assert socket.url.endswith("/v1/graphql")
    expect(editor(page, "result")).to_contain_text("https://example.com/r.pdf", timeout=15_000)
    answer = result(page)["data"]["gq_report"]
    assert answer["id"] == run_id and answer["errors"] is None
    assert hook.calls("/gq-report")[-1].body["session_variables"] == {"x-hasura-role": "gq_reader"}
