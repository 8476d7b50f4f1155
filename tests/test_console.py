"""The console in a real browser: Debian's Chromium, driven by Playwright, against `switchboard
serve` (a real uvicorn) and a real webhook server. One browser and one server per module
(tests/console_fixtures.py); each test has its own browser context (so its own sessionStorage: a
fresh sign-in) and its own action names.
"""

from __future__ import annotations

import re
import time
from pathlib import Path
from typing import Any

import httpx2 as httpx
import pytest
from playwright.sync_api import Browser, Page, expect

from tests.console_fixtures import SECRET
from tests.processes import ServerProcess
from tests.webhook import Webhook

# One worker runs every console module (pyproject: loadgroup); tests/console_fixtures.py holds
# the browser, server and webhook fixtures.
pytestmark = pytest.mark.xdist_group("console")


def query(server: ServerProcess, type_: str, args: Any = None) -> Any:
    return server.query(type_, args)


def field(page: Page, path: str, inner: str = "input") -> Any:
    return page.locator(f"[data-path='{path}'] {inner}").first


def field_error(page: Page, path: str) -> Any:
    return page.locator(f"[data-path='{path}'] > .field-error")


def field_details(page: Page, path: str) -> Any:
    return page.locator(f"[data-path='{path}'] > .error-details")


def sign_in(page: Page, server: ServerProcess) -> None:
    page.goto(f"{server.url}/console/")
    page.fill("input[name=credential]", SECRET)
    page.click("button:text('Sign in')")
    expect(page.locator("main[data-page=actions][data-ready=true]")).to_be_visible()


def open_page(page: Page, server: ServerProcess, hash_: str, name: str) -> None:
    page.goto(f"{server.url}/console/#/{hash_}")
    expect(page.locator(f"main[data-page='{name}'][data-ready=true]")).to_be_visible()


def define(
    server: ServerProcess, name: str, output_type: str = "String", comment: str | None = None, **definition: Any
) -> None:
    definition = {"handler": "http://127.0.0.1:9/unused", "output_type": output_type, **definition}
    args = {"name": name, "definition": definition} | ({"comment": comment} if comment else {})
    answer = query(server, "create_action", args)
    assert answer.get("message") == "success", answer


def action(server: ServerProcess, name: str) -> Any:
    [found] = query(server, "list_actions", {"names": [name]})["actions"]
    return found


def test_the_server_serves_the_console_files(server: ServerProcess) -> None:
    root = httpx.get(f"{server.url}/", follow_redirects=False)
    assert (root.status_code, root.headers["location"]) == (307, "/console/")
    index = httpx.get(f"{server.url}/console/")
    assert index.status_code == 200 and "text/html" in index.headers["content-type"]
    assert "script-src 'self'" in index.headers["content-security-policy"]
    assert index.headers["cache-control"] == "no-cache"
    script = httpx.get(f"{server.url}/console/vendor/preact.js")
    assert script.status_code == 200 and "javascript" in script.headers["content-type"]
    assert httpx.get(f"{server.url}/console/nope.js").status_code == 404
    # The files are only files: every operation is still /v1/query, and needs the secret.
    assert httpx.post(f"{server.url}/v1/query", json={"type": "list_actions", "args": {}}).status_code == 401


