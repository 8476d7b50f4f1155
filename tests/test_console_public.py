"""Public action forms: /public/action/<uuid> (Metabase's URL) opens, without signing in, a form
generated from the action's arguments, sends it through run_public_action (the link's rate limit,
the same checks and execution), and says so plainly; a link that no longer works says that.

Same browser and webhook as tests/test_console.py (its fixtures, one xdist group); a server of
this module's own, since what these tests add (custom types, sources) is no other test's.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx2 as httpx
import pytest
from playwright.sync_api import Browser, Page, expect

from tests.processes import ServerProcess
from tests.test_console import field, field_details, field_error, query
from tests.test_console_a11y import AXE, PHONE, axe_violations, sideways
from tests.webhook import Webhook

pytestmark = pytest.mark.xdist_group("console")


@pytest.fixture(scope="module", name="server")
def server_fixture(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerProcess]:
    process = ServerProcess(tmp_path_factory.mktemp("console-public"), admin_secret="public-secret")
    yield process
    process.stop()


@pytest.fixture
def visitor(browser: Browser) -> Iterator[Page]:
    """Someone who was sent a link: a fresh browser, never signed in, with axe-core at hand;
    nothing may go wrong in their browser's console."""
    context = browser.new_context(viewport={"width": 1280, "height": 900})
    context.set_default_timeout(10_000)
    context.add_init_script(path=str(AXE))
    opened = context.new_page()
    problems: list[str] = []
    opened.on("pageerror", lambda error: problems.append(str(error)))
    opened.on("console", lambda m: m.type == "error" and "status of 4" not in m.text and problems.append(m.text))
    yield opened
    context.close()
    assert not problems, f"the page threw or logged errors: {problems}"


def linked(server: ServerProcess, name: str, **definition: Any) -> str:
    answer = query(server, "create_action", {"name": name, **definition})
    assert answer.get("message") == "success", answer
    return str(query(server, "create_action_public_link", {"action": name})["uuid"])


def open_form(page: Page, server: ServerProcess, uuid: str) -> None:
    page.goto(f"{server.url}/public/action/{uuid}")
    expect(page.locator("main[data-page=public-action][data-ready=true]")).to_be_visible()


def test_anyone_with_the_link_fills_in_the_form(visitor: Page, server: ServerProcess, hook: Webhook) -> None:
    types = query(server, "export_metadata", {"sections": ["custom_types"]}).get("custom_types") or {}
    if not any(e["name"] == "SignupPlan" for e in types.get("enums", [])):
        enums = [*types.get("enums", []), {"name": "SignupPlan", "values": [{"value": "FREE"}, {"value": "PRO"}]}]
        assert "error" not in query(server, "set_custom_types", {**types, "enums": enums})
    handler = hook.respond("/signup", body="ok")
    arguments = [
        {"name": "email", "type": "String!", "description": "where the newsletter goes"},
        {"name": "plan", "type": "SignupPlan"},
        {"name": "seats", "type": "Int"},
    ]
    definition = {"handler": handler, "output_type": "String", "arguments": arguments}
    uuid = linked(server, "newsletter_signup", comment="Get the monthly newsletter.", definition=definition)
    neighbour = {"handler": handler, "output_type": "String"}
    linked(server, "secret_neighbour", comment="not for the public", definition=neighbour)

    open_form(visitor, server, uuid)
    expect(visitor).to_have_title("newsletter_signup")
    expect(visitor.get_by_role("heading", level=1)).to_have_text("newsletter_signup")
    expect(visitor.locator(".description")).to_have_text("Get the monthly newsletter.")
    email = visitor.get_by_label("email")
    expect(email).to_have_attribute("aria-required", "true")
    expect(email).to_have_accessible_description("where the newsletter goes")
    expect(visitor.get_by_label("plan")).to_be_visible()
    # Nothing of the server but this form: no console, no handler, no other action.
    for hidden in ("secret_neighbour", handler, "Run as role", "Dry run", "Sign out"):
        expect(visitor.locator("body")).not_to_contain_text(hidden)
    form = httpx.get(f"{server.url}/public/action/{uuid}/form").json()
    assert set(form) == {"name", "description", "arguments", "types", "hidden", "success_message"}
    assert form["types"] == {"enums": [{"name": "SignupPlan", "values": [{"value": "FREE"}, {"value": "PRO"}]}]}
    assert axe_violations(visitor) == []

    # A refusal is shown at its field, in a sentence, with the code and path beneath.
    visitor.click("button:text('Submit')")
    expect(field_error(visitor, "$.args.input.email")).to_have_text(
        'Missing required argument "email" of type "String!".'
    )
    expect(field_details(visitor, "$.args.input.email")).to_have_text("validation-failed at $.args.input")
    expect(email).to_be_focused()
    expect(visitor.locator(".banner.error")).to_have_count(0)
    assert axe_violations(visitor) == []
    email.fill("ada@example.com")
    visitor.select_option("[data-path='$.args.input.plan'] select", "PRO")
    field(visitor, "$.args.input.seats").fill("2.5")
    visitor.click("button:text('Submit')")
    expect(field_error(visitor, "$.args.input.seats")).to_contain_text("Int")

    field(visitor, "$.args.input.seats").fill("3")
    visitor.click("button:text('Submit')")
    sent = visitor.get_by_role("status")
    expect(sent).to_have_text("Thanks for your submission.")
    expect(sent).to_be_focused()
    call = hook.calls("/signup")[-1].body
    assert call["input"] == {"email": "ada@example.com", "plan": "PRO", "seats": 3}
    assert call["session_variables"] == {"x-hasura-role": "public"}  # the link's role, not an admin's
    assert axe_violations(visitor) == []
    # Another answer, from a blank form.
    visitor.click("button:text('Fill it in again')")
    expect(visitor.get_by_label("email")).to_have_value("")


