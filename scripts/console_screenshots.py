"""Screenshots of the console's main pages, for the docs: docs/console/*.png, and the same pages
on a phone (390 px wide): docs/console/phone-*.png.

    python scripts/console_screenshots.py [--out docs/console]

Starts `switchboard serve` on a fresh SQLite store and a real webhook server, fills the store with
a small shop (custom types, webhook, async and SQL actions, permissions, a data source, a public
link, runs), and photographs each page in Debian's Chromium (apt-get install chromium).
"""

from __future__ import annotations

import argparse
import sqlite3
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from playwright.sync_api import Page, sync_playwright  # noqa: E402

from tests.processes import ServerProcess  # noqa: E402
from tests.webhook import Webhook  # noqa: E402

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
    "--disable-background-networking", "--disable-component-update", "--disable-sync",
]  # fmt: skip
SECRET = "console-demo-secret"

TYPES = {
    "input_objects": [
        {"name": "UserInput", "fields": [{"name": "email", "type": "String!"}, {"name": "name", "type": "String"}]},
    ],
    "objects": [
        {"name": "UserOutput", "fields": [{"name": "id", "type": "Int!"}, {"name": "email", "type": "String"}]},
        {"name": "Report", "fields": [{"name": "url", "type": "String!"}]},
    ],
    "scalars": [{"name": "Date", "description": "an ISO date"}],
    "enums": [{"name": "Plan", "values": [{"value": "FREE"}, {"value": "PRO"}]}],
}


def seed(server: ServerProcess, webhook: Webhook, directory: Path) -> str:
    """A small shop: what the screenshots show. The uuid of create_user's public link."""
    shop = directory / "shop.db"
    with sqlite3.connect(shop) as db:
        db.execute("CREATE TABLE prices (id INTEGER PRIMARY KEY, price REAL NOT NULL)")
        db.execute("INSERT INTO prices VALUES (1, 9.5), (2, 12)")
    hook = webhook.respond("/create-user", body={"id": 7, "email": "ada@example.com"})
    report = webhook.respond("/report", body={"url": "https://reports.example.com/2026-10.pdf"}, delay=0.2)

    def q(type_: str, args: Any) -> Any:
        answer = server.query(type_, args)
        assert not (isinstance(answer, dict) and "error" in answer), answer
        return answer

    q("set_custom_types", TYPES)
    q("add_source", {"name": "shop", "url": f"sqlite:///{shop}"})
    q(
        "bulk",
        [
            {"type": "create_action", "args": {"name": "create_user", "comment": "signs a user up", "definition": {
                "handler": hook, "output_type": "UserOutput",
                "arguments": [{"name": "user", "type": "UserInput!"}, {"name": "plan", "type": "Plan"},
                              {"name": "start", "type": "Date"}],
                "headers": [{"name": "X-Source", "value": "switchboard-console"}]}}},
            {"type": "create_action", "args": {"name": "send_report", "comment": "mails the monthly report",
                "definition": {"handler": report, "output_type": "Report", "kind": "asynchronous",
                               "arguments": [{"name": "month", "type": "String!"}]}}},
            {"type": "create_action", "args": {"name": "set_price", "comment": "changes a product's price",
                "definition": {"sql": {"source": "shop", "statement":
                               "UPDATE prices SET price = {{price}} WHERE id = {{id}} RETURNING price"},
                               "arguments": [{"name": "id", "type": "Int!"}, {"name": "price", "type": "Float!"}]}}},
            {"type": "create_action_permission", "args": {"action": "create_user", "role": "user"}},
            {"type": "create_action_permission", "args": {"action": "send_report", "role": "manager"}},
            {"type": "create_action_permission", "args": {"action": "set_price", "role": "manager"}},
        ],
    )  # fmt: skip
    link = q("create_action_public_link", {"action": "create_user"})["uuid"]
    q("update_action", {"name": "set_price", "comment": "changes one product's price", "definition": {
        "sql": {"source": "shop", "statement": "UPDATE prices SET price = {{price}} WHERE id = {{id}} RETURNING price"},
        "arguments": [{"name": "id", "type": "Int!"}, {"name": "price", "type": "Float!"}]}})  # fmt: skip
    for month in ("2026-08", "2026-09", "2026-10"):
        q("run_action", {"name": "send_report", "input": {"month": month}})
    time.sleep(1.5)  # the async runs finish
    return str(link)


