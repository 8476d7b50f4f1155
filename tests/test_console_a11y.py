"""The console for everyone: axe-core (a real accessibility engine, tests/vendor/axe.min.js) on
every page, labels tied to their controls, modal dialogs driven by the keyboard, named
landmarks; errors a person can read, a first look without a refusal, first steps on an empty
server; and every page on a phone (390 px wide) without sideways scrolling.

Same browser and server as tests/test_console.py (its fixtures, one xdist group).
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import Browser, Page, expect

from tests.console_fixtures import SECRET
from tests.processes import ServerProcess
from tests.test_console import define, field, open_page, query, sign_in
from tests.webhook import Webhook

pytestmark = pytest.mark.xdist_group("console")

AXE = Path(__file__).parent / "vendor" / "axe.min.js"
PHONE = {"width": 390, "height": 844}


def axe_violations(page: Page) -> list[dict[str, Any]]:
    """axe-core's serious and critical violations on the page as it is now."""
    found = page.evaluate(
        """async () => {
            const result = await axe.run(document, {resultTypes: ["violations"]});
            return result.violations
                .filter((v) => v.impact === "serious" || v.impact === "critical")
                .map((v) => ({id: v.id, impact: v.impact, help: v.help, nodes: v.nodes.map((n) => n.target)}));
        }"""
    )
    assert isinstance(found, list)
    return found


def sideways(page: Page) -> int:
    """How far the page scrolls sideways (0: not at all)."""
    width = page.evaluate("document.documentElement.scrollWidth - document.documentElement.clientWidth")
    assert isinstance(width, int)
    return width


@pytest.fixture(scope="module")
def shown(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerProcess]:
    """A server of this module's own for the pages every check walks through: what it holds
    (custom types above all, which set_custom_types replaces whole) is no other test's."""
    process = ServerProcess(tmp_path_factory.mktemp("console-a11y"), admin_secret=SECRET, audit_sync_runs="true")
    yield process
    process.stop()


@pytest.fixture
def axe_page(browser: Browser) -> Iterator[Page]:
    """A page with axe-core loaded into every document (an init script: the console's CSP
    lets no other script in)."""
    context = browser.new_context(viewport={"width": 1280, "height": 900})
    context.set_default_timeout(10_000)
    context.add_init_script(path=str(AXE))
    opened = context.new_page()
    errors: list[str] = []
    opened.on("pageerror", lambda error: errors.append(str(error)))
    yield opened
    context.close()
    assert not errors, f"the page threw: {errors}"


def seed(server: ServerProcess, hook: Webhook) -> str:
    """An action with every kind of argument, a permission, a run and a link: what the pages show."""
    types = {
        "input_objects": [{"name": "A11yLine", "fields": [{"name": "sku", "type": "String!"}]}],
        "enums": [{"name": "A11ySize", "values": [{"value": "S"}, {"value": "L"}]}],
        "scalars": [{"name": "A11yDate"}],
    }
    query(server, "set_custom_types", types)
    arguments = [
        {"name": "name", "type": "String!", "description": "who to greet"},
        {"name": "times", "type": "Int"},
        {"name": "size", "type": "A11ySize"},
        {"name": "loud", "type": "Boolean"},
        {"name": "on", "type": "A11yDate"},
        {"name": "lines", "type": "[A11yLine!]"},
    ]
    if not query(server, "list_actions", {"names": ["a11y_greet"]})["total"]:
        define(
            server,
            "a11y_greet",
            comment="greets someone, with a rather long comment that a phone has to wrap somewhere sensible",
            handler=hook.respond("/a11y-greet", body="hello"),
            arguments=arguments,
        )
        query(server, "create_action_permission", {"action": "a11y_greet", "role": "a11y_user"})
        query(server, "create_action_public_link", {"action": "a11y_greet"})
        query(server, "run_action", {"name": "a11y_greet", "input": {"name": "Ada"}})
    return "a11y_greet"


def dialog_open(page: Page) -> None:
    page.locator("tr[data-version] button:text('Roll back to this')").first.click()
    expect(page.locator("dialog[open]")).to_be_visible()


def run_open(page: Page) -> None:
    page.locator("tr.run").first.click()
    expect(page.locator(".run-details")).to_be_visible()


