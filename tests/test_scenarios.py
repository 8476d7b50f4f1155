"""Scenario files pin every operation's wire behaviour: tests/scenarios/<operation>.yaml.

A file is {config?, steps: [{description, query, status, response?, headers?, path?,
response_headers?}]}; the steps run in order against a fresh server on each backend. In an
expected response, "@any" matches any value. Every registered operation must have a file named
after it that exercises it. Handlers may be `{{ACTION_WEBHOOK_HANDLER}}/...`: the handlers of
Hasura's own action tests, on a real webhook server (tests/hasura_webhook.py); a data source may be
`url_from_env: SCENARIO_DATABASE_URL`, a SQLite file of the scenario's own.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml

from handlers.registry import OPERATIONS
from tests.conftest import ClientFactory
from tests.hasura_webhook import serve_hasura_actions
from tests.webhook import Webhook

SCENARIOS = Path(__file__).parent / "scenarios"
FILES = sorted(SCENARIOS.glob("*.yaml"))


def matches(expected: Any, actual: Any) -> bool:
    if expected == "@any":
        return True
    if isinstance(expected, dict):
        return (
            isinstance(actual, dict)
            and expected.keys() == actual.keys()
            and all(matches(v, actual[k]) for k, v in expected.items())
        )
    if isinstance(expected, list):
        return (
            isinstance(actual, list)
            and len(expected) == len(actual)
            and all(matches(e, a) for e, a in zip(expected, actual, strict=True))
        )
    return bool(expected == actual) and type(expected) is type(actual)


@pytest.mark.parametrize("scenario", FILES, ids=[f.stem for f in FILES])
def test_scenario(
    scenario: Path, make_client: ClientFactory, webhook: Webhook, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setenv("ACTION_WEBHOOK_HANDLER", serve_hasura_actions(webhook))
    # A database of the scenario's own, for data sources (`url_from_env: SCENARIO_DATABASE_URL`).
    monkeypatch.setenv("SCENARIO_DATABASE_URL", f"sqlite:///{tmp_path / 'scenario.db'}")
    spec = yaml.safe_load(scenario.read_text())
    client = make_client(**spec.get("config", {}))
    for i, step in enumerate(spec["steps"]):
        where = f"{scenario.name} step {i} ({step['description']})"
        body = step["query"]
        response = client.post(
            step.get("path", "/v1/query"),
            content=body if isinstance(body, str) else None,
            json=None if isinstance(body, str) else body,
            headers=step.get("headers"),
        )
        assert response.status_code == step["status"], f"{where}: {response.text}"
        if "response" in step:
            assert matches(step["response"], response.json()), f"{where}: got {response.text}"
        for name, value in step.get("response_headers", {}).items():
            assert response.headers.get_list(name) == value, f"{where}: {name} is {response.headers.get_list(name)}"


def test_every_operation_has_scenarios() -> None:
    for name in OPERATIONS:
        path = SCENARIOS / f"{name}.yaml"
        assert path.exists(), f"no scenario file for {name}"
        steps = yaml.safe_load(path.read_text())["steps"]
        assert any(isinstance(s["query"], dict) and s["query"].get("type") == name for s in steps), name
