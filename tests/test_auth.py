"""Sessions: JWT (HS256 and RS256), the unauthorized role, and session variables reaching the
handler."""

from __future__ import annotations

import time
from typing import Any

import jwt
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from starlette.testclient import TestClient

from tests.conftest import ClientFactory, query
from tests.webhook import Webhook

KEY = "a-shared-secret-of-at-least-32-bytes!"
SECRET = {"X-Hasura-Admin-Secret": "s3cret"}
NS = "https://hasura.io/jwt/claims"


def token(claims: dict[str, Any] | None = None, key: Any = KEY, algorithm: str = "HS256", **extra: Any) -> str:
    hasura = {
        "x-hasura-allowed-roles": ["user", "editor"],
        "x-hasura-default-role": "user",
        "x-hasura-user-id": "42",
        "x-hasura-org-id": 7,
    }
    body = {NS: hasura if claims is None else claims, "exp": int(time.time()) + 60, **extra}
    return jwt.encode(body, key, algorithm=algorithm)


def bearer(value: str, **headers: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {value}", **headers}


@pytest.fixture
def client(make_client: ClientFactory, webhook: Webhook) -> TestClient:
    client = make_client(admin_secret="s3cret", jwt_secret={"type": "HS256", "key": KEY}, unauthorized_role="anonymous")
    types = {"objects": [{"name": "Out", "fields": [{"name": "ok", "type": "Boolean!"}]}]}
    assert query(client, "set_custom_types", types, headers=SECRET).status_code == 200
    action = {
        "name": "whoami",
        "definition": {"handler": webhook.respond("/who", body={"ok": True}), "output_type": "Out"},
    }
    assert query(client, "create_action", action, headers=SECRET).status_code == 200
    for role in ("user", "editor", "anonymous"):
        grant = {"action": "whoami", "role": role}
        assert query(client, "create_action_permission", grant, headers=SECRET).status_code == 200
    return client


def run_as(client: TestClient, headers: dict[str, str]) -> Any:
    return query(client, "run_action", {"name": "whoami"}, headers=headers)


def test_a_jwt_gives_the_role_and_session_variables(client: TestClient, webhook: Webhook) -> None:
    response = run_as(client, bearer(token(), **{"X-Hasura-User-Id": "forged"}))
    assert response.json() == {"output": {"ok": True}}
    assert webhook.calls("/who")[-1].body["session_variables"] == {
        "x-hasura-role": "user",
        "x-hasura-user-id": "42",  # from the token, not the header
        "x-hasura-org-id": "7",
    }
    assert run_as(client, bearer(token(), **{"X-Hasura-Role": "editor"})).status_code == 200
    assert webhook.calls("/who")[-1].body["session_variables"]["x-hasura-role"] == "editor"


@pytest.mark.parametrize(
    ("headers", "status", "code", "error"),
    [
        (
            bearer(token(), **{"X-Hasura-Role": "admin"}),
            400,
            "access-denied",
            "Your requested role is not in allowed roles",
        ),
        (bearer(token(exp=int(time.time()) - 10)), 401, "invalid-jwt", "Could not verify JWT: JWTExpired"),
        (
            bearer(token(key="another-secret-that-is-also-32-bytes!")),
            401,
            "invalid-jwt",
            "Could not verify JWT: JWSError JWSInvalidSignature",
        ),
        (bearer("not.a.jwt"), 401, "invalid-jwt", "Could not verify JWT: Invalid header padding"),
        (
            bearer(jwt.encode({"sub": "1"}, KEY, algorithm="HS256")),
            400,
            "jwt-invalid-claims",
            f"claims key: '{NS}' not found",
        ),
        (
            bearer(token({"x-hasura-default-role": "user"})),
            400,
            "jwt-missing-role-claims",
            "JWT claim does not contain x-hasura-allowed-roles",
        ),
        (
            bearer(token({"x-hasura-allowed-roles": "user", "x-hasura-default-role": "user"})),
            400,
            "jwt-invalid-claims",
            "invalid x-hasura-allowed-roles; should be a list of roles",
        ),
        ({"Authorization": "Basic abc"}, 400, "invalid-headers", "Malformed Authorization header"),
        ({"X-Hasura-Admin-Secret": "wrong"}, 401, "access-denied", "invalid x-hasura-admin-secret/x-hasura-access-key"),
    ],
)
def test_bad_credentials(client: TestClient, headers: dict[str, str], status: int, code: str, error: str) -> None:
    response = run_as(client, headers)
    assert response.status_code == status, response.text
    assert response.json() == {"path": "$", "error": error, "code": code}


def test_anonymous_callers_get_the_unauthorized_role(client: TestClient, webhook: Webhook) -> None:
    assert run_as(client, {"X-Hasura-User-Id": "1", "X-Hasura-Role": "user"}).status_code == 200
    assert webhook.calls("/who")[-1].body["session_variables"] == {"x-hasura-role": "anonymous"}
    denied = query(client, "export_metadata", headers={})
    assert denied.json() == {"path": "$.args", "error": "restricted access : admin only", "code": "access-denied"}


def test_without_an_unauthorized_role_a_token_is_required(make_client: ClientFactory) -> None:
    client = make_client(admin_secret="s3cret", jwt_secret={"type": "HS256", "key": KEY})
    response = run_as(client, {})
    assert response.status_code == 400
    assert response.json()["error"] == "Missing 'Authorization' or 'Cookie' header in JWT authentication mode"
    assert query(client, "export_metadata", headers=bearer(token())).json()["code"] == "access-denied"


def test_rs256(make_client: ClientFactory, webhook: Webhook) -> None:
    private = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    public = (
        private.public_key()
        .public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
        .decode()
    )
    client = make_client(admin_secret="s3cret", jwt_secret={"type": "RS256", "key": public})
    types = {"objects": [{"name": "Out", "fields": [{"name": "ok", "type": "Boolean!"}]}]}
    query(client, "set_custom_types", types, headers=SECRET)
    action = {
        "name": "whoami",
        "definition": {"handler": webhook.respond("/who", body={"ok": True}), "output_type": "Out"},
    }
    query(client, "create_action", action, headers=SECRET)
    query(client, "create_action_permission", {"action": "whoami", "role": "user"}, headers=SECRET)
    assert run_as(client, bearer(token(key=private, algorithm="RS256"))).json() == {"output": {"ok": True}}
    assert run_as(client, bearer(token())).status_code == 401  # an HS256 token is refused