def shoot(page: Page, url: str, path: Path, before: Any = None) -> None:
    page.goto(url)
    page.wait_for_selector("main[data-ready=true]")
    if before is not None:
        before(page)
    page.wait_for_timeout(300)
    page.screenshot(path=str(path))
    print(path.relative_to(ROOT) if path.is_relative_to(ROOT) else path)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--out", default=str(ROOT / "docs" / "console"))
    out = Path(parser.parse_args().out).resolve()
    out.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory() as tmp:
        webhook = Webhook()
        server = ServerProcess(Path(tmp), admin_secret=SECRET, audit_sync_runs="true")
        try:
            link = seed(server, webhook, Path(tmp))
            with sync_playwright() as playwright:
                browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
                page = browser.new_page(viewport={"width": 1200, "height": 720})
                page.on("pageerror", lambda error: print("page error:", error, file=sys.stderr))
                page.goto(f"{server.url}/console/")
                page.wait_for_selector("main[data-page=signin]")
                shoot(page, f"{server.url}/console/", out / "signin.png")
                page.fill("input[name=credential]", SECRET)
                page.click("button[type=submit]")
                base = f"{server.url}/console/#/"
                shoot(page, base + "actions", out / "actions.png")
                shoot(page, base + "actions/create_user", out / "action.png")

                def run_it(page: Page) -> None:
                    page.fill("[data-path='$.args.input.user.email'] input", "ada@example.com")
                    page.select_option("[data-path='$.args.input.plan'] select", "PRO")
                    page.click("button:text('Run')")
                    page.wait_for_selector("[data-answer='200']")

                shoot(page, base + "actions/create_user/run", out / "run.png", run_it)

                def toggle(page: Page) -> None:  # an unsaved change shows
                    page.check("input[aria-label='user may run set_price']")

                shoot(page, base + "permissions", out / "permissions.png", toggle)
                shoot(page, base + "types", out / "types.png")

                def open_run(page: Page) -> None:
                    page.click("tr.run >> nth=0")

                shoot(page, base + "runs", out / "runs.png", open_run)

                def diff(page: Page) -> None:
                    versions = page.locator("tr[data-version]")
                    page.check(f"input[aria-label='from version {versions.nth(2).get_attribute('data-version')}']")
                    page.check(f"input[aria-label='to version {versions.nth(0).get_attribute('data-version')}']")
                    page.click("button:text('Show diff')")
                    page.wait_for_selector(".diff-view")

                shoot(page, base + "history", out / "history.png", diff)

                def graphiql(page: Page) -> None:  # "Try in GraphiQL" from create_user, run as the role user
                    page.wait_for_selector(".graphiql-container .CodeMirror")
                    variables = '{"user": {"email": "ada@example.com", "name": "Ada"}, "plan": "PRO"}'
                    page.locator(".graphiql-editor-tool .CodeMirror").first.evaluate(
                        "(el, text) => el.CodeMirror.setValue(text)", variables
                    )
                    page.wait_for_timeout(300)
                    page.click(".graphiql-execute-button")
                    page.wait_for_selector(".result-window .CodeMirror-line >> text=ada@example.com")

                shoot(page, base + "graphiql?action=create_user&role=user", out / "graphiql.png", graphiql)

                # A phone: 390 px wide (an iPhone 12 to 15), the same tab's credentials.
                phone = browser.new_context(viewport={"width": 390, "height": 844}, is_mobile=True, has_touch=True)
                small = phone.new_page()
                small.goto(f"{server.url}/console/")
                small.wait_for_selector("main[data-page=signin]")
                small.fill("input[name=credential]", SECRET)
                small.click("button[type=submit]")
                small.wait_for_selector("main[data-page=actions][data-ready=true]")

                shoot(small, base + "actions", out / "phone-actions.png")
                shoot(small, base + "actions/create_user/run", out / "phone-run.png", run_it)
                shoot(small, base + "runs", out / "phone-runs.png", open_run)

                # The public form of create_user's link, as anyone who has the link sees it.
                def fill_public(page: Page) -> None:
                    page.fill("[data-path='$.args.input.user.email'] input", "ada@example.com")
                    page.fill("[data-path='$.args.input.user.name'] input", "Ada")

                public = f"{server.url}/public/action/{link}"
                shoot(small, public, out / "phone-public.png", fill_public)
                shoot(page, public, out / "public.png", fill_public)
                phone.close()
                browser.close()
        finally:
            server.stop()
            webhook.close()


if __name__ == "__main__":
    main()