def test_sign_in_keeps_the_secret_for_the_tab_only(browser: Browser, page: Page, server: ServerProcess) -> None:
    page.goto(f"{server.url}/console/")
    expect(page.locator("main[data-page=signin]")).to_be_visible()
    page.fill("input[name=credential]", "wrong")
    page.click("button:text('Sign in')")
    # One plain sentence at the field, the server's words in its details line; nothing else.
    expect(field_error(page, "$credential")).to_have_text("The server does not accept this admin secret.")
    expect(field_details(page, "$credential")).to_contain_text("invalid x-hasura-admin-secret/x-hasura-access-key")
    expect(page.get_by_text("The server does not accept this admin secret.")).to_have_count(1)
    expect(page.locator(".banner.error")).to_have_count(0)
    expect(page.locator("input[name=credential]")).to_be_focused()
    page.fill("input[name=credential]", SECRET)
    page.click("button:text('Sign in')")
    expect(page.locator("main[data-page=actions][data-ready=true]")).to_be_visible()
    assert page.evaluate("sessionStorage.getItem('switchboard.credentials')") is not None
    assert page.evaluate("localStorage.length") == 0
    page.reload()  # the same tab stays signed in
    expect(page.locator("main[data-page=actions][data-ready=true]")).to_be_visible()
    other = browser.new_context().new_page()  # another browser session is asked again
    other.goto(f"{server.url}/console/")
    expect(other.locator("main[data-page=signin]")).to_be_visible()
    other.context.close()
    page.click("button:text('Sign out')")
    expect(page.locator("main[data-page=signin]")).to_be_visible()
    assert page.evaluate("sessionStorage.getItem('switchboard.credentials')") is None


def test_sign_in_with_an_api_key(page: Page, server: ServerProcess) -> None:
    created = query(server, "create_api_key", {"name": f"console-{time.time_ns()}", "role": "admin"})
    page.goto(f"{server.url}/console/")
    page.select_option("[data-path='$method'] select", "api_key")
    page.fill("input[name=credential]", "sb_not-a-key")
    page.click("button:text('Sign in')")
    expect(field_error(page, "$credential")).to_have_text("The server does not accept this API key.")
    page.fill("input[name=credential]", created["key"])
    page.click("button:text('Sign in')")
    expect(page.locator("main[data-page=actions][data-ready=true]")).to_be_visible()


def test_create_grant_run_log_edit_diff_and_roll_back(page: Page, server: ServerProcess, hook: Webhook) -> None:
    first = hook.respond("/greet", body="hello Ada")
    second = hook.respond("/greet-v2", body="hi Ada")
    sign_in(page, server)

    # Create an action with the form.
    page.click("a:text('New action')")
    field(page, "$.args.name").fill("greet")
    field(page, "$.args.comment").fill("says hello")
    field(page, "$.args.definition.output_type").fill("String")
    field(page, "$.args.definition.handler").fill(first)
    page.click("button:text('Add argument')")
    field(page, "$.args.definition.arguments[0].name").fill("name")
    field(page, "$.args.definition.arguments[0].type").fill("String!")
    page.click("button:text('Create action')")
    expect(page.locator("main[data-page=action-definition][data-ready=true]")).to_be_visible()
    expect(page.locator("[data-sdl]")).to_have_text(
        re.compile(r"type Mutation \{\s+greet\(name: String!\): String\s+\}")
    )
    assert action(server, "greet")["definition"]["handler"] == first

    # Grant it to a new role in the permissions matrix: one bulk.
    open_page(page, server, "permissions", "permissions")
    page.fill("input[aria-label=Search]", "greet")
    page.fill("input[aria-label='New role']", "user")
    page.click("button:text('Add role column')")
    page.check("input[aria-label='user may run greet']")
    page.click("button:text('Save')")
    expect(page.locator(".banner.ok")).to_contain_text("Saved 1 change")
    assert action(server, "greet")["permissions"] == [{"role": "user"}]
    assert query(server, "get_metadata_history", {"limit": 1})["versions"][0]["operation"] == "bulk"

    # Run it from its form, as that role, against the webhook.
    open_page(page, server, "actions/greet/run", "action-run")
    field(page, "$.args.input.name").fill("Ada")
    page.select_option("select[name=role]", "user")
    page.click("button:text('Run')")
    expect(page.locator("[data-answer='200'] pre.output")).to_contain_text('"output": "hello Ada"')
    call = hook.calls("/greet")[-1].body
    assert call["input"] == {"name": "Ada"}
    assert call["session_variables"] == {"x-hasura-role": "user"}

    # The run is in the log (audit_sync_runs), with its input.
    page.click(".tabs a:text('Runs')")
    expect(page.locator("main[data-page=runs][data-ready=true]")).to_be_visible()
    expect(page.locator("input[aria-label=Action]")).to_have_value("greet")
    row = page.locator("tr.run").first
    expect(row).to_contain_text("greet")
    expect(row).to_contain_text("completed")
    expect(row).to_contain_text("user")
    row.click()
    expect(page.locator(".run-details")).to_contain_text('"name": "Ada"')
    expect(page.locator(".run-details")).to_contain_text('"hello Ada"')

    # Edit it.
    open_page(page, server, "actions/greet", "action-definition")
    before_edit = query(server, "get_metadata_history", {"limit": 1})["versions"][0]["resource_version"]
    field(page, "$.args.definition.handler").fill(second)
    page.click("button:text('Save')")
    expect(page.locator(".banner.ok")).to_contain_text(f"resource version {before_edit + 1}")
    assert action(server, "greet")["definition"]["handler"] == second

    # See the edit in the history's diff, and roll it back.
    open_page(page, server, "history", "history")
    page.check(f"input[aria-label='from version {before_edit}']")
    page.check(f"input[aria-label='to version {before_edit + 1}']")
    page.click("button:text('Show diff')")
    changed = page.locator("details.change.changed", has_text="greet")
    expect(changed.locator(".del")).to_contain_text(f'"handler": "{first}"')
    expect(changed.locator(".add")).to_contain_text(f'"handler": "{second}"')
    page.locator(f"tr[data-version='{before_edit}'] button:text('Roll back to this')").click()
    dialog = page.locator("dialog")
    expect(dialog).to_contain_text(f"Roll back to version {before_edit}?")
    dialog.locator("button:text('Roll back')").click()
    expect(page.locator(".banner.ok")).to_contain_text(f"Rolled back to version {before_edit}")
    assert action(server, "greet")["definition"]["handler"] == first
    expect(page.locator(f"tr[data-version='{before_edit + 2}']")).to_contain_text("rollback_metadata")


