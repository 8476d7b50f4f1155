"""The server as a user starts it: `switchboard serve`, settings from file and environment,
/healthz, and a store that goes away."""

from __future__ import annotations

import os
import subprocess
from collections.abc import Iterator
from pathlib import Path

import httpx2 as httpx
import pytest
from starlette.testclient import TestClient

from rpc.app import create_app
from rpc.config import Config, ConfigError, load_config
from tests.conftest import PG_URL, _pg_admin
from tests.processes import SWITCHBOARD, ServerProcess


@pytest.fixture
def server(tmp_path: Path) -> Iterator[tuple[str, Path]]:
    """`switchboard serve --config FILE` in an empty directory, secret and port from the environment."""
    config = tmp_path / "switchboard.yaml"
    config.write_text("admin_secret: from-file\nlog_level: warning\n")
    process = ServerProcess(tmp_path, "--config", str(config), admin_secret="from-env")
    try:
        yield process.url, tmp_path
    finally:
        process.stop()


def test_serve_starts_on_sqlite_in_the_working_directory(server: tuple[str, Path]) -> None:
    url, directory = server
    assert httpx.get(f"{url}/healthz").text == "OK"
    denied = httpx.post(f"{url}/v1/query", json={"type": "export_metadata", "args": {}})
    assert denied.status_code == 401
    # The environment overrides the file.
    wrong = httpx.post(
        f"{url}/v1/query", json={"type": "export_metadata", "args": {}}, headers={"X-Hasura-Admin-Secret": "from-file"}
    )
    assert wrong.status_code == 401
    ok = httpx.post(
        f"{url}/v1/metadata",
        json={"type": "export_metadata", "args": {}},
        headers={"X-Hasura-Admin-Secret": "from-env"},
    )
    assert ok.json() == {"version": 3, "sources": []}
    assert (directory / "switchboard.db").exists()


def test_defaults_and_overrides(tmp_path: Path) -> None:
    assert load_config(None, {}) == Config()
    assert Config().database_url == "sqlite:///./switchboard.db"
    config = tmp_path / "c.yaml"
    config.write_text("port: 9000\nhost: 0.0.0.0\n")
    loaded = load_config(None, {"SWITCHBOARD_CONFIG": str(config), "SWITCHBOARD_HOST": "127.0.0.2"})
    assert (loaded.port, loaded.host) == (9000, "127.0.0.2")


@pytest.mark.parametrize(
    ("text", "environ", "message"),
    [
        ("databse_url: x\n", {}, 'c.yaml: unknown setting "databse_url" (did you mean database_url?)'),
        ("zzz: x\n", {}, 'c.yaml: unknown setting "zzz"'),
        (
            "admin_secret: s\njwt_secret: {tpye: HS256, key: a-key-of-at-least-32-bytes-for-hs256!}\n",
            {},
            'c.yaml: unknown setting "tpye" in jwt_secret (did you mean type?)',
        ),
        (
            "admin_secret: s\n",
            {"SWITCHBOARD_JWT_SECRET": '{"jwk_url": "http://x", "header": {"type": "Cookie", "nmae": "s"}}'},
            'SWITCHBOARD_JWT_SECRET: unknown setting "nmae" in jwt_secret.header (did you mean name?)',
        ),
        ("port: lots\n", {}, "c.yaml: Expected `int`, got `str` (setting port)"),
        ("", {"SWITCHBOARD_PORT": "lots"}, "SWITCHBOARD_PORT: Expected `int`, got `str` (setting port)"),
        ("- a list\n", {}, "c.yaml must hold a mapping of settings"),
        ("port: [\n", {}, "c.yaml is not valid YAML"),
        # Without an admin secret every caller is admin: tokens and anonymous roles would mean nothing.
        ("unauthorized_role: anonymous\n", {}, "unauthorized_role requires admin_secret to be set"),
        ("", {"SWITCHBOARD_JWT_SECRET": '{"type": "HS256", "key": "k"}'}, "jwt_secret requires admin_secret to be set"),
        ("admin_secret: s\nunauthorized_role: admin\n", {}, 'unauthorized_role may not be "admin"'),
        ("admin_secret: s\npublic_role: admin\n", {}, 'public_role may not be "admin"'),
        # Set but empty (an unset variable in a deployment template): a secret every caller knows.
        ("", {"SWITCHBOARD_ADMIN_SECRET": ""}, "SWITCHBOARD_ADMIN_SECRET: admin_secret is empty"),
        ("admin_secret: ' '\n", {}, "c.yaml: admin_secret is empty"),
        ("", {"SWITCHBOARD_METRICS_SECRET": "\t"}, "SWITCHBOARD_METRICS_SECRET: metrics_secret is empty"),
        (
            "admin_secret: s\n",
            {"SWITCHBOARD_JWT_SECRET": '{"type": "HS256", "key": " "}'},
            "SWITCHBOARD_JWT_SECRET: key is empty",
        ),
    ],
)
def test_config_errors_name_the_setting(tmp_path: Path, text: str, environ: dict[str, str], message: str) -> None:
    config = tmp_path / "c.yaml"
    config.write_text(text)
    with pytest.raises(ConfigError) as caught:
        load_config(str(config), environ)
    assert message in str(caught.value)


def test_serve_refuses_an_empty_admin_secret(tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("SWITCHBOARD_")}
    done = subprocess.run(
        [SWITCHBOARD, "serve"],
        cwd=tmp_path,
        env={**env, "SWITCHBOARD_ADMIN_SECRET": ""},
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert done.returncode == 1
    assert done.stderr.strip().splitlines() == [
        "error: SWITCHBOARD_ADMIN_SECRET: admin_secret is empty: set it to a secret, or leave it out"
    ]


def test_serve_refuses_a_bad_config_file(tmp_path: Path) -> None:
    config = tmp_path / "c.yaml"
    config.write_text("admin_secret: x\nprot: 1\n")
    done = subprocess.run([SWITCHBOARD, "serve", "--config", str(config)], capture_output=True, text=True, timeout=30)
    assert done.returncode != 0
    assert 'unknown setting "prot"' in done.stderr
    assert "Traceback" not in done.stderr


def test_health_and_queries_when_the_store_goes_away() -> None:
    name = f"sb_test_gone_{os.getpid()}"
    _pg_admin(f'CREATE DATABASE "{name}"')
    try:
        with TestClient(create_app(Config(database_url=PG_URL.rsplit("/", 1)[0] + f"/{name}"))) as client:
            assert client.get("/healthz").status_code == 200
            _pg_admin(f'DROP DATABASE "{name}" WITH (FORCE)')
            assert client.get("/healthz").status_code == 503
            response = client.post("/v1/query", json={"type": "export_metadata", "args": {}})
            assert response.status_code == 503
            assert response.json()["code"] == "unavailable"
    finally:
        _pg_admin(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def test_example_config_documents_every_setting_with_its_default() -> None:
    example = Path(__file__).parent.parent / "config.example.yaml"
    assert load_config(str(example), {}) == Config()
    text = example.read_text()
    for name in Config.__struct_fields__:
        assert f"\n{name}:" in text, name
