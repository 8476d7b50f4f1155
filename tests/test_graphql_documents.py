"""GraphQL documents cannot stall the server or grow its memory: limits on size, tokens, depth and
fields (fragments counted as spread), answered as Hasura answers a document it refuses, before any
expensive work; caches that hold values, bounded in the characters of their texts."""

from __future__ import annotations

import gc
from typing import Any

import pytest
from starlette.testclient import TestClient

from handlers.graphql.cache import Bounded
from handlers.graphql.document import Refused
from handlers.graphql.errors import RequestError
from tests.conftest import ClientFactory

ADMIN = {"X-Hasura-Admin-Secret": "s3cret"}
LIMITS = {
    "graphql_max_document_bytes": 20_000,
    "graphql_max_tokens": 1_000,
    "graphql_max_depth": 5,
    "graphql_max_fields": 50,
}


def refusal(message: str) -> dict[str, Any]:
    return {"errors": [{"message": message, "extensions": {"path": "$.query", "code": "validation-failed"}}]}


def graphql(client: TestClient, query: str) -> Any:
    response = client.post("/v1/graphql", json={"query": query}, headers=ADMIN)
    assert response.status_code == 200, response.text
    return response.json()


def nested(levels: int) -> str:
    return "{ __schema { " + "types { fields { type { " * (levels // 3) + "name" + " } } }" * (levels // 3) + " } }"


def fragment_bomb(levels: int) -> str:
    """Each fragment spreads the next twice: 2**levels fields from a few lines."""
    fragments = [f"fragment F{i} on __Type {{ ...F{i + 1} ...F{i + 1} }}" for i in range(levels)]
    fragments.append(f"fragment F{levels} on __Type {{ name }}")
    return "{ __schema { queryType { ...F0 } } } " + " ".join(fragments)


@pytest.fixture
def limited(make_client: ClientFactory) -> TestClient:
    return make_client(admin_secret="s3cret", **LIMITS)


@pytest.mark.parametrize(
    ("query", "message"),
    [
        ("{ " + "__typename " * 2000 + "}", "the query document is larger than 20000 bytes"),
        ("{ " + "__typename " * 1500 + "}", "the query document has more than 1000 tokens"),
        (nested(9), "the query is nested deeper than 5 levels"),
        ("{ " + "__typename " * 51 + "}", "the query selects more than 50 fields"),
        (fragment_bomb(30), "the query selects more than 50 fields"),
        ("{ a" * 300 + " }" * 300, "the query is nested deeper than 5 levels"),
        # A document whose characters take more bytes than the limit, though fewer characters.
        ('{ __type(name: "' + "é" * 10_001 + '") { name } }', "the query document is larger than 20000 bytes"),
    ],
    ids=["bytes", "tokens", "depth", "fields", "fragment-bomb", "parser-recursion", "utf-8-bytes"],
)
def test_documents_past_a_limit_are_refused(limited: TestClient, query: str, message: str) -> None:
    assert graphql(limited, query) == refusal(message)
    assert graphql(limited, query) == refusal(message)  # the same again, from the cache


def test_documents_within_the_limits_run(limited: TestClient) -> None:
    assert graphql(limited, "{ " + "__typename " * 50 + "}") == {"data": {"__typename": "query_root"}}
    assert "data" in graphql(limited, nested(3))
    assert "data" in graphql(limited, fragment_bomb(5))  # 32 fields


def test_graphiql_introspection_fits_the_default_limits(client: TestClient) -> None:
    import graphql as gql

    query = gql.get_introspection_query(descriptions=True, specified_by_url=True, directive_is_repeatable=True)
    answer = client.post("/v1/graphql", json={"query": query}).json()
    assert answer["data"]["__schema"]["queryType"]["name"] == "query_root"


def test_an_invalid_document_sent_again_and_again_holds_no_more_memory(client: TestClient) -> None:
    """The refusal is cached as a value: the one cached exception raised again and again grew its
    traceback by four frames a request (~2.6 kB), without end."""
    query = "{ nope }"
    expected = {
        "errors": [
            {
                "message": "field 'nope' not found in type: 'query_root'",
                "extensions": {"path": "$.selectionSet.nope", "code": "validation-failed"},
            }
        ]
    }
    for _ in range(300):
        assert client.post("/v1/graphql", json={"query": query}).json() == expected
    graphql_service = client.app.state.graphql  # type: ignore[attr-defined]
    [role] = graphql_service.schemas._roles.values()
    assert isinstance(role.documents.get((query, None)), Refused)
    longest = max((_frames(e) for e in gc.get_objects() if isinstance(e, RequestError)), default=0)
    assert longest < 20


def _frames(exc: BaseException) -> int:
    count, tb = 0, exc.__traceback__
    while tb is not None:
        count, tb = count + 1, tb.tb_next
    return count


def test_document_caches_are_bounded_in_characters(client: TestClient) -> None:
    graphql_service = client.app.state.graphql  # type: ignore[attr-defined]
    padding = "# " + "x" * 100_000 + "\n"
    for i in range(40):  # 4 MB of distinct documents, each valid
        answer = client.post("/v1/graphql", json={"query": f"{padding}{{ a{i}: __typename }}"}).json()
        assert answer == {"data": {f"a{i}": "query_root"}}
    [role] = graphql_service.schemas._roles.values()
    assert role.documents.size <= 256 * 1024
    assert graphql_service.documents.parsed.size <= 2 << 20
    assert len(graphql_service.documents.parsed) < 40


def test_the_bounded_cache() -> None:
    cache: Bounded[str, int] = Bounded(entries=3, chars=10)
    for key in "abc":
        cache.put(key, 1, 2)
    assert cache.get("a") == 1  # now the most recently used
    cache.put("d", 4, 2)  # past 3 entries: "b", the least recently used, goes
    assert (cache.get("b"), cache.get("a"), len(cache), cache.size) == (None, 1, 3, 6)
    cache.put("e", 5, 8)  # past 10 characters: the oldest go until it fits
    assert (len(cache), cache.size, cache.get("e"), cache.get("a")) == (2, 10, 5, 1)  # "a" was used last
    cache.put("f", 6, 11)  # larger than the whole budget: not kept
    assert cache.get("f") is None and cache.get("e") == 5
