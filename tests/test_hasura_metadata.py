"""Hasura's own action tests about metadata (server/tests-py/queries/actions/**, the
metadata steps), ported to tests/hasura/*.yaml in the scenario format and pinned exactly; each file
says where it comes from and what it adapts (Switchboard's extra `resource_version`, the tables
made by an action rather than run_sql). `response_each` matches every element of a list answer.
"""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from tests.conftest import ClientFactory
from tests.test_scenarios import matches

PORTED = sorted((Path(__file__).parent / "hasura").glob("*.yaml"))


@pytest.mark.parametrize("ported", PORTED, ids=[f.stem for f in PORTED])
def test_hasura_action_tests(
    ported: Path, make_client: ClientFactory, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    # The tables Hasura's fixtures hold live in a database of the test's own.
    monkeypatch.setenv("SCENARIO_DATABASE_URL", f"sqlite:///{tmp_path / 'hasura.db'}")
    client = make_client()
    for i, step in enumerate(yaml.safe_load(ported.read_text())["steps"]):
        where = f"{ported.name} step {i} ({step['description']})"
        response = client.post(step.get("path", "/v1/query"), json=step["query"], headers=step.get("headers"))
        assert response.status_code == step["status"], f"{where}: {response.text}"
        if "response" in step:
            assert matches(step["response"], response.json()), f"{where}: got {response.text}"
        if "response_each" in step:
            answers = response.json()
            assert isinstance(answers, list) and answers, where
            assert all(matches(step["response_each"], a) for a in answers), f"{where}: got {response.text}"
