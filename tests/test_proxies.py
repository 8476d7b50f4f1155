"""Outgoing HTTP honours HTTP_PROXY, HTTPS_PROXY and NO_PROXY (handlers/execution/proxies.py), as
Hasura's HTTP client does: webhooks of sync and async runs, `http` actions and the JWK set go
through a real forward proxy on loopback (tests/proxy.py) that records what it forwards; NO_PROXY's
hosts are reached directly. (conftest.py clears the proxy variables of the developer's
environment; these tests set their own.)"""

from __future__ import annotations

import base64
import os
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from cryptography.hazmat.primitives.asymmetric import ec

from handlers.execution.proxies import InvalidProxy, Proxies
from tests.conftest import ClientFactory, query
from tests.processes import SWITCHBOARD, ServerProcess, free_port
from tests.proxy import Proxy
from tests.test_jwt import jwk, sign
from tests.test_run_action import USER, define, run, wait_for
from tests.webhook import Webhook


@pytest.fixture
def proxy() -> Iterator[Proxy]:
    forward = Proxy()
    yield forward
    forward.close()


def test_sync_and_async_runs_go_through_the_proxy(
    make_client: ClientFactory, webhook: Webhook, proxy: Proxy, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("HTTP_PROXY", proxy.url)
    client = make_client()
    now, later = webhook.respond("/now", body={"id": 1}), webhook.respond("/later", body={"id": 2})
    define(client, now)
    define(client, later, name="create_user_later", kind="asynchronous")

    answer = run(client, {"user": {"email": "a@b.c"}}, headers=USER)
    assert answer.json() == {"output": {"id": 1, "email": None, "tags": None}}
    started = run(client, {"user": {"email": "a@b.c"}}, name="create_user_later", headers=USER)
    assert wait_for(client, started.json()["action_id"], USER)["output"] == {"id": 2, "email": None, "tags": None}

    # The proxy forwarded both calls, as absolute-form requests; the webhook got them from it.
    assert proxy.targets() == [f"POST {now}", f"POST {later}"]
    assert [call.path for call in webhook.received] == ["/now", "/later"]
    assert webhook.received[1].headers["idempotency-key"] == started.json()["action_id"]


def test_no_proxy_hosts_are_reached_directly(
    make_client: ClientFactory, webhook: Webhook, proxy: Proxy, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("HTTP_PROXY", proxy.url)
    monkeypatch.setenv("NO_PROXY", "localhost, 127.0.0.1")
    client = make_client()
    define(client, webhook.respond("/create", body={"id": 1}))
    assert run(client, {"user": {"email": "a@b.c"}}, headers=USER).status_code == 200
    assert [call.path for call in webhook.received] == ["/create"]
    assert proxy.forwarded == []


def test_proxy_credentials_and_lowercase_names(
    make_client: ClientFactory, webhook: Webhook, proxy: Proxy, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Lowercase wins over uppercase (curl's and urllib's rule): the uppercase one points nowhere.
    monkeypatch.setenv("HTTP_PROXY", f"http://127.0.0.1:{free_port()}")
    monkeypatch.setenv("http_proxy", proxy.url.replace("http://", "http://robot:p%40ss@"))
    client = make_client()
    define(client, webhook.respond("/create", body={"id": 1}))
    assert run(client, {"user": {"email": "a@b.c"}}, headers=USER).status_code == 200
    [forwarded] = proxy.forwarded
    assert forwarded.headers["proxy-authorization"] == "Basic " + base64.b64encode(b"robot:p@ss").decode()
    assert "proxy-authorization" not in webhook.received[0].headers


def test_https_urls_use_https_proxy_and_only_it(
    make_client: ClientFactory, webhook: Webhook, proxy: Proxy, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("HTTPS_PROXY", proxy.url)
    client = make_client()
    define(client, "https://payments.example.test/charge", name="charge")
    define(client, webhook.respond("/plain", body={"id": 1}))
    # The https:// webhook is tunnelled through the proxy (which refuses the tunnel here: a 502).
    refused = run(client, {"user": {"email": "a@b.c"}}, name="charge", headers=USER)
    assert refused.status_code == 502, refused.text
    assert proxy.targets() == ["CONNECT payments.example.test:443"]
    # An http:// webhook has no HTTP_PROXY: reached directly.
    assert run(client, {"user": {"email": "a@b.c"}}, headers=USER).status_code == 200
    assert proxy.targets() == ["CONNECT payments.example.test:443"]
    assert [call.path for call in webhook.received] == ["/plain"]


def test_http_actions_go_through_the_proxy(
    make_client: ClientFactory, webhook: Webhook, proxy: Proxy, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("HTTP_PROXY", proxy.url)
    client = make_client()
    url = webhook.respond("/item", body={"title": "Bell"})
    definition = {"http": {"method": "GET", "url": url, "response_handle": ".body.title"}}
    assert query(client, "create_action", {"name": "item", "definition": definition}).status_code == 200
    answer = query(client, "run_action", {"name": "item", "input": {}})
    assert answer.json() == {"output": "Bell"}, answer.text
    assert proxy.targets() == [f"GET {url}"]


def test_the_jwk_set_is_fetched_through_the_proxy(
    make_client: ClientFactory, webhook: Webhook, proxy: Proxy, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("HTTP_PROXY", proxy.url)
    key = ec.generate_private_key(ec.SECP256R1())
    url = webhook.respond("/jwks", body={"keys": [jwk(key, "k1")]})
    client = make_client(admin_secret="s3cret", jwt_secret={"jwk_url": url})
    assert proxy.targets() == [f"GET {url}"]
    token = {"Authorization": f"Bearer {sign(key, 'ES256', kid='k1')}"}
    # The key fetched through the proxy verifies the token: the caller is "user", not admin.
    refused = query(client, "export_metadata", headers=token)
    assert (refused.status_code, refused.json()["code"]) == (400, "access-denied")


def test_a_served_process_uses_the_proxy_of_its_environment(webhook: Webhook, proxy: Proxy, tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("SWITCHBOARD_")}
    env |= {"HTTP_PROXY": proxy.url, "NO_PROXY": "example.test"}
    server = ServerProcess(tmp_path, env=env, database_url=f"sqlite:///{tmp_path}/sb.db", log_level="info")
    try:
        types = {"objects": [{"name": "Out", "fields": [{"name": "id", "type": "Int!"}]}]}
        assert server.query("set_custom_types", types)["message"] == "success"
        url = webhook.respond("/later", body={"id": 3})
        definition = {"handler": url, "output_type": "Out", "kind": "asynchronous"}
        assert server.query("create_action", {"name": "later", "definition": definition})["message"] == "success"
        run_id = server.query("run_action", {"name": "later", "input": {}})["action_id"]
        for _ in range(400):
            result = server.query("get_action_result", {"id": run_id})
            if result["status"] == "completed":
                break
            time.sleep(0.05)
        assert result["output"] == {"id": 3}
        assert proxy.targets() == [f"POST {url}"]
    finally:
        server.stop()
    assert f"outgoing HTTP: http:// through {proxy.url} (not for example.test)" in server.log_text()


def test_a_proxy_url_the_server_cannot_use_stops_it_in_one_line(tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("SWITCHBOARD_")}
    env |= {"HTTPS_PROXY": "socks5://127.0.0.1:1080", "SWITCHBOARD_DATABASE_URL": f"sqlite:///{tmp_path}/sb.db"}
    done = subprocess.run(
        [SWITCHBOARD, "serve", "--port", str(free_port())], env=env, capture_output=True, text=True, timeout=60
    )
    assert done.returncode == 1
    assert done.stderr == "error: HTTPS_PROXY='socks5://127.0.0.1:1080' is not an http:// proxy URL\n"


# --- which URL goes where, without a network ---------------------------------------------------------


def routed(environ: dict[str, str], url: str) -> str | None:
    proxy = Proxies(environ).route(url).proxy
    return None if proxy is None else str(proxy)


@pytest.mark.parametrize(
    ("environ", "url", "expected"),
    [
        ({}, "http://api.example.com/x", None),
        ({"HTTP_PROXY": "http://proxy:3128"}, "http://api.example.com/x", "http://proxy:3128"),
        ({"HTTP_PROXY": "http://proxy:3128"}, "https://api.example.com/x", None),
        ({"HTTPS_PROXY": "proxy:3128"}, "https://api.example.com/x", "http://proxy:3128"),  # no scheme: http
        ({"HTTP_PROXY": "http://a:1", "http_proxy": "http://b:2"}, "http://h/x", "http://b:2"),
        ({"HTTP_PROXY": "http://a:1", "http_proxy": ""}, "http://h/x", None),  # empty: unset
        ({"HTTP_PROXY": "http://a:1", "REQUEST_METHOD": "GET"}, "http://h/x", None),  # CGI
        ({"HTTP_PROXY": "http://a:1", "NO_PROXY": "*"}, "http://h/x", None),
        ({"HTTP_PROXY": "http://a:1", "NO_PROXY": "example.com"}, "http://api.example.com/x", None),
        ({"HTTP_PROXY": "http://a:1", "NO_PROXY": ".example.com"}, "http://example.com/x", None),
        ({"HTTP_PROXY": "http://a:1", "NO_PROXY": "example.com"}, "http://notexample.com/x", "http://a:1"),
        ({"HTTP_PROXY": "http://a:1", "NO_PROXY": "h:8080"}, "http://h:8080/x", None),
        ({"HTTP_PROXY": "http://a:1", "NO_PROXY": "h:8080"}, "http://h/x", "http://a:1"),
        ({"HTTP_PROXY": "http://a:1", "NO_PROXY": "h:80"}, "http://h/x", None),  # the scheme's port
        ({"HTTP_PROXY": "http://a:1", "NO_PROXY": "10.0.0.0/8"}, "http://10.1.2.3/x", None),
        ({"HTTP_PROXY": "http://a:1", "NO_PROXY": "10.0.0.0/8"}, "http://11.1.2.3/x", "http://a:1"),
        ({"HTTP_PROXY": "http://a:1", "NO_PROXY": "::1"}, "http://[::1]:9/x", None),
        ({"HTTP_PROXY": "http://a:1", "NO_PROXY": "[::1]:9"}, "http://[::1]:9/x", None),
        ({"HTTP_PROXY": "http://a:1"}, "http://127.0.0.1/x", "http://a:1"),  # no implicit bypass
        ({"HTTP_PROXY": "http://u:p@a:1"}, "http://h/x", "http://a:1"),  # credentials go in a header
    ],
)
def test_routes(environ: dict[str, str], url: str, expected: str | None) -> None:
    assert routed(environ, url) == expected


def test_proxy_credentials_become_a_header() -> None:
    # Sent with the CONNECT of an https:// URL, with the request itself (to the proxy) for an
    # http:// URL: the client does which (test_proxy_credentials_and_lowercase_names).
    expected = ("http://a:1", "Basic " + base64.b64encode(b"me:s cret").decode())
    assert tuple(Proxies({"HTTPS_PROXY": "http://me:s%20cret@a:1"}).route("https://h/")) == expected
    assert tuple(Proxies({"HTTP_PROXY": "http://me:s%20cret@a:1"}).route("http://h/")) == expected
    assert tuple(Proxies({"HTTPS_PROXY": "http://a:1"}).route("https://h/")) == ("http://a:1", None)


@pytest.mark.parametrize("value", ["socks5://a:1080", "ftp://a", "http://"])
def test_unusable_proxies_are_refused(value: str) -> None:
    with pytest.raises(InvalidProxy, match="is not an http:// proxy URL"):
        Proxies({"HTTP_PROXY": value})