def type_form(page: Page) -> None:
    page.select_option("select[aria-label='New type kind']", "input_objects")
    expect(page.locator(".type-form")).to_be_visible()


def source_form(page: Page) -> None:
    page.click("button:text('Add source')")
    expect(page.locator(".source-form")).to_be_visible()


def refused(page: Page) -> None:
    field(page, "$.args.definition.output_type").fill("Missing")
    page.click("button:text('Save')")
    expect(page.locator(".field-error")).to_be_visible()


def graphiql_shown(page: Page) -> None:
    expect(page.locator(".graphiql-container .CodeMirror").first).to_be_visible()
    page.wait_for_timeout(300)  # its schema is fetched and drawn


# Every page of the console (hash, data-page, what to do there first), signed in.
PAGES: list[tuple[str, str, Callable[[Page], None] | None]] = [
    ("actions", "actions", None),
    ("actions/a11y_greet", "action-definition", None),
    ("actions/a11y_greet", "action-definition", refused),
    ("actions/a11y_greet/run", "action-run", None),
    ("create-action", "new-action", None),
    ("permissions", "permissions", None),
    ("types", "types", None),
    ("types", "types", type_form),
    ("sources", "sources", None),
    ("sources", "sources", source_form),
    ("links", "links", None),
    ("runs", "runs", run_open),
    ("history", "history", None),
    ("history", "history", dialog_open),
    ("graphiql?action=a11y_greet", "graphiql", graphiql_shown),
    ("nowhere", "missing", None),
]


def visit_every_page(page: Page, server: ServerProcess, check: Callable[[str], None]) -> None:
    page.goto(f"{server.url}/console/")
    expect(page.locator("main[data-page=signin]")).to_be_visible()
    check("signin")
    page.fill("input[name=credential]", SECRET)
    page.click("button:text('Sign in')")
    expect(page.locator("main[data-page=actions][data-ready=true]")).to_be_visible()
    for hash_, name, before in PAGES:
        open_page(page, server, hash_, name)
        if before is not None:
            before(page)
        check(f"{hash_} ({before.__name__})" if before else hash_)


def test_axe_finds_no_serious_or_critical_violation_on_any_page(
    axe_page: Page,
    shown: ServerProcess,
    hook: Webhook,
) -> None:
    server = shown
    seed(server, hook)
    found: dict[str, Any] = {}

    def check(name: str) -> None:
        violations = axe_violations(axe_page)
        if violations:
            found[name] = violations

    visit_every_page(axe_page, server, check)
    assert not found, json.dumps(found, indent=1)


def test_every_page_fits_a_phone(browser: Browser, shown: ServerProcess, hook: Webhook) -> None:
    """390 px wide: no page scrolls sideways (tables scroll within themselves), the sidebar is a
    bar with a Menu button, and axe-core is as content as on a desktop."""
    server = shown
    seed(server, hook)
    context = browser.new_context(viewport=PHONE, is_mobile=True, has_touch=True)
    context.set_default_timeout(10_000)
    context.add_init_script(path=str(AXE))
    phone = context.new_page()
    wide: dict[str, int] = {}
    violations: dict[str, Any] = {}

    def check(name: str) -> None:
        phone.wait_for_timeout(50)  # layout settles after the data is drawn
        if sideways(phone) > 0:
            wide[name] = sideways(phone)
        found = axe_violations(phone)
        if found:
            violations[name] = found

    try:
        visit_every_page(phone, server, check)
        assert not wide, f"pages scroll sideways at 390 px (by px): {wide}"
        assert not violations, json.dumps(violations, indent=1)
        # The navigation is behind the Menu button, which says whether it is open.
        open_page(phone, server, "actions", "actions")
        menu = phone.get_by_role("button", name="Menu")
        expect(menu).to_have_attribute("aria-expanded", "false")
        expect(phone.locator("[data-nav=permissions]")).to_be_hidden()
        menu.click()
        expect(menu).to_have_attribute("aria-expanded", "true")
        phone.click("[data-nav=permissions]")
        expect(phone.locator("main[data-page=permissions][data-ready=true]")).to_be_visible()
        expect(phone.locator("[data-nav=permissions]")).to_be_hidden()  # closed again on the new page
        # The actions' table is wider than the phone: it scrolls within itself, not the page.
        open_page(phone, server, "actions", "actions")
        assert phone.locator("table.list").evaluate("(table) => table.scrollWidth > table.clientWidth")
        assert sideways(phone) == 0
    finally:
        context.close()


