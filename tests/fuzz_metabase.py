"""Seeded requests to Metabase's REST API for tests/test_fuzz.py: every endpoint, with ids that
exist, do not, or cannot (huge, negative, text), and bodies that are near-valid, mistyped, or no
body at all."""

from __future__ import annotations

import json
import random
from typing import Any

JUNK: list[Any] = [None, "", " ", "x" * 3000, 0, -1, 2**63, 1.5, True, [], {}, [None], {"": None}, "\x00", "é"]


class Requests:
    def __init__(self, seed: str, ids: dict[str, list[int]], uuids: list[str]) -> None:
        self.rng = random.Random(seed)
        self.ids, self.uuids = ids, uuids

    def some(self, kind: str) -> Any:
        rng = self.rng
        roll = rng.random()
        if roll < 0.7 and self.ids.get(kind):
            return rng.choice(self.ids[kind])
        return rng.choice([0, 999_999, 2**31, 2**64, -3, "x", "1e3"])

    def value(self, depth: int = 0) -> Any:
        rng = self.rng
        if depth < 2 and rng.random() < 0.2:
            return {rng.choice(["a", "id", "type", "query"]): self.value(depth + 1) for _ in range(rng.randrange(3))}
        return rng.choice(JUNK)

    def tweak(self, body: dict[str, Any]) -> Any:
        """A valid body, broken now and then: a field dropped, mistyped, or the whole thing junk."""
        rng = self.rng
        roll = rng.random()
        if roll < 0.1:
            return self.value()
        if roll < 0.5 and body:
            key = rng.choice(list(body))
            if rng.random() < 0.5:
                body.pop(key)
            else:
                body[key] = self.value()
        if rng.random() < 0.2:
            body[rng.choice(["extra", "id", "archived", "kind"])] = self.value()
        return body

    def native(self) -> dict[str, Any]:
        rng = self.rng
        statement = rng.choice(
            ["UPDATE products SET price = {{price}} WHERE id = {{id}}", "SELECT {{x}}", "nonsense {{", "[[ {{a}} ]]"]
        )
        tag = {"name": "price", "type": rng.choice(["number", "text", "dimension", "date", 7]), "required": True}
        return {"query": statement, "template-tags": rng.choice([{"price": tag}, {}, {"x": {"type": "text"}}, []])}

    def request(self) -> tuple[str, str, Any]:
        """(method, path, body or None)."""
        rng = self.rng
        database, card, action, user = (self.some(k) for k in ("database", "card", "action", "user"))
        table = self.some("table")
        pick = rng.choice
        login = {"username": "ann@example.com", "password": pick(["secret123", "x"])}
        new_user = {"email": f"u{rng.randrange(99)}@example.com", "password": "secret123"}
        settings = {"settings": {"database-enable-actions": rng.random() < 0.8}}
        dataset_query = {"database": database, "type": pick(["query", "native"]), "query": {"source-table": table}}
        card_body = {"name": "m", "type": "model", "dataset_query": {**dataset_query, "native": self.native()}}
        template = {"method": pick(["POST", "GET", "BREW"]), "url": pick(["http://127.0.0.1:9/x", "{{u}}", ""])}
        action_body = {
            "name": pick(["Set price", "", "1 two", "é"]),
            "type": pick(["query", "implicit", "http", "x"]),
            "model_id": card,
            "database_id": database,
            "kind": pick(["row/create", "row/update", "row/delete", "x"]),
            "dataset_query": {"database": database, "type": "native", "native": self.native()},
            "template": template,
            "response_handle": pick([".body", ".[", None]),
        }
        names = ["price", "id", "sku", "p-price", "nope"]
        parameters = {pick(names): self.value() for _ in range(rng.randrange(4))}
        prefetch = pick(["{}", '{"id": 1}', "x", "[]"])
        link = pick([*self.uuids, "x", "00000000-0000-0000-0000-000000000000"])
        choices: list[tuple[str, str, Any]] = [
            ("POST", "/api/session", self.tweak(login)),
            ("DELETE", "/api/session", None),
            ("GET", "/api/user/current", None),
            ("GET", pick(["/api/user", "/api/user?status=all", "/api/user?limit=x"]), None),
            ("POST", "/api/user", self.tweak(new_user)),
            ("GET", f"/api/user/{user}", None),
            ("PUT", f"/api/user/{user}", self.tweak({"first_name": "X", "switchboard_role": "editor"})),
            ("DELETE", f"/api/user/{user}", None),
            ("GET", "/api/database", None),
            ("GET", f"/api/database/{database}", None),
            ("GET", f"/api/database/{database}/metadata", None),
            ("PUT", f"/api/database/{database}", self.tweak(settings)),
            ("POST", "/api/card", self.tweak(card_body)),
            ("GET", f"/api/card/{card}", None),
            ("PUT", f"/api/card/{card}", self.tweak({"name": "n", "archived": rng.random() < 0.1})),
            ("DELETE", f"/api/card/{card}", None),
            ("GET", pick(["/api/action", f"/api/action?model-id={card}"]), None),
            ("POST", "/api/action", self.tweak(action_body)),
            ("GET", f"/api/action/{action}", None),
            ("PUT", f"/api/action/{action}", self.tweak({"name": "Renamed", "archived": rng.random() < 0.1})),
            ("DELETE", f"/api/action/{action}", None),
            ("POST", f"/api/action/{action}/execute", self.tweak({"parameters": parameters})),
            ("GET", f"/api/action/{action}/execute?parameters={prefetch}", None),
            ("GET", "/api/action/public", None),
            ("POST", f"/api/action/{action}/public_link", None),
            ("DELETE", f"/api/action/{action}/public_link", None),
            ("GET", f"/api/public/action/{link}", None),
            ("POST", f"/api/public/action/{link}/execute", self.tweak({"parameters": {"id": 1}})),
            (pick(["GET", "PATCH", "POST"]), pick(["/api/dashboard", "/api/action/1/x", "/api"]), None),
        ]
        return pick(choices)

    def body(self, value: Any) -> bytes:
        if value is None:
            return b""
        if self.rng.random() < 0.05:
            return self.rng.choice([b"[[[", b"{", b"\xff", b"[" * 5000])
        return json.dumps(value).encode()
