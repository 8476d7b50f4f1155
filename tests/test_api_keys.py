"""API keys end to end: created once, used as X-Api-Key on any server, listed, expired, revoked,
and used by the CLI (SWITCHBOARD_API_KEY)."""

from __future__ import annotations

import os
import subprocess
import time
from pathlib import Path

from starlette.testclient import TestClient

from tests.conftest import ClientFactory, query
from tests.processes import SWITCHBOARD, ServerProcess
from tests.webhook import Webhook

SECRET = {"X-Hasura-Admin-Secret": "s3cret"}


def key_for(client: TestClient, name: str, role: str, **more: str) -> str:
    response = query(client, "create_api_key", {"name": name, "role": role, **more}, headers=SECRET)
    assert response.status_code == 200, response.text
    key = response.json()["key"]
    assert key.startswith("sb_") and response.json()["key_prefix"] == key[:10]
    return str(key)


def test_a_key_runs_as_its_role_on_every_server(make_client: ClientFactory, webhook: Webhook) -> None:
    first, second = make_client(admin_secret="s3cret"), make_client(admin_secret="s3cret")
    types = {"objects": [{"name": "Out", "fields": [{"name": "ok", "type": "Boolean!"}]}]}
    assert query(first, "set_custom_types", types, headers=SECRET).status_code == 200
    action = {
        "name": "ping",
        "definition": {"handler": webhook.respond("/ping", body={"ok": True}), "output_type": "Out"},
    }
    assert query(first, "create_action", action, headers=SECRET).status_code == 200
    assert (
        query(first, "create_action_permission", {"action": "ping", "role": "bot"}, headers=SECRET).status_code == 200
    )
    key = key_for(first, "robot", "bot")

    # Made on one server, it works on the other; the caller cannot pick another role or user.
    headers = {"X-Api-Key": key, "X-Hasura-Role": "admin", "X-Hasura-User-Id": "7"}
    response = query(second, "run_action", {"name": "ping", "input": {}}, headers=headers)
    assert response.json() == {"output": {"ok": True}}, response.text
    assert webhook.calls("/ping")[-1].body["session_variables"] == {"x-hasura-role": "bot"}
    denied = query(second, "export_metadata", headers={"X-Api-Key": key})
    assert denied.json()["code"] == "access-denied"

    listed = query(first, "list_api_keys", headers=SECRET).json()["api_keys"]
    assert [(k["name"], k["role"], k["last_used_at"] is not None) for k in listed] == [("robot", "bot", True)]
    assert key not in str(listed)

    assert query(second, "revoke_api_key", {"name": "robot"}, headers=SECRET).status_code == 200
    refused = query(first, "run_action", {"name": "ping", "input": {}}, headers={"X-Api-Key": key})
    assert refused.status_code == 401
    assert refused.json() == {"path": "$", "error": "invalid x-api-key", "code": "access-denied"}


def test_an_admin_key_is_the_admin_secret_and_expires(make_client: ClientFactory) -> None:
    client = make_client(admin_secret="s3cret")
    soon = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(time.time() + 2))
    key = key_for(client, "deploy", "admin", expires_at=soon)
    assert query(client, "export_metadata", headers={"X-Api-Key": key}).status_code == 200
    time.sleep(2.5)
    expired = query(client, "export_metadata", headers={"X-Api-Key": key})
    assert expired.status_code == 401
    assert expired.json() == {"path": "$", "error": "x-api-key has expired", "code": "access-denied"}
    assert query(client, "list_api_keys", headers=SECRET).json()["api_keys"][0]["expired"] is True


def test_the_cli_uses_a_key_from_the_environment(tmp_path: Path) -> None:
    server = ServerProcess(tmp_path, database_url=f"sqlite:///{tmp_path}/sb.db", admin_secret="s3cret")
    try:
        created = server.query("create_api_key", {"name": "ci", "role": "admin"}, headers=SECRET)
        env = {k: v for k, v in os.environ.items() if not k.startswith("SWITCHBOARD_")}
        env |= {"SWITCHBOARD_ENDPOINT": server.url, "SWITCHBOARD_API_KEY": created["key"]}
        done = subprocess.run([SWITCHBOARD, "metadata", "history"], env=env, capture_output=True, text=True, timeout=60)
        assert done.returncode == 0, done.stderr
        assert "init" in done.stdout
        env["SWITCHBOARD_API_KEY"] = "sb_wrong"
        done = subprocess.run([SWITCHBOARD, "metadata", "history"], env=env, capture_output=True, text=True, timeout=60)
        assert done.returncode == 1
        assert "invalid x-api-key" in done.stderr
    finally:
        server.stop()
