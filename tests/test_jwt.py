"""JWT as Hasura configures it: EC and Ed25519 keys, a JWK set fetched from a real server on
loopback (refreshed per Cache-Control, surviving a failed refresh), audience, issuer,
allowed_skew, stringified claims, a claims path, claims_map, and the token in a cookie."""

from __future__ import annotations

import json
import time
from typing import Any

import jwt
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed25519, rsa
from starlette.testclient import TestClient

from rpc.config import ConfigError, load_config
from tests.conftest import ClientFactory, query
from tests.webhook import Webhook

SECRET = {"X-Hasura-Admin-Secret": "s3cret"}
NS = "https://hasura.io/jwt/claims"
ROLES = {"x-hasura-allowed-roles": ["user"], "x-hasura-default-role": "user", "x-hasura-user-id": "42"}


def public_pem(private: Any) -> str:
    pem = private.public_key().public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
    return str(pem.decode())


def sign(key: Any, algorithm: str, claims: dict[str, Any] | None = None, kid: str | None = None, **extra: Any) -> str:
    body = {NS: ROLES, "exp": int(time.time()) + 60, **extra} if claims is None else claims
    return jwt.encode(body, key, algorithm=algorithm, headers={"kid": kid} if kid else None)


def server(make_client: ClientFactory, webhook: Webhook, **jwt_secret: Any) -> TestClient:
    client = make_client(admin_secret="s3cret", jwt_secret=jwt_secret)
    types = {"objects": [{"name": "Out", "fields": [{"name": "ok", "type": "Boolean!"}]}]}
    assert query(client, "set_custom_types", types, headers=SECRET).status_code == 200
    definition = {"handler": webhook.respond("/who", body={"ok": True}), "output_type": "Out"}
    assert (
        query(client, "create_action", {"name": "whoami", "definition": definition}, headers=SECRET).status_code == 200
    )
    grant = {"action": "whoami", "role": "user"}
    assert query(client, "create_action_permission", grant, headers=SECRET).status_code == 200
    return client


def run(client: TestClient, token: str | None = None, **headers: str) -> Any:
    if token is not None:
        headers["Authorization"] = f"Bearer {token}"
    return query(client, "run_action", {"name": "whoami"}, headers=headers)


def refused(response: Any) -> str:
    assert response.status_code in (400, 401), response.text
    return str(response.json()["error"])


@pytest.mark.parametrize(
    ("type_", "algorithm", "private"),
    [
        ("ES256", "ES256", ec.generate_private_key(ec.SECP256R1())),
        ("ES384", "ES384", ec.generate_private_key(ec.SECP384R1())),
        ("Ed25519", "EdDSA", ed25519.Ed25519PrivateKey.generate()),
        ("PS256", "PS256", rsa.generate_private_key(public_exponent=65537, key_size=2048)),
    ],
    ids=["ES256", "ES384", "Ed25519", "PS256"],
)
def test_ec_and_eddsa_keys(
    make_client: ClientFactory, webhook: Webhook, type_: str, algorithm: str, private: Any
) -> None:
    client = server(make_client, webhook, type=type_, key=public_pem(private))
    assert run(client, sign(private, algorithm)).json() == {"output": {"ok": True}}
    other = ec.generate_private_key(ec.SECP256R1()) if algorithm != "ES256" else ec.generate_private_key(ec.SECP384R1())
    assert refused(run(client, sign(other, "ES256" if algorithm != "ES256" else "ES384"))).startswith(
        "Could not verify JWT"
    )


def test_audience_issuer_and_skew(make_client: ClientFactory, webhook: Webhook) -> None:
    key = "a-shared-secret-of-at-least-32-bytes!"
    client = server(
        make_client, webhook, type="HS256", key=key, audience=["app", "cli"], issuer="https://auth", allowed_skew=30
    )
    good = {"aud": "cli", "iss": "https://auth"}
    assert run(client, sign(key, "HS256", **good)).status_code == 200
    assert refused(run(client, sign(key, "HS256", aud="other", iss="https://auth"))) == (
        "Could not verify JWT: JWTNotInAudience"
    )
    assert (
        refused(run(client, sign(key, "HS256", aud="app", iss="https://evil")))
        == "Could not verify JWT: JWTNotInIssuer"
    )
    # Expired ten seconds ago, within the 30 s of allowed skew; a minute ago, beyond it.
    assert run(client, sign(key, "HS256", **good, exp=int(time.time()) - 10)).status_code == 200
    assert (
        refused(run(client, sign(key, "HS256", **good, exp=int(time.time()) - 60)))
        == "Could not verify JWT: JWTExpired"
    )
    assert refused(run(client, sign(key, "HS256", **good, nbf=int(time.time()) + 120))) == (
        "Could not verify JWT: JWTNotYetValid"
    )


def test_stringified_claims_under_a_path(make_client: ClientFactory, webhook: Webhook) -> None:
    key = "a-shared-secret-of-at-least-32-bytes!"
    client = server(
        make_client,
        webhook,
        type="HS256",
        key=key,
        claims_namespace_path="$.app['hasura claims']",
        claims_format="stringified_json",
    )
    claims = {"app": {"hasura claims": json.dumps(ROLES)}, "exp": int(time.time()) + 60}
    assert run(client, sign(key, "HS256", claims)).status_code == 200
    assert webhook.calls("/who")[-1].body["session_variables"] == {"x-hasura-role": "user", "x-hasura-user-id": "42"}
    claims["app"] = {"hasura claims": ROLES}
    assert (
        refused(run(client, sign(key, "HS256", claims))) == "expecting a string when claims_format is stringified_json"
    )
    claims["app"] = {}
    assert refused(run(client, sign(key, "HS256", claims))) == (
        "claims not found at claims_namespace_path: '$.app['hasura claims']'"
    )


