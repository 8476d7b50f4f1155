"""Answers are gzipped for clients that accept it (Starlette's GZipMiddleware, rpc/app.py), as
Hasura's are: /v1/query's direct route included, small answers left as they are, websockets
untouched. Through a real uvicorn and httpx."""

from __future__ import annotations

import asyncio
import gzip
import json
from typing import Any

import httpx2 as httpx
import pytest
import websockets

from rpc.app import GZIP_MINIMUM_BYTES
from tests.conftest import ServeFactory

TYPES = {"objects": [{"name": "Out", "fields": [{"name": "id", "type": "Int!"}]}]}


def document(count: int) -> dict[str, Any]:
    actions = [
        {
            "name": f"a{i:05d}",
            "definition": {
                "handler": f"http://localhost:3000/a{i:05d}",
                "output_type": "Out",
                "arguments": [{"name": "id", "type": "Int!"}],
            },
            "permissions": [{"role": "user"}],
        }
        for i in range(count)
    ]
    return {"version": 3, "actions": actions, "custom_types": TYPES}


def post(url: str, body: Any, encoding: str) -> httpx.Response:
    response = httpx.post(url, json=body, headers={"Accept-Encoding": encoding}, timeout=60)
    assert response.status_code < 500, response.text
    return response


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
def test_a_big_export_is_gzipped_for_clients_that_accept_it(serve: ServeFactory) -> None:
    served = serve()
    done = post(f"{served.url}/v1/metadata", {"type": "replace_metadata", "args": document(10_000)}, "identity")
    assert done.status_code == 200, done.text
    export = {"type": "export_metadata", "args": {}}
    for path in ("/v1/query", "/v1/metadata"):  # the direct route, both paths
        plain = post(served.url + path, export, "identity")
        compressed = post(served.url + path, export, "gzip, deflate, br")
        assert "content-encoding" not in plain.headers
        assert compressed.headers["content-encoding"] == "gzip"
        assert "accept-encoding" in compressed.headers["vary"].lower()
        size, gzipped = len(plain.content), int(compressed.headers["content-length"])
        assert size > 2_000_000 and gzipped * 10 < size, (size, gzipped)
        assert compressed.json() == plain.json()  # httpx decodes it
        assert len(compressed.json()["actions"]) == 10_000

    # The bytes on the wire are gzip's, and decode to the same answer.
    with httpx.stream("POST", f"{served.url}/v1/query", json=export, headers={"Accept-Encoding": "gzip"}) as raw:
        wire = b"".join(raw.iter_raw())
    assert len(wire) == gzipped and json.loads(gzip.decompress(wire)) == plain.json()


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
def test_small_answers_and_websockets_are_not_compressed(serve: ServeFactory) -> None:
    served = serve()
    for body in ({"type": "export_metadata", "args": {}}, {"type": "create_acton", "args": {}}):
        small = post(f"{served.url}/v1/query", body, "gzip")
        assert len(small.content) < GZIP_MINIMUM_BYTES
        assert "content-encoding" not in small.headers
    graphql = post(f"{served.url}/v1/graphql", {"query": "{ __typename }"}, "gzip")
    assert graphql.json() == {"data": {"__typename": "query_root"}}
    assert "content-encoding" not in graphql.headers
    # A big GraphQL answer (the introspection of the schema) is compressed, as Hasura's are.
    introspection = post(f"{served.url}/v1/graphql", {"query": INTROSPECTION}, "gzip")
    assert introspection.headers["content-encoding"] == "gzip"
    assert introspection.json()["data"]["__schema"]["queryType"] == {"name": "query_root"}

    async def subscribe() -> str:
        url = served.url.replace("http://", "ws://") + "/v1/graphql"
        async with websockets.connect(
            url, subprotocols=["graphql-transport-ws"], additional_headers={"Accept-Encoding": "gzip"}, open_timeout=5
        ) as socket:
            await socket.send(json.dumps({"type": "connection_init", "payload": {}}))
            return str(json.loads(await socket.recv())["type"])

    assert asyncio.run(subscribe()) == "connection_ack"


INTROSPECTION = """
{ __schema { queryType { name } types { name kind fields { name args { name type { name kind ofType { name } } } } } } }
"""
