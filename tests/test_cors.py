"""Browsers on another origin (CORS), as Hasura configures it: preflights on every endpoint, the
allowed origins (wildcards, ports), the websocket's Origin, `disable_cors`; and a real browser
page on another origin (Chromium through Playwright) calling a query and a subscription."""

from __future__ import annotations

import asyncio
import json
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest
import websockets
from aiohttp import web
from playwright.sync_api import sync_playwright
from websockets.exceptions import InvalidStatus

from tests.conftest import ClientFactory, ServeFactory
from tests.console_fixtures import CHROMIUM, CHROMIUM_ARGS
from tests.processes import free_port
from tests.test_graphql import ANSWER, define
from tests.webhook import Webhook

DOMAINS = "https://app.example.com, https://*.example.com, http://localhost:3000"


def preflight(client: object, path: str, origin: str) -> object:
    headers = {
        "Origin": origin,
        "Access-Control-Request-Method": "POST",
        "Access-Control-Request-Headers": "content-type,x-hasura-role,x-hasura-admin-secret",
    }
    return client.options(path, headers=headers)  # type: ignore[attr-defined]


@pytest.mark.parametrize("path", ["/v1/graphql", "/v1/query", "/v1/metadata", "/api/action"])
def test_preflights_are_answered_on_every_endpoint(make_client: ClientFactory, path: str) -> None:
    client = make_client()  # cors_domain "*" by default
    answer = preflight(client, path, "https://anywhere.example.org")
    assert answer.status_code == 200  # type: ignore[attr-defined]
    headers = answer.headers  # type: ignore[attr-defined]
    assert headers["access-control-allow-origin"] == "https://anywhere.example.org"
    assert "x-hasura-role" in headers["access-control-allow-headers"].lower()
    assert "POST" in headers["access-control-allow-methods"]
    posted = client.post("/v1/query", json={"type": "export_metadata", "args": {}}, headers={"Origin": "https://x.org"})
    assert posted.headers["access-control-allow-origin"] == "https://x.org"  # reflected, as Hasura does


def test_a_list_of_origins_with_wildcards_and_ports(make_client: ClientFactory) -> None:
    client = make_client(cors_domain=DOMAINS)
    for origin, allowed in [
        ("https://app.example.com", True),
        ("https://a.b.example.com", True),
        ("http://localhost:3000", True),
        ("http://localhost:3001", False),
        ("https://example.com", False),
        ("https://example.com.evil.org", False),
        ("http://app.example.com", False),
    ]:
        answer = preflight(client, "/v1/graphql", origin)
        assert (answer.headers.get("access-control-allow-origin") == origin) is allowed, origin  # type: ignore[attr-defined]
        posted = client.post("/v1/graphql", json={"query": "{ __typename }"}, headers={"Origin": origin})
        assert (posted.headers.get("access-control-allow-origin") == origin) is allowed, origin
        assert posted.status_code == 200  # the server answers; the browser keeps the answer from the page


def test_answers_without_an_origin_still_vary_by_it(make_client: ClientFactory) -> None:
    """A cache between must not give a browser an answer made for a request without Origin (no
    CORS headers): every answer says it varies by Origin, whether or not it carries one."""
    client = make_client()
    plain = client.post("/v1/query", json={"type": "export_metadata", "args": {}})
    assert "access-control-allow-origin" not in plain.headers
    assert "origin" in plain.headers["vary"].lower()
    page = client.get("/console")
    assert "origin" in page.headers["vary"].lower()


def test_disable_cors(make_client: ClientFactory) -> None:
    client = make_client(disable_cors=True)
    assert preflight(client, "/v1/graphql", "https://app.example.com").status_code == 405  # type: ignore[attr-defined]
    posted = client.post("/v1/graphql", json={"query": "{ __typename }"}, headers={"Origin": "https://app.example.com"})
    assert "access-control-allow-origin" not in posted.headers


def test_a_websocket_from_an_origin_not_allowed_is_refused(serve: ServeFactory) -> None:
    served = serve(cors_domain=DOMAINS)

    async def go() -> None:
        with pytest.raises(InvalidStatus) as refused:
            await websockets.connect(served.websocket, origin="https://evil.org")  # type: ignore[arg-type]
        assert refused.value.response.status_code == 403
        socket = await websockets.connect(served.websocket, origin="https://app.example.com")  # type: ignore[arg-type]
        await socket.close()

    asyncio.run(go())


PAGE = """<!doctype html><html><body><pre id="out">waiting</pre><script>
const api = "%(api)s", socket = "%(socket)s";
const headers = {"Content-Type": "application/json", "X-Hasura-Admin-Secret": "s3cret"};
async function main() {
  const started = await fetch(api, {method: "POST", headers,
    body: JSON.stringify({query: 'mutation { later(user: {email: "a@b.c"}) }'})}).then(r => r.json());
  const id = started.data.later;
  const ws = new WebSocket(socket, "graphql-transport-ws");
  const answers = [];
  ws.onopen = () => ws.send(JSON.stringify({type: "connection_init", payload: {headers}}));
  ws.onmessage = (event) => {
    const message = JSON.parse(event.data);
    if (message.type === "connection_ack") {
      ws.send(JSON.stringify({type: "subscribe", id: "1", payload: {
        query: "subscription ($id: uuid!) { later(id: $id) { output { id } } }", variables: {id}}}));
    } else if (message.type === "next") {
      answers.push(message.payload.data.later.output);
    } else if (message.type === "complete") {
      document.getElementById("out").textContent = JSON.stringify({id, answers});
      ws.close();
    }
  };
}
main().catch(error => { document.getElementById("out").textContent = "failed: " + error; });
</script></body></html>"""


@pytest.fixture
def other_origin() -> Iterator[tuple[str, dict[str, str]]]:
    """A page server on another origin (another port), serving what the test puts in `pages`."""
    pages: dict[str, str] = {}
    port = free_port()
    loop = asyncio.new_event_loop()

    async def page(request: web.Request) -> web.Response:
        return web.Response(text=pages[request.match_info["name"]], content_type="text/html")

    app = web.Application()
    app.router.add_get("/{name}", page)
    runner = web.AppRunner(app)
    loop.run_until_complete(runner.setup())
    loop.run_until_complete(web.TCPSite(runner, "127.0.0.1", port).start())
    thread = threading.Thread(target=loop.run_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{port}", pages
    loop.call_soon_threadsafe(loop.stop)
    thread.join(10)


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
def test_a_browser_page_on_another_origin_queries_and_subscribes(
    serve: ServeFactory, webhook: Webhook, other_origin: tuple[str, dict[str, str]]
) -> None:
    origin, pages = other_origin
    served = serve(admin_secret="s3cret", cors_domain=[origin])
    define(served, webhook.respond("/later", body=ANSWER, delay=0.3), name="later", kind="asynchronous")
    # localhost, not 127.0.0.1: the page's origin and the API's differ in host and port.
    api = served.graphql.replace("127.0.0.1", "localhost")
    pages["app"] = PAGE % {"api": api, "socket": served.websocket.replace("127.0.0.1", "localhost")}
    assert Path(CHROMIUM).exists(), f"{CHROMIUM} is missing: apt-get install chromium (.ci/run does)"
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        try:
            page = browser.new_page()
            page.goto(f"{origin}/app")
            page.wait_for_function("document.getElementById('out').textContent !== 'waiting'", timeout=20_000)
            shown = page.text_content("#out") or ""
        finally:
            browser.close()
    assert not shown.startswith("failed"), shown
    answer = json.loads(shown)
    assert answer["answers"][-1] == {"id": 7} and answer["answers"][0] is None