def test_refusals_are_shown_at_the_field_they_name(page: Page, server: ServerProcess) -> None:
    sign_in(page, server)
    open_page(page, server, "create-action", "new-action")
    field(page, "$.args.name").fill("refused")
    field(page, "$.args.definition.output_type").fill("String")
    field(page, "$.args.definition.handler").fill("http://127.0.0.1:9/refused")
    page.click("button:text('Add argument')")
    field(page, "$.args.definition.arguments[0].name").fill("who")
    page.click("button:text('Add argument')")
    field(page, "$.args.definition.arguments[1].name").fill("when")
    field(page, "$.args.definition.arguments[1].type").fill("Nope")
    page.click("button:text('Create action')")
    error = field_error(page, "$.args.definition.arguments[1].type")
    expect(error).to_contain_text('the type: "Nope" is not defined in custom types')
    # Only that field shows it, once; its details line names the code and the path.
    expect(page.locator(".field-error")).to_have_count(1)
    expect(page.locator(".banner.error")).to_have_count(0)
    details = field_details(page, "$.args.definition.arguments[1].type")
    expect(details).to_have_text("invalid-configuration at $.args.definition.arguments[1].type")
    expect(field(page, "$.args.definition.arguments[1].type")).to_be_focused()
    expect(field(page, "$.args.definition.arguments[1].type")).to_have_attribute("aria-invalid", "true")

    field(page, "$.args.definition.arguments[1].type").fill("Int")
    field(page, "$.args.definition.output_type").fill("Missing")
    page.click("button:text('Create action')")
    expect(field_error(page, "$.args.definition.output_type")).to_contain_text('"Missing"')

    field(page, "$.args.definition.output_type").fill("String")
    field(page, "$.args.name").fill("not-a-name")
    page.click("button:text('Create action')")
    expect(field_error(page, "$.args.name")).to_have_text("not-a-name is not valid GraphQL name.")
    assert query(server, "list_actions", {"search": "refused"})["total"] == 0

    # The raw view: the whole definition is the field.
    page.click("button[role=tab]:text('JSON')")
    page.fill("textarea[aria-label='Raw definition']", '{"name": "refused", "definition": {"output_type": "String"}}')
    page.click("button:text('Create action')")
    expect(field_error(page, "$.args")).to_have_text('Key "handler" not found.')

    # A run's input: the value the path points at.
    define(server, "add_one", "Int", arguments=[{"name": "n", "type": "Int!"}])
    open_page(page, server, "actions/add_one/run", "action-run")
    field(page, "$.args.input.n").fill("1.5")
    page.click("button:text('Run')")
    expect(field_error(page, "$.args.input.n")).to_contain_text("Int")
    expect(page.locator("[data-answer='400']")).to_be_visible()