def metabase_signup(server: ServerProcess, tmp: Path, message: str | None) -> tuple[str, Path]:
    """A Metabase query action on a signups table, made through Metabase's API with field
    settings (a title, a placeholder, a hidden field with a default) and a success message;
    shared through Metabase's API too. Its link's uuid, and the database."""
    db = tmp / "signups.db"
    with sqlite3.connect(db) as conn:
        conn.execute("CREATE TABLE signups (id INTEGER PRIMARY KEY, email TEXT NOT NULL, source TEXT NOT NULL)")
    source = f"signups_{tmp.name}".replace("-", "_")
    assert "error" not in query(server, "add_source", {"name": source, "url": f"sqlite:///{db}"})
    email = f"{source}@example.com"
    query(server, "create_user", {"email": email, "password": "secret123", "superuser": True})
    api = httpx.Client(base_url=server.url)
    signed = api.post("/api/session", json={"username": email, "password": "secret123"})
    api.cookies.clear()
    api.headers["X-Metabase-Session"] = signed.json()["id"]
    [database] = [d for d in api.get("/api/database").json()["data"] if d["name"] == source]
    api.put(f"/api/database/{database['id']}", json={"settings": {"database-enable-actions": True}}).raise_for_status()
    [table] = api.get(f"/api/database/{database['id']}/metadata").json()["tables"]
    card = {
        "name": "signups model",
        "type": "model",
        "display": "table",
        "visualization_settings": {},
        "dataset_query": {"database": database["id"], "type": "query", "query": {"source-table": table["id"]}},
    }
    model = api.post("/api/card", json=card).json()["id"]
    tags = {
        "email": {"id": "t-email", "name": "email", "display-name": "Email", "type": "text", "required": True},
        "source": {"id": "t-source", "name": "source", "display-name": "Source", "type": "text", "required": True},
    }
    parameters = [
        {"id": "p-email", "slug": "email", "type": "string/=", "target": ["variable", ["template-tag", "email"]]},
        {"id": "p-source", "slug": "source", "type": "string/=", "target": ["variable", ["template-tag", "source"]]},
    ]
    settings: dict[str, Any] = {
        "fields": {
            "p-email": {"id": "p-email", "title": "Your email", "placeholder": "you@example.com", "hidden": False},
            "p-source": {"id": "p-source", "hidden": True, "defaultValue": "public form"},
        }
    }
    if message is not None:
        settings["successMessage"] = message
    action = {
        "name": "Join the waiting list",
        "description": "We write once, when it opens.",
        "type": "query",
        "model_id": model,
        "database_id": database["id"],
        "dataset_query": {
            "database": database["id"],
            "type": "native",
            "native": {
                "query": "INSERT INTO signups (email, source) VALUES ({{email}}, {{source}})",
                "template-tags": tags,
            },
        },
        "parameters": parameters,
        "visualization_settings": settings,
    }
    made = api.post("/api/action", json=action)
    assert made.status_code == 200, made.text
    shared = api.post(f"/api/action/{made.json()['id']}/public_link")
    assert shared.status_code == 200, shared.text
    return str(shared.json()["uuid"]), db


