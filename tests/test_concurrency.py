"""Concurrent writers: the version row's compare-and-swap lets exactly one of those holding the
same resource_version win, and without one no update is ever lost. Four apps on one store stand
for four server processes (each has its own engine, pool and in-memory view)."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from typing import Any

from tests.conftest import ClientFactory, query

TYPES = {"objects": [{"name": "Out", "fields": [{"name": "id", "type": "Int!"}]}]}


def action(i: int) -> dict[str, Any]:
    return {"name": f"action_{i}", "definition": {"handler": "http://localhost:3000", "output_type": "Out"}}


def run_writers(make_client: ClientFactory, **envelope: Any) -> tuple[list[Any], Any]:
    clients = [make_client() for _ in range(4)]
    assert query(clients[0], "set_custom_types", TYPES).json()["resource_version"] == 2
    with ThreadPoolExecutor(20) as pool:
        responses = list(pool.map(lambda i: query(clients[i % 4], "create_action", action(i), **envelope), range(20)))
    return responses, clients


def test_one_winner_among_writers_holding_the_same_version(make_client: ClientFactory) -> None:
    responses, clients = run_writers(make_client, resource_version=2)
    statuses = sorted(r.status_code for r in responses)
    assert statuses == [200] + [409] * 19, [r.text for r in responses]
    for r in responses:
        if r.status_code == 409:
            assert r.json() == {
                "path": "$",
                "error": "metadata resource version referenced (2) did not match current version",
                "code": "conflict",
            }
    # Every app sees the one winner and version 3, and nothing else.
    for client in clients:
        exported = query(client, "export_metadata", version=2).json()
        assert exported["resource_version"] == 3
        assert len(exported["metadata"]["actions"]) == 1


def test_writers_without_a_version_lose_nothing(make_client: ClientFactory) -> None:
    responses, clients = run_writers(make_client)
    assert [r.status_code for r in responses] == [200] * 20, [r.text for r in responses]
    assert sorted(r.json()["resource_version"] for r in responses) == list(range(3, 23))
    for client in clients:
        exported = query(client, "export_metadata", version=2).json()
        assert exported["resource_version"] == 22
        assert sorted(a["name"] for a in exported["metadata"]["actions"]) == sorted(f"action_{i}" for i in range(20))
    history = query(clients[1], "get_metadata_history", {"limit": 30}).json()["versions"]
    assert [v["resource_version"] for v in history] == list(range(22, 0, -1))


def test_a_stale_server_does_not_mistake_a_change_for_a_no_op(make_client: ClientFactory) -> None:
    first, second = make_client(), make_client()
    other = {"objects": [{"name": "Other", "fields": [{"name": "id", "type": "Int!"}]}]}
    assert query(first, "set_custom_types", TYPES).json()["resource_version"] == 2
    assert query(second, "export_metadata", version=2).json()["resource_version"] == 2
    assert query(first, "set_custom_types", other).json()["resource_version"] == 3
    # `second` may not have heard of version 3 yet: setting TYPES again is a change, not a no-op.
    assert query(second, "set_custom_types", TYPES).json()["resource_version"] == 4
    assert query(first, "export_metadata").json()["custom_types"] == TYPES


def test_two_busy_servers_lose_no_write(make_client: ClientFactory) -> None:
    """200 writers without a resource_version split over two servers: every one applies, however
    often the other server commits first (a writer that keeps losing the race takes the store's
    write lock and cannot lose again)."""
    first, second = make_client(), make_client()
    assert query(first, "set_custom_types", TYPES).json()["resource_version"] == 2
    with ThreadPoolExecutor(64) as pool:
        responses = list(pool.map(lambda i: query((first, second)[i % 2], "create_action", action(i)), range(200)))
    assert [r.status_code for r in responses] == [200] * 200, [r.text for r in responses if r.status_code != 200]
    assert sorted(r.json()["resource_version"] for r in responses) == list(range(3, 203))