def test_an_async_run_is_followed_until_it_finishes(page: Page, server: ServerProcess, hook: Webhook) -> None:
    slow = hook.respond("/slow-report", body={"url": "https://example.com/r.pdf"}, delay=0.8)
    query(server, "set_custom_types", {"objects": [{"name": "Report", "fields": [{"name": "url", "type": "String!"}]}]})
    define(
        server,
        "slow_report",
        "Report",
        handler=slow,
        kind="asynchronous",
        arguments=[{"name": "months", "type": "[Int!]!"}],
    )
    sign_in(page, server)
    open_page(page, server, "actions/slow_report/run", "action-run")
    page.click("button:text('Add to months')")
    page.click("button:text('Add to months')")
    field(page, "$.args.input.months[0]").fill("10")
    field(page, "$.args.input.months[1]").fill("11")
    page.click("button:text('Run')")
    run = page.locator(".async-run")
    expect(run).to_have_attribute("data-status", re.compile("created|processing"))
    expect(run).to_have_attribute("data-status", "completed", timeout=15_000)
    expect(run.locator("pre.output")).to_contain_text('"url": "https://example.com/r.pdf"')
    assert hook.calls("/slow-report")[-1].body["input"] == {"months": [10, 11]}


def test_nested_inputs_enums_and_dry_runs(page: Page, server: ServerProcess) -> None:
    line = [{"name": "sku", "type": "String!"}, {"name": "qty", "type": "Int"}]
    order = [{"name": "lines", "type": "[Line!]!"}, {"name": "size", "type": "Size"}]
    types = {
        "input_objects": [{"name": "Line", "fields": line}, {"name": "Order", "fields": order}],
        "objects": [{"name": "Report", "fields": [{"name": "url", "type": "String!"}]}],
        "enums": [{"name": "Size", "values": [{"value": "S"}, {"value": "L"}]}],
        "scalars": [{"name": "Date"}],
    }
    query(server, "set_custom_types", types)
    define(
        server, "place_order", "Report", arguments=[{"name": "order", "type": "Order!"}, {"name": "on", "type": "Date"}]
    )
    sign_in(page, server)
    open_page(page, server, "actions/place_order/run", "action-run")
    expect(page.locator("[data-path='$.args.input.order'] > legend .required")).to_be_visible()
    page.click("button:text('Add to lines')")
    field(page, "$.args.input.order.lines[0].sku").fill("A-1")
    field(page, "$.args.input.order.lines[0].qty").fill("2")
    page.select_option("[data-path='$.args.input.order.size'] select", "L")
    field(page, "$.args.input.on", "textarea").fill("2026-10-01")
    page.check("input[name=dry_run]")
    page.click("button:text('Run')")
    answer = page.locator("[data-answer='200'] pre.output")
    expect(answer).to_contain_text('"dry_run": true')
    expect(answer).to_contain_text('"on": "2026-10-01"')
    expect(answer).to_contain_text('"lines": [')
    expect(answer).to_contain_text('"size": "L"')
    # A dry run is an admin's view: as another role it is refused, at the dry_run field.
    query(server, "create_action_permission", {"action": "place_order", "role": "clerk"})
    page.reload()
    expect(page.locator("main[data-page=action-run][data-ready=true]")).to_be_visible()
    page.select_option("select[name=role]", "clerk")
    page.check("input[name=dry_run]")
    page.click("button:text('Run')")
    expect(field_error(page, "$.args.dry_run")).to_have_text("dry_run is restricted to admin.")


