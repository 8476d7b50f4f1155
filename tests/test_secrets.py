"""A password written in a data source URL stays out of every log line at every level, and out of
every answer (exports, diffs, inconsistencies) unless an export asks for it (a backup); a masked
URL given back keeps the stored password."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from pathlib import Path

import httpx2 as httpx
import pytest
from starlette.testclient import TestClient

from tests.conftest import PG_URL, _pg_admin, query
from tests.processes import ServerProcess, free_port
from tests.shop import create_shop

PASSWORD = "hunter2-" + uuid.uuid4().hex[:8]  # the test server trusts loopback: any password connects


@pytest.fixture
def secret_source() -> Iterator[str]:
    """A PostgreSQL database, and its URL with a password written in it."""
    name = f"sb_secret_{uuid.uuid4().hex[:12]}"
    _pg_admin(f'CREATE DATABASE "{name}"')
    url = PG_URL.rsplit("/", 1)[0] + f"/{name}"
    create_shop(url)
    try:
        yield url.replace("postgres@", f"postgres:{PASSWORD}@", 1)
    finally:
        _pg_admin(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def masked(url: str) -> str:
    return url.replace(PASSWORD, "***")


ACTION = {
    "name": "count_products",
    "definition": {"sql": {"source": "shop", "statement": "SELECT count(*) AS n FROM products"}, "arguments": []},
}


@pytest.mark.parametrize("level", ["debug", "trace"])
def test_a_password_is_never_logged(tmp_path: Path, secret_source: str, level: str) -> None:
    log = tmp_path / "server.log"
    server = ServerProcess(tmp_path, log=log, log_level=level, log_format="json", admin_secret="s")
    admin = {"X-Hasura-Admin-Secret": "s"}
    closed = f"postgresql://u:{PASSWORD}@127.0.0.1:{free_port()}/db"
    try:
        with httpx.Client(base_url=server.url, headers=admin, timeout=30) as http:

            def call(type_: str, args: object) -> httpx.Response:
                return http.post("/v1/query", json={"type": type_, "args": args})

            assert call("add_source", {"name": "shop", "url": secret_source}).status_code == 200
            assert call("add_source", {"name": "gone", "url": closed}).status_code == 200
            assert call("create_action", ACTION).status_code == 200
            assert call("run_action", {"name": "count_products"}).status_code == 200
            assert call("update_source", {"name": "gone", "url": closed + "?x=1"}).status_code == 200
            for type_, args in [
                ("export_metadata", {}),
                ("diff_metadata", {"from_version": 1}),
                ("get_inconsistent_metadata", {}),
                ("reload_metadata", {}),
            ]:
                answer = call(type_, args)
                assert answer.status_code == 200, answer.text
                assert PASSWORD not in answer.text, type_
                assert "***" in answer.text, type_
    finally:
        server.stop()
    text = log.read_text()
    assert "listening on" in text
    assert PASSWORD not in text


def test_exports_mask_passwords_unless_asked_and_masked_urls_keep_them(client: TestClient, secret_source: str) -> None:
    assert query(client, "add_source", {"name": "shop", "url": secret_source}).status_code == 200
    assert query(client, "create_action", ACTION).status_code == 200
    exported = query(client, "export_metadata").json()
    assert exported["data_sources"] == [{"name": "shop", "url": masked(secret_source)}]
    backup = query(client, "export_metadata", {"reveal_secrets": True}).json()
    assert backup["data_sources"] == [{"name": "shop", "url": secret_source}]

    # The masked export applied back changes nothing, and the source still connects.
    replaced = query(client, "replace_metadata", exported)
    assert replaced.status_code == 200 and "resource_version" in replaced.json()
    assert query(client, "export_metadata", {"reveal_secrets": True}).json() == backup
    assert query(client, "run_action", {"name": "count_products"}).json()["output"]["returning"] == [{"n": 2}]
    # So does an update that gives the masked URL back (the console saving a source).
    update = query(client, "update_source", {"name": "shop", "url": masked(secret_source)})
    assert update.status_code == 200
    assert query(client, "export_metadata", {"reveal_secrets": True}).json() == backup

    # A masked password that no source of that name holds for that URL is refused.
    for type_, args, path in [
        ("add_source", {"name": "other", "url": masked(secret_source)}, "$.args.url"),
        (
            "update_source",
            {"name": "shop", "url": masked(secret_source).replace("127.0.0.1", "localhost")},
            "$.args.url",
        ),
        (
            "replace_metadata",
            {**exported, "data_sources": [{"name": "new", "url": masked(secret_source)}]},
            "$.args.data_sources",
        ),
    ]:
        refused = query(client, type_, args)
        assert refused.status_code == 400, refused.text
        assert refused.json()["code"] == "parse-failed"
        assert "is masked (***)" in refused.json()["error"]
        assert refused.json()["path"] == path
    assert query(client, "export_metadata", {"reveal_secrets": True}).json() == backup