def test_every_label_names_its_control(page: Page, server: ServerProcess) -> None:
    page.goto(f"{server.url}/console/")
    expect(page.get_by_label("Sign in with")).to_have_value("admin_secret")
    expect(page.get_by_label("Admin secret")).to_have_attribute("type", "password")
    expect(page.get_by_label("Admin secret")).to_have_accessible_description("Sent as the x-hasura-admin-secret header")
    page.get_by_label("Admin secret").fill(SECRET)
    page.click("button:text('Sign in')")
    expect(page.locator("main[data-page=actions][data-ready=true]")).to_be_visible()
    define(server, "labelled", arguments=[{"name": "who", "type": "String!", "description": "a name"}])
    query(server, "create_action_permission", {"action": "labelled", "role": "labeller"})
    open_page(page, server, "actions/labelled", "action-definition")
    form = page.locator("form.action-form")
    for label, value in [
        ("Name", "labelled"),
        ("Comment", ""),
        ("Type", "mutation"),
        ("Kind", "synchronous"),
        ("Output type", "String"),
        ("Handler URL", "http://127.0.0.1:9/unused"),
        ("Timeout (s)", ""),
    ]:
        expect(form.get_by_label(label, exact=True)).to_have_value(value)
    open_page(page, server, "actions/labelled/run", "action-run")
    expect(page.get_by_label("Run as role")).to_have_value("admin")
    who = page.get_by_label("who")
    expect(who).to_have_attribute("aria-required", "true")
    expect(who).to_have_accessible_description("a name")
    open_page(page, server, "types", "types")
    page.select_option("select[aria-label='New type kind']", "input_objects")
    expect(page.locator(".type-form").get_by_label("Name", exact=True)).to_be_visible()
    expect(page.locator(".type-form").get_by_label("Description", exact=True).first).to_be_visible()


def test_landmarks_are_named(page: Page, server: ServerProcess) -> None:
    define(server, "landmarked")
    sign_in(page, server)
    open_page(page, server, "actions/landmarked", "action-definition")
    expect(page.get_by_role("navigation")).to_have_count(2)
    expect(page.get_by_role("navigation", name="Console")).to_be_visible()
    expect(page.get_by_role("navigation", name="Action landmarked")).to_be_visible()
    expect(page.get_by_role("main")).to_have_count(1)
    expect(page.get_by_role("link", name="Definition")).to_have_attribute("aria-current", "page")


def focused_in_dialog(page: Page) -> bool:
    inside = page.evaluate("!!document.activeElement && !!document.activeElement.closest('dialog[open]')")
    assert isinstance(inside, bool)
    return inside


def test_dialogs_take_focus_keep_it_close_on_escape_and_give_it_back(page: Page, server: ServerProcess) -> None:
    define(server, "dialogued")
    sign_in(page, server)
    open_page(page, server, "actions/dialogued", "action-definition")
    drop = page.get_by_role("button", name="Drop", exact=True)
    drop.focus()
    page.keyboard.press("Enter")
    dialog = page.get_by_role("dialog", name="Drop the action dialogued, its permissions and its public link?")
    expect(dialog).to_be_visible()
    # Focus is in it, on the safe choice.
    expect(dialog.get_by_role("button", name="Cancel")).to_be_focused()
    # Tab and Shift+Tab walk its controls only: the page behind is inert.
    for key in ["Tab"] * 6 + ["Shift+Tab"] * 6:
        page.keyboard.press(key)
        assert focused_in_dialog(page), f"focus left the dialog after {key}"
    # Escape closes it, and focus is back on the button that opened it.
    page.keyboard.press("Escape")
    expect(dialog).to_have_count(0)
    expect(drop).to_be_focused()
    assert query(server, "list_actions", {"names": ["dialogued"]})["total"] == 1
    # Cancel does the same; the checkbox inside is reachable by keyboard; confirming drops.
    page.keyboard.press("Enter")
    expect(dialog).to_be_visible()
    dialog.get_by_role("button", name="Cancel").click()
    expect(dialog).to_have_count(0)
    expect(drop).to_be_focused()
    page.keyboard.press("Enter")
    checkbox = dialog.get_by_label("Also delete its runs")
    expect(checkbox).to_be_checked()
    page.keyboard.press("Shift+Tab")
    expect(checkbox).to_be_focused()
    page.keyboard.press("Space")
    expect(checkbox).not_to_be_checked()
    dialog.get_by_role("button", name="Drop action").click()
    expect(page.locator("main[data-page=actions][data-ready=true]")).to_be_visible()
    assert query(server, "list_actions", {"names": ["dialogued"]})["total"] == 0


