"""Changing safely in the console: an edit, a drop, a permission taken away or a type changed is
previewed first (a dry run); when it would break a role's GraphQL schema, the console names the
breaking changes, role by role, and asks before saving. Cancelling saves nothing; "Save anyway"
saves exactly what was previewed. A change that breaks nothing saves without asking.

Same browser as tests/test_console.py (its fixtures, one xdist group), and its own server.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from playwright.sync_api import Page, expect

from tests.console_fixtures import SECRET
from tests.processes import ServerProcess
from tests.test_console import action, define, field, open_page, query, sign_in

pytestmark = pytest.mark.xdist_group("console")


@pytest.fixture(scope="module", name="server")
def server_fixture(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerProcess]:
    process = ServerProcess(tmp_path_factory.mktemp("console-changes"), admin_secret=SECRET)
    try:
        yield process
    finally:
        process.stop()


def version(server: ServerProcess) -> int:
    return int(query(server, "get_metadata_history", {"limit": 1})["versions"][0]["resource_version"])


def test_an_edit_that_breaks_a_role_asks_first(page: Page, server: ServerProcess) -> None:
    define(server, "ship", arguments=[{"name": "id", "type": "Int!"}])
    query(server, "create_action_permission", {"action": "ship", "role": "warehouse"})
    sign_in(page, server)
    open_page(page, server, "actions/ship", "action-definition")

    # A comment breaks nothing: saved at once, no question.
    before = version(server)
    field(page, "$.args.comment").fill("ships an order")
    page.click("button:text('Save')")
    expect(page.locator(".banner.ok")).to_contain_text(f"resource version {before + 1}")
    expect(page.locator("dialog")).to_have_count(0)

    # A newly required argument breaks every client that calls it: named, per role, and asked.
    page.click("button:text('Add argument')")
    field(page, "$.args.definition.arguments[1].name").fill("reason")
    field(page, "$.args.definition.arguments[1].type").fill("String!")
    page.click("button:text('Save')")
    dialog = page.locator("dialog")
    expect(dialog).to_contain_text("breaks the GraphQL schema of 2 roles")
    for role in ("admin", "warehouse"):
        expect(dialog.locator(f"[data-breaking] section[data-role='{role}']")).to_contain_text(
            "A required argument mutation_root.ship(reason:) was added."
        )
    expect(dialog.locator("button:text('Cancel')")).to_be_focused()
    dialog.locator("button:text('Cancel')").click()
    expect(page.locator("dialog")).to_have_count(0)
    assert version(server) == before + 1
    assert len(action(server, "ship")["definition"]["arguments"]) == 1

    # Asked again, and saved anyway.
    page.click("button:text('Save')")
    page.locator("dialog button:text('Save anyway')").click()
    expect(page.locator(".banner.ok")).to_contain_text(f"resource version {before + 2}")
    assert [a["name"] for a in action(server, "ship")["definition"]["arguments"]] == ["id", "reason"]


def test_a_permission_taken_away_names_the_role_it_breaks(page: Page, server: ServerProcess) -> None:
    define(server, "pack")
    query(server, "create_action_permission", {"action": "pack", "role": "packer"})
    sign_in(page, server)
    open_page(page, server, "permissions", "permissions")
    page.fill("input[aria-label=Search]", "pack")
    box = page.locator("input[aria-label='packer may run pack']")
    expect(box).to_be_checked()
    box.uncheck()
    page.click("button:text('Save')")
    dialog = page.locator("dialog")
    expect(dialog).to_contain_text("breaks the GraphQL schema of 1 role:")
    expect(dialog.locator("section[data-role='packer']")).to_contain_text("mutation_root")
    expect(dialog.locator("section[data-role='admin']")).to_have_count(0)
    page.keyboard.press("Escape")  # no is no: the change stays pending, unsaved
    expect(page.locator("dialog")).to_have_count(0)
    assert action(server, "pack")["permissions"] == [{"role": "packer"}]
    expect(page.locator(".tools")).to_contain_text("1 unsaved change")

    page.click("button:text('Save')")
    page.locator("dialog button:text('Save anyway')").click()
    expect(page.locator(".banner.ok")).to_contain_text("Saved 1 change")
    assert action(server, "pack").get("permissions", []) == []


def test_a_drop_shows_what_it_breaks_and_drops_what_was_previewed(page: Page, server: ServerProcess) -> None:
    define(server, "label")
    define(server, "label_stays")  # so mutation_root itself stays, whatever else the server holds
    query(server, "create_action_permission", {"action": "label", "role": "printer"})
    sign_in(page, server)
    open_page(page, server, "actions/label", "action-definition")
    page.click("button:text('Drop')")
    dialog = page.locator("dialog")
    expect(dialog).to_contain_text("Drop the action label")
    expect(dialog.locator("section[data-role='admin']")).to_contain_text("Field mutation_root.label was removed.")
    expect(dialog.locator("section[data-role='printer']")).to_be_visible()
    assert action(server, "label")["name"] == "label"  # the preview dropped nothing

    # Someone saves a change meanwhile: the drop was previewed on the version before it, so it
    # is refused (409) rather than applied to what nobody previewed.
    query(server, "update_action", {"name": "label", "comment": "changed meanwhile", "definition": {
        "handler": "http://127.0.0.1:9/unused", "output_type": "String"}})  # fmt: skip
    dialog.locator("button:text('Drop action')").click()
    expect(page.locator(".banner.error")).to_contain_text("The metadata changed since this page read it")
    assert action(server, "label")["comment"] == "changed meanwhile"

    page.click("button:text('Drop')")
    page.locator("dialog button:text('Drop action')").click()
    expect(page.locator("main[data-page=actions][data-ready=true]")).to_be_visible()
    assert query(server, "list_actions", {"names": ["label"]})["actions"] == []


def test_a_type_change_that_breaks_a_role_asks_first(page: Page, server: ServerProcess) -> None:
    query(server, "set_custom_types", {"objects": [{"name": "Parcel", "fields": [
        {"name": "id", "type": "Int!"}, {"name": "weight", "type": "Float"}]}]})  # fmt: skip
    define(server, "weigh", "Parcel")
    sign_in(page, server)
    open_page(page, server, "types", "types")
    page.locator("[data-type=Parcel] button:text('Edit')").click()
    page.locator("button.link:text('Remove')").nth(1).click()
    page.click("button:text('Save type')")
    dialog = page.locator("dialog")
    expect(dialog.locator("section[data-role='admin']")).to_contain_text("Parcel.weight was removed.")
    dialog.locator("button:text('Save anyway')").click()
    expect(page.locator(".banner.ok")).to_contain_text("Saved: resource version")
    types = query(server, "export_metadata", {"sections": ["custom_types"]})["custom_types"]
    assert types["objects"][0]["fields"] == [{"name": "id", "type": "Int!"}]