def test_claims_map(make_client: ClientFactory, webhook: Webhook) -> None:
    key = "a-shared-secret-of-at-least-32-bytes!"
    claims_map = {
        "x-hasura-allowed-roles": {"path": "$.roles"},
        "x-hasura-default-role": {"path": "$.role", "default": "user"},
        "x-hasura-user-id": {"path": "$.sub"},
        "x-hasura-team-ids": {"path": "$.teams"},
        "x-hasura-tenant": "acme",
    }
    client = server(make_client, webhook, type="HS256", key=key, claims_map=claims_map)
    claims = {"roles": ["user", "editor"], "sub": "u-7", "teams": [1, 2], "exp": int(time.time()) + 60}
    assert run(client, sign(key, "HS256", claims)).status_code == 200
    assert webhook.calls("/who")[-1].body["session_variables"] == {
        "x-hasura-role": "user",
        "x-hasura-user-id": "u-7",
        "x-hasura-team-ids": "[1,2]",
        "x-hasura-tenant": "acme",
    }
    del claims["sub"]
    assert refused(run(client, sign(key, "HS256", claims))) == "JWT claim from claims_map, x-hasura-user-id not found"
    del claims["roles"]
    assert refused(run(client, sign(key, "HS256", claims))) == "JWT claim does not contain x-hasura-allowed-roles"


def test_the_token_in_a_cookie(make_client: ClientFactory, webhook: Webhook) -> None:
    key = "a-shared-secret-of-at-least-32-bytes!"
    client = server(make_client, webhook, type="HS256", key=key, header={"type": "Cookie", "name": "session"})
    token = sign(key, "HS256")
    assert run(client, Cookie=f"theme=dark; session={token}").json() == {"output": {"ok": True}}
    assert refused(run(client, Cookie="theme=dark")) == "Could not find session in Cookie header"
    assert refused(run(client)) == "Missing 'Authorization' or 'Cookie' header in JWT authentication mode"
    assert refused(run(client, token)) == "Missing 'Authorization' or 'Cookie' header in JWT authentication mode"


def jwk(private: Any, kid: str) -> dict[str, Any]:
    public = json.loads(jwt.algorithms.ECAlgorithm.to_jwk(private.public_key()))
    return {**public, "kid": kid, "alg": "ES256", "use": "sig"}


def test_a_jwk_set_is_refreshed_and_survives_a_failed_refresh(make_client: ClientFactory, webhook: Webhook) -> None:
    first, second = ec.generate_private_key(ec.SECP256R1()), ec.generate_private_key(ec.SECP256R1())
    fresh = {"Cache-Control": "public, max-age=1"}
    url = webhook.respond("/jwks", body={"keys": [jwk(first, "k1")]}, headers=fresh)
    client = server(make_client, webhook, jwk_url=url)
    assert run(client, sign(first, "ES256", kid="k1")).status_code == 200

    # The provider rotates its key: picked up once the fetched set is a second old.
    webhook.respond("/jwks", body={"keys": [jwk(second, "k2")]}, headers=fresh)
    time.sleep(1.8)
    assert run(client, sign(second, "ES256", kid="k2")).status_code == 200
    assert refused(run(client, sign(first, "ES256", kid="k1"))) == "Could not verify JWT: JWSError NoUsableKeys"

    # The provider fails: the keys already held keep working.
    webhook.respond("/jwks", status=500, body={"error": "down"})
    time.sleep(1.8)
    assert len(webhook.calls("/jwks")) >= 3
    assert run(client, sign(second, "ES256", kid="k2")).status_code == 200


@pytest.mark.parametrize(
    ("secret", "message"),
    [
        ({"type": "HS256"}, "exactly one of key and jwk_url is needed"),
        ({"type": "HS256", "key": "k", "jwk_url": "http://x"}, "exactly one of key and jwk_url is needed"),
        ({"type": "RS256", "key": "not a pem"}, "Invalid JWK"),
        ({"jwk_url": "http://x", "claims_namespace": "a", "claims_namespace_path": "$.a"}, "both cannot be set"),
        (
            {"jwk_url": "http://x", "claims_map": {"x-hasura-default-role": "user"}},
            "x-hasura-allowed-roles is expected",
        ),
        ({"jwk_url": "http://x", "header": {"type": "Cookie"}}, "needs the cookie's"),
        ({"jwk_url": "http://x", "claims_namespace_path": "hasura"}, "invalid JSON path"),
    ],
)
def test_misconfigured_jwt_secrets_stop_the_server(secret: dict[str, Any], message: str) -> None:
    environ = {"SWITCHBOARD_ADMIN_SECRET": "s", "SWITCHBOARD_JWT_SECRET": json.dumps(secret)}
    with pytest.raises(ConfigError) as caught:
        load_config(None, environ)
    assert message in str(caught.value)