def test_a_fresh_tab_asks_for_the_secret_without_a_refusal(browser: Browser, server: ServerProcess) -> None:
    context = browser.new_context()
    page = context.new_page()
    logged: list[str] = []
    page.on("console", lambda message: logged.append(f"{message.type}: {message.text}"))
    refused: list[int] = []
    page.on("response", lambda response: response.status >= 400 and refused.append(response.status))
    try:
        page.goto(f"{server.url}/console/")
        expect(page.locator("main[data-page=signin]")).to_be_visible()
        page.wait_for_timeout(200)
        assert not [line for line in logged if line.startswith("error")], logged
        assert refused == []
    finally:
        context.close()


def test_errors_read_as_sentences_with_their_details_beneath(page: Page, server: ServerProcess) -> None:
    # Two versions of its own to compare, whatever ran before it on this server.
    define(server, "versioned")
    query(server, "drop_action", {"name": "versioned"})
    sign_in(page, server)
    # A refusal no field owns: a banner, the sentence first, the code in the details line.
    open_page(page, server, "history", "history")
    conflict = {"path": "$", "error": "resource_version mismatch", "code": "conflict"}
    page.route("**/v1/query", lambda route: route.fulfill(status=409, json=conflict))
    page.check("tr[data-version] input[name=from] >> nth=0")
    page.check("tr[data-version] input[name=to] >> nth=1")
    page.click("button:text('Show diff')")
    banner = page.locator(".banner.error")
    expect(banner.locator(".plain")).to_have_text(
        "The metadata changed since this page read it (someone saved first): reload the page, then try again."
    )
    expect(banner.locator(".error-details")).to_have_text("conflict: resource_version mismatch")
    page.unroute("**/v1/query")
    # The server out of reach.
    page.route("**/v1/query", lambda route: route.abort())
    page.click("button:text('Show diff')")
    expect(banner.locator(".plain")).to_have_text(re.compile("^The server cannot be reached: check that it is running"))


def test_an_empty_server_shows_first_steps(browser: Browser, tmp_path: Path) -> None:
    empty = ServerProcess(tmp_path)
    context = browser.new_context()
    try:
        page = context.new_page()
        page.goto(f"{empty.url}/console/")
        expect(page.locator("main[data-page=actions][data-ready=true]")).to_be_visible()
        steps = page.locator(".first-steps")
        expect(steps).to_contain_text("No action yet")
        expect(steps).to_contain_text("switchboard init my-app")
        expect(steps).to_contain_text("switchboard metadata apply my-app")
        expect(steps.get_by_role("link", name="Create an action")).to_have_attribute("href", "#/create-action")
        expect(steps.get_by_role("link", name="Create a custom type")).to_have_attribute("href", "#/types")
        expect(page.locator("table")).to_have_count(0)
        # A search that finds nothing is not an empty server.
        page.fill("input[aria-label=Search]", "nothing")
        expect(page.locator("p.empty")).to_have_text("No action matches.")
        expect(steps).to_have_count(0)
    finally:
        context.close()
        empty.stop()


def test_the_actions_list_shows_each_handler_under_handler(page: Page, server: ServerProcess) -> None:
    define(server, "handled_here", handler="http://127.0.0.1:9/handled")
    sign_in(page, server)
    page.fill("input[aria-label=Search]", "handled_here")
    expect(page.locator("table.list thead")).to_contain_text("Handler")
    expect(page.locator("table.list thead")).not_to_contain_text("Runs")
    headers = page.locator("table.list thead th").all_text_contents()
    row = page.locator("table.list tbody tr", has_text="handled_here")
    expect(row.locator("td").nth(headers.index("Handler"))).to_have_text("webhook http://127.0.0.1:9/handled")