def test_a_metabase_action_shows_its_field_settings_and_success_message(
    visitor: Page, server: ServerProcess, tmp_path: Path
) -> None:
    uuid, db = metabase_signup(server, tmp_path, "You're on the list!")
    open_form(visitor, server, uuid)
    expect(visitor.get_by_role("heading", level=1)).to_have_text("Join the waiting list")
    expect(visitor.locator(".description")).to_have_text("We write once, when it opens.")
    email = visitor.get_by_label("Your email")
    expect(email).to_have_attribute("placeholder", "you@example.com")
    expect(visitor.locator("[data-path='$.args.input.source']")).to_have_count(0)  # hidden by Metabase
    email.fill("bo@example.com")
    visitor.click("button:text('Submit')")
    expect(visitor.get_by_role("status")).to_have_text("You're on the list!")
    with sqlite3.connect(db) as conn:
        assert conn.execute("SELECT email, source FROM signups").fetchall() == [("bo@example.com", "public form")]


def test_a_link_that_no_longer_works_says_so(visitor: Page, server: ServerProcess, hook: Webhook) -> None:
    gone = visitor.locator("main[data-page=public-gone]")
    # A uuid no link has, and no uuid at all.
    for uuid in ("00000000-0000-4000-8000-000000000000", "not-a-uuid"):
        answer = httpx.get(f"{server.url}/public/action/{uuid}")
        assert answer.status_code == 404 and "This link no longer works" in answer.text
        assert httpx.get(f"{server.url}/public/action/{uuid}/form").status_code == 404
        visitor.goto(f"{server.url}/public/action/{uuid}")
        expect(gone.get_by_role("heading")).to_have_text("This link no longer works")
        expect(visitor).to_have_title("This link no longer works")
        assert axe_violations(visitor) == []
    # A link dropped while its form is open: sending it says the same.
    definition = {"handler": hook.respond("/dropped", body="ok"), "output_type": "String"}
    uuid = linked(server, "dropped_later", definition=definition)
    open_form(visitor, server, uuid)
    query(server, "drop_action_public_link", {"action": "dropped_later"})
    visitor.click("button:text('Submit')")
    expect(gone.get_by_role("heading")).to_have_text("This link no longer works")
    assert hook.calls("/dropped") == []
    # Its action dropped: the link goes with it.
    uuid = linked(server, "dropped_action", definition=definition)
    query(server, "drop_action", {"name": "dropped_action"})
    visitor.goto(f"{server.url}/public/action/{uuid}")
    expect(gone).to_be_visible()


def test_a_public_form_keeps_the_links_rate_limit(browser: Browser, tmp_path: Path, hook: Webhook) -> None:
    """One run per 10 s for each link: the second submission is refused in a sentence."""
    limited = ServerProcess(tmp_path, public_rate_limit="0.1")
    context = browser.new_context()
    try:
        definition = {"handler": hook.respond("/limited", body="ok"), "output_type": "String"}
        uuid = linked(limited, "limited", definition=definition)
        page = context.new_page()
        open_form(page, limited, uuid)
        page.click("button:text('Submit')")
        expect(page.get_by_role("status")).to_have_text("Thanks for your submission.")
        page.click("button:text('Fill it in again')")
        page.click("button:text('Submit')")
        banner = page.locator(".banner.error")
        expect(banner.locator(".plain")).to_have_text("Too many tries in a short time: wait a moment, then try again.")
        expect(banner.locator(".error-details")).to_contain_text("rate-limited")
        assert len(hook.calls("/limited")) == 1
    finally:
        context.close()
        limited.stop()


def test_a_public_form_fits_a_phone(browser: Browser, server: ServerProcess, hook: Webhook) -> None:
    arguments = [
        {"name": "a_rather_long_argument_name_for_a_phone", "type": "String!"},
        {"name": "note", "type": "String"},
    ]
    definition = {"handler": hook.respond("/phone", body="ok"), "output_type": "String", "arguments": arguments}
    uuid = linked(server, "phone_form", comment="A form that a phone shows in one column.", definition=definition)
    context = browser.new_context(viewport=PHONE, is_mobile=True, has_touch=True)
    context.add_init_script(path=str(AXE))
    try:
        page = context.new_page()
        open_form(page, server, uuid)
        assert sideways(page) == 0
        assert axe_violations(page) == []
        page.click("button:text('Submit')")
        expect(page.locator(".field-error")).to_be_visible()
        assert sideways(page) == 0
        page.goto(f"{server.url}/public/action/00000000-0000-4000-8000-000000000000")
        expect(page.locator("main[data-page=public-gone]")).to_be_visible()
        assert sideways(page) == 0
    finally:
        context.close()
