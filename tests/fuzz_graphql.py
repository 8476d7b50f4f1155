"""Seeded GraphQL documents and websocket frames for tests/test_fuzz.py: mostly near-valid
documents against the fuzzed metadata (its actions' fields, arguments, fragments, variables,
directives), broken at random, now and then enormous (size, tokens, depth, fields, fragment
bombs, nesting past the parser's), and frames of both websocket protocols, text and binary."""

from __future__ import annotations

import json
import random
from typing import Any

FIELDS = ["create_user", "grow_tree", "send_report", "refuse", "listing", "find_products", "__typename",
          "__schema", "__type", "no_queries_available", "nope", "deep", "tag", "echo"]  # fmt: skip
SUBFIELDS = ["id", "email", "__typename", "name", "types", "fields", "queryType", "output", "errors", "x"]
VALUES = ['"a@b.c"', "1", "-0.5", "true", "null", "FREE", "[1, 2]", '{email: "x"}', "$v", '"""block"""', "2e400"]
# Requests that run, for an admin: the frames reach results, not only refusals.
VALID = [
    {"query": "{ __typename }"},
    {"query": 'mutation { create_user(user: {email: "a@b.c"}) { id email } }'},
    {"query": "query ($n: String) { find_products(name: $n) { rows_affected } }", "variables": {"n": "Anvil"}},
    {"query": 'mutation { send_report(month: "2026-12") }'},
]
JUNK = ["{", "}", "(", ")", "...", "@", "$", ":", "!", "=", "[", "]", '"', "#", "\x00", "\ud7ff", "é", "\n", "query"]


class Documents:
    def __init__(self, seed: str) -> None:
        self.rng = random.Random(seed)

    def selection(self, depth: int) -> str:
        rng = self.rng
        parts = []
        for _ in range(rng.randrange(1, 4)):
            field = rng.choice(SUBFIELDS if depth else FIELDS)
            if rng.random() < 0.3:
                field = f"{rng.choice(['a', 'b', 'x'])}: {field}"
            if rng.random() < 0.4:
                args = ", ".join(f"{rng.choice(['user', 'id', 'n', 'name', 'month', 'tree'])}: {rng.choice(VALUES)}"
                                 for _ in range(rng.randrange(1, 3)))  # fmt: skip
                field += f"({args})"
            if rng.random() < 0.15:
                field += f" @{rng.choice(['skip', 'include', 'deprecated'])}(if: {rng.choice(['true', '$v', '1'])})"
            if depth < 4 and rng.random() < 0.5:
                field += " { " + self.selection(depth + 1) + " }"
            if rng.random() < 0.1:
                field = f"...{rng.choice(['F', 'G', 'Missing'])}"
            parts.append(field)
        return " ".join(parts)

    def document(self) -> str:
        rng = self.rng
        roll = rng.random()
        if roll < 0.05:
            return self.enormous()
        operation = rng.choice(["", "query ", "mutation ", "subscription ", "query Q ", "mutation M($v: Int) "])
        text = f"{operation}{{ {self.selection(0)} }}"
        if rng.random() < 0.3:
            text += f" fragment F on {rng.choice(['query_root', 'UserOutput', 'Nope'])} {{ {self.selection(1)} }}"
        if rng.random() < 0.1:
            text += " fragment G on UserOutput { ...G }"  # a cycle
        if rng.random() < 0.25:  # broken at random
            at = rng.randrange(len(text) + 1)
            text = text[:at] + rng.choice(JUNK) + text[at + rng.randrange(3) :]
        return text

    def enormous(self) -> str:
        rng = self.rng
        n = rng.choice([600, 3000, 20_000])
        return rng.choice(
            [
                "{ " + "__typename " * n + "}",
                "{ a" * n + " }" * n,
                "{ " + " ".join(f"a{i}: __typename" for i in range(n)) + " }",
                "{ __schema { queryType { ...F0 } } } "
                + " ".join(f"fragment F{i} on __Type {{ ...F{i + 1} ...F{i + 1} }}" for i in range(30))
                + " fragment F30 on __Type { name }",
                "{ " + '__type(name: "Boolean") { name } ' * (n // 10) + "}",
                "# " + "x" * 300_000 + "\n{ __typename }",
            ]
        )

    def request(self) -> dict[str, Any]:
        rng = self.rng
        body: dict[str, Any] = {"query": self.document()}
        if rng.random() < 0.4:
            body["variables"] = rng.choice([{"v": 1}, {"v": "x"}, {"v": None}, {"unused": [1]}, {"v": {"a": [1] * 50}}])
        if rng.random() < 0.1:
            body["operationName"] = rng.choice(["Q", "M", "nope", ""])
        return body

    def body(self) -> bytes:
        rng = self.rng
        roll = rng.random()
        if roll < 0.05:
            return rng.choice([b"", b"[]", b"null", b'{"query": 1}', b"[" * 10_000, b'{"query": "{ __typename }"'])
        if roll < 0.15:
            return json.dumps([self.request() for _ in range(rng.randrange(1, 4))]).encode()
        return json.dumps(self.request()).encode()

    def frame(self, modern: bool) -> str | bytes:
        """One websocket message, for a socket that has (mostly) sent connection_init."""
        rng = self.rng
        start, stop = ("subscribe", "complete") if modern else ("start", "stop")
        roll = rng.random()
        if roll < 0.05:
            return rng.choice([b"\x00\x01", b'{"type": "ping"}', bytes(rng.randrange(256) for _ in range(64))])
        if roll < 0.15:
            return rng.choice(["", "{", "null", "[]", '"x"', "{" * 5000, "x" * 100_000, '{"type": null}'])
        ident = rng.choice(["1", "2", "", "x" * 300, "1"])
        message: dict[str, Any] = {"type": rng.choice([start, start, start, stop, "ping", "pong", "connection_init",
                                                       "connection_terminate", "ka", "nope"]), "id": ident}  # fmt: skip
        if message["type"] == start:
            payloads = [self.request(), self.request(), *VALID, *VALID, None, "q", {"query": None}]
            message["payload"] = rng.choice(payloads)
        if rng.random() < 0.1:
            message["id"] = rng.choice([1, None, [], {"a": 1}])
        return json.dumps(message)