def test_custom_types_sources_and_links(page: Page, server: ServerProcess) -> None:
    sign_in(page, server)
    open_page(page, server, "types", "types")
    page.select_option("select[aria-label='New type kind']", "enums")
    page.fill("input[name=type_name]", "Colour")
    page.fill("input[aria-label='Enum value']", "RED")
    page.click("button:text('Add value')")
    page.locator("input[aria-label='Enum value']").nth(1).fill("red")
    page.locator("input[aria-label='Enum value']").nth(1).fill("RED")
    page.click("button:text('Save type')")
    # A duplicate value is refused at the list of values of that enum.
    error = page.locator(".type-form .field-error")
    expect(error).to_contain_text('the enum type "Colour" has duplicate values: "RED"')
    page.locator("input[aria-label='Enum value']").nth(1).fill("BLUE")
    page.click("button:text('Save type')")
    expect(page.locator("[data-type=Colour]")).to_contain_text("enum Colour { RED BLUE }")
    page.locator("[data-type=Colour] button:text('Edit')").click()
    page.fill("input[name=type_description]", "paint")
    page.click("button:text('Save type')")
    expect(page.locator("[data-type=Colour]")).to_contain_text("paint")
    page.locator("[data-type=Colour] button:text('Drop')").click()
    page.locator("dialog button:text('Drop type')").click()
    expect(page.locator("[data-type=Colour]")).to_have_count(0)
    assert "Colour" not in str(query(server, "export_metadata", {"sections": ["custom_types"]}))

    open_page(page, server, "sources", "sources")
    page.click("button:text('Add source')")
    page.fill("input[name=source_name]", "shop")
    page.fill("input[name=source_url]", "not a url")
    page.click("button:text('Add source') >> nth=1")
    expect(page.locator(".source-form [role=alert]")).to_contain_text("Not a database URL")
    page.fill("input[name=source_url]", "sqlite:///./shop.db")
    page.click(".source-form button[type=submit]")
    expect(page.locator("table.list")).to_contain_text("sqlite:///./shop.db")
    page.click("tr:has-text('shop') button:text('Edit')")
    page.select_option("select[aria-label='URL from']", "env")
    page.fill("input[name=source_url]", "SHOP_DATABASE_URL")
    page.click(".source-form button[type=submit]")
    expect(page.locator("table.list")).to_contain_text("from $SHOP_DATABASE_URL")
    page.click("tr:has-text('shop') button:text('Drop')")
    page.locator("dialog button:text('Drop source')").click()
    expect(page.locator("p.empty")).to_be_visible()

    define(server, "open_door")
    open_page(page, server, "links", "links")
    page.fill("input[name=link_action]", "no_such_action")
    page.click("button:text('Create link')")
    # The server points at its args ($.args): the form's one field.
    expect(field_error(page, "$.args")).to_have_text('Action with name "no_such_action" does not exist.')
    page.fill("input[name=link_action]", "open_door")
    page.click("button:text('Create link')")
    [link] = query(server, "export_metadata", {"sections": ["public_links"]})["public_links"]
    expect(page.locator("tr:has-text('open_door')")).to_contain_text(link["uuid"])
    page.click("tr:has-text('open_door') button:text('Drop')")
    page.locator("dialog button:text('Drop link')").click()
    expect(page.locator("tr:has-text('open_door')")).to_have_count(0)


def test_actions_are_searched_filtered_and_paged_by_the_server(page: Page, server: ServerProcess) -> None:
    definition = {"handler": "http://127.0.0.1:9/x", "output_type": "String"}
    kinds = ("synchronous", "asynchronous")
    envelopes = [
        {"type": "create_action", "args": {"name": f"bulk_{i:03d}", "definition": {**definition, "kind": kinds[i % 2]}}}
        for i in range(120)
    ]
    envelopes.append({"type": "create_action_permission", "args": {"action": "bulk_007", "role": "auditor"}})
    query(server, "bulk", envelopes)
    sign_in(page, server)
    page.fill("input[aria-label=Search]", "BULK_")
    expect(page.locator(".pager span")).to_have_text("1\N{EN DASH}50 of 120")
    expect(page.locator("table.list tbody tr").first).to_contain_text("bulk_000")
    page.click("button:has-text('Next')")
    expect(page.locator(".pager span")).to_have_text("51\N{EN DASH}100 of 120")
    expect(page.locator("table.list tbody tr").first).to_contain_text("bulk_050")
    page.select_option("select[aria-label=Kind]", "asynchronous")
    expect(page.locator(".pager span")).to_have_text("1\N{EN DASH}50 of 60")
    page.select_option("select[aria-label=Role]", "auditor")
    expect(page.locator(".pager span")).to_have_text("1\N{EN DASH}1 of 1")
    expect(page.locator("table.list tbody tr")).to_contain_text("bulk_007")
    page.click("a:text('bulk_007')")
    expect(page.locator("main[data-page=action-definition][data-ready=true]")).to_be_visible()
    page.click("button:text('Drop')")
    page.locator("dialog button:text('Drop action')").click()
    expect(page.locator("main[data-page=actions][data-ready=true]")).to_be_visible()
    assert query(server, "list_actions", {"names": ["bulk_007"]})["total"] == 0


def test_without_an_admin_secret_it_opens_directly(browser: Browser, tmp_path: Path) -> None:
    server = ServerProcess(tmp_path)
    try:
        context = browser.new_context()
        page = context.new_page()
        page.goto(f"{server.url}/")
        expect(page.locator("main[data-page=actions][data-ready=true]")).to_be_visible()
        expect(page.locator(".who")).to_contain_text("No admin secret set")
        context.close()
    finally:
        server.stop()


def test_the_raw_yaml_view_edits_an_action(page: Page, server: ServerProcess) -> None:
    define(server, "raw_edit", comment="before")
    sign_in(page, server)
    open_page(page, server, "actions/raw_edit", "action-definition")
    page.click("button[role=tab]:text('YAML')")
    raw = page.locator("textarea[aria-label='Raw definition']")
    expect(raw).to_have_value(re.compile(r"^name: raw_edit\ndefinition:\n  handler: http://127\.0\.0\.1:9/unused\n"))
    raw.fill(raw.input_value().replace("comment: before", "comment: after YAML"))
    page.click("button[role=tab]:text('Form')")  # parsed back into the form
    expect(field(page, "$.args.comment")).to_have_value("after YAML")
    page.click("button:text('Save')")
    expect(page.locator(".banner.ok")).to_be_visible()
    assert action(server, "raw_edit")["comment"] == "after YAML"
    page.click("button[role=tab]:text('YAML')")
    raw.fill("name: [unclosed")
    page.click("button[role=tab]:text('Form')")  # refused: the raw view stays, the error at it
    expect(field_error(page, "$.args")).to_have_text(re.compile(r"^The YAML cannot be read: unexpected end of"))
    expect(field_details(page, "$.args")).to_contain_text("name: [unclosed")


def test_every_console_file_is_package_data() -> None:
    """pyproject's package-data patterns reach every file, so `pip install .` serves them all."""
    assets = Path(__file__).parent.parent / "rpc" / "console_assets"
    files = [p.relative_to(assets) for p in assets.rglob("*") if p.is_file()]
    assert files and all(len(p.parts) <= 2 for p in files), [p for p in files if len(p.parts) > 2]
