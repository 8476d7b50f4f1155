"""Leaf values for tests/test_fuzz.py's bodies (tests/fuzz_bodies.py): strings drawn by field
name from pools naming what the seeded metadata holds (actions, roles, types, sources, links, runs)
or odd ones (unicode, lone surrogates, braces, long runs), numbers in and out of every range, Kriti
templates and SQL statements that work, fail at run time or do not parse, GraphQL input values,
values of the wrong JSON type, JSON nested deeper than anything accepts, and bytes that are not
JSON at all.
"""

from __future__ import annotations

import json
import random
import string
from dataclasses import dataclass, field
from typing import Any

HUGE = [2**31 - 1, 2**31, 2**53 + 1, 2**63 - 1, 2**63, 2**64, -(2**31) - 1, -(2**63) - 1, 10**30, -1]
ODD_STRINGS = [
    "", " ", "\x00", "é", "名前", "🚀" * 3, "\u202e", "a\nb", "\ud7ff", "'; DROP TABLE products; --",
    "%s%s%n", "${HOME}", "{{", "}}", "{{}}", "[[", "]]", "{{ $body }}", "\\", '"', "null", "__proto__",
]  # fmt: skip
# Templates that parse, that fail at run time on some input, and that do not parse.
KRITI = [
    "{{ $body.input }}", "{{ $body.input.s }}", "{{$body.input?.n ?? 0}}", '{"x": {{ $body.input.n }}}',
    "{{ if $body.input.b }} yes {{ else }} no {{ end }}", "{{ range i, x := $body.input.l }}{{ x }}{{ end }}",
    "{{ escapeUri($body.input.s) }}", "{{ $body['input']['s'] }}", "{{ size($body.input) }}",
    "{{ inverse(0) }}", "{{ tail([]) }}", '"\\ud800"', "{{ fromPairs([[1, 2]]) }}", "{{ 1 > 'a' }}",
    "{{ getSessionVariable(\"x-hasura-role\") }}", "{{ $body.input.nope.deeper }}", "{{ $session_variables }}",
    "{{$base_url}}/x", "{{ $query_params }}", "{{ not true }}", "{{ toUpper($body.input.s) }}",
    "{{", "{{ }}", "{{ $body. }}", "{{ if }}", "{{ range }}", "{{ end }}", "{{ ( }}", "{{ [1, }}", "{{ 'a }}",
]  # fmt: skip
# What random templates are made of.
KRITI_TOKENS = [
    "{{", "}}", " ", "$body", ".input", ".s", "?", "[", "]", "(", ")", "'", '"', "\\", "0", "-1", "1.5", "1e999",
    "1e9990", "true", "null", "if", "elif", "else", "end", "range", ":=", ",", "_", "in", "&&", "||", "==", ">", "??",
    "not", "#", "\n", "{", "}", ":", "escapeUri", "size", "inverse", "head", "tail", "fromPairs", "toPairs",
    "removeNulls", "concat", "getSessionVariable", "$session_variables", "$base_url", "$query_params", "\\u",
    "\\ud800", "é", "%",
]  # fmt: skip
SQL = [
    "SELECT 1", "SELECT {{n}} AS n", "UPDATE products SET price = {{price}} WHERE id = {{id}}",
    "SELECT * FROM products WHERE true [[AND name = {{name}}]] [[AND price <= {{max}}]]",
    "INSERT INTO log (line) VALUES ({{line}})", "SELECT * FROM nowhere", "SELECT {{n}} / 0",
    "DELETE FROM orders WHERE id = {{id}}", "{{", "[[ {{n}}", "SELECT {{ }}", "SELECT ?, %s, :x",
    "SELECT {{1n}}", "PRAGMA foreign_keys = OFF", "ATTACH DATABASE 'x.db' AS x", "",
    "SELECT x'00ff' AS b, 1e999 AS f, 9223372036854775807 + 1 AS i", "SELECT CAST(x'ff' AS TEXT) AS t",
    "SELECT '1.2.3.4'::inet AS ip, B'101' AS bits, int4range(1, 5) AS r, point(1, 2) AS p, interval '1 day' AS d",
    "SELECT 'NaN'::numeric AS n, 'infinity'::date AS d, ARRAY[1.5]::numeric[] AS a, '<a/>'::xml AS x",
    "SELECT pg_sleep(0.01)", "SELECT {{n}}::int", "SELECT CAST({{n}} AS TEXT)",
]  # fmt: skip
TYPE_STRINGS = [
    "String", "String!", "Int", "Int!", "[Int!]!", "[[String]]", "Boolean", "Float", "ID", "bigint", "numeric",
    "date", "uuid", "jsonb", "UserInput", "UserInput!", "[UserInput!]", "UserOutput", "Plan", "Date", "Tree",
    "Nope", "Int!!", "[Int", "Int]", "", "[]", "!", "__Type", "String @deprecated",
]  # fmt: skip
ENV_NAMES = ["HOME", "PATH", "FUZZ_UNSET", "SWITCHBOARD_ADMIN_SECRET", "hasura_graphql_x", "", " ", "A=B"]
ROLES = ["user", "manager", "admin", "public", "anonymous", "", " ", "Admin", "x" * 300]
SOURCES = ["shop", "shop", "pg", "down", "ghost", "", "SHOP"]
TABLES = ["orders", "products", "stock", "log", "nope", "sqlite_master", "", "main.orders"]


@dataclass
class World:
    """What the seeded metadata holds, for the generator to aim at."""

    webhook: str  # base URL of the test's webhook server
    shop_url: str  # the SQLite data source
    actions: dict[str, list[tuple[str, str]]]  # name -> [(argument, GraphQL type)]
    document: dict[str, Any]  # the seeded metadata document (export_metadata)
    links: dict[str, str] = field(default_factory=dict)  # public link uuid -> its action
    corpus: dict[str, list[Any]] = field(default_factory=dict)  # operation -> args that succeeded
    run_ids: list[str] = field(default_factory=list)
    api_keys: list[str] = field(default_factory=list)  # names
    version: int = 1  # the current resource_version, kept by the test


class Values:
    def __init__(self, seed: str, world: World) -> None:
        self.rng = random.Random(seed)
        self.world = world
        self.broken = 0.1  # the chance that a node is broken rather than valid-looking
        self.action = ""  # the action the body names so far, for the input it gets

    def string(self, name: str) -> str:
        """A string for the field `name` (`Struct.field`, or `field`)."""
        rng = self.rng
        world = self.world
        field = name.rsplit(".", 1)[-1]
        if rng.random() < (0.1 if self.broken else 0.01):
            return self.odd_string()
        named = {"DataSource.name": SOURCES, "DropSource.name": SOURCES, "RevokeApiKey.name": world.api_keys}
        if name in named and rng.random() < 0.8:
            return rng.choice(named[name])
        if field in ("name", "action") and rng.random() < 0.6:
            self.action = rng.choice(sorted(world.actions))  # the input that follows is for it
            return self.action
        if field == "uuid" and world.links and rng.random() < 0.7:
            uuid = rng.choice(sorted(world.links))
            self.action = world.links[uuid]
            return uuid
        pools: dict[str, list[str]] = {
            "name": [f"fz_{rng.randrange(100)}", "1bad", "has-dash", "", "__typename", self.letters(), *world.api_keys],
            "action": [f"fz_{rng.randrange(100)}", "ghost", ""],
            "role": ROLES,
            "type": TYPE_STRINGS,
            "output_type": TYPE_STRINGS,
            "handler": self.urls(),
            "webhook_url": self.urls(),
            "statement": SQL,
            "statements": SQL,
            "source": SOURCES,
            "table": TABLES,
            "schema": ["main", "public", "temp", "nope", ""],
            "url": [world.shop_url, "sqlite:////nonexistent/dir/x.db", "postgresql://fz@127.0.0.1:1/x",
                    "mysql+aiomysql://u@127.0.0.1:1/x", "nosuchdialect://x", "sqlite://", "not a url", "",
                    "sqlite:///x.db?timeout=abc", "postgresql://u@127.0.0.1:99999/x", "sqlite+pysqlite:///x.db"],
            "url_from_env": ENV_NAMES,
            "value_from_env": ENV_NAMES,
            "from_env": ENV_NAMES,
            "uuid": ["00000000-0000-0000-0000-000000000000", "not-a-uuid", "", "0" * 32],
            "id": [*world.run_ids, "00000000-0000-0000-0000-000000000000", "nope", ""],
            "kind": ["synchronous", "asynchronous", "", "bogus"],
            "search": ["user", "", "%", "_", "a" * 10],
            "value": ["x", "Bearer t", "é", "a\nb", "\x01", "x" * 10_000],
            "key": ["x-hasura-role", "x-hasura-user-id", "Content-Type", "X-Fuzz", "", "FUZZ_VAR"],
        }  # fmt: skip
        pool = pools.get(field)
        if pool:
            return rng.choice(pool)
        return rng.choice(["fz", "a b", "x-hasura-user-id", "1", "true", "PRO", "2026-11-22", "12.5"])

    def template(self) -> str:
        """A Kriti template: a known one, or tokens put together at random."""
        rng = self.rng
        if rng.random() < 0.7:
            return rng.choice(KRITI)
        text = "".join(rng.choice(KRITI_TOKENS) for _ in range(rng.randrange(1, 20)))
        return "{{ " + text + " }}" if rng.random() < 0.5 else text

    def letters(self) -> str:
        """A name of random letters, which does not compress, about as long as the store keeps, or longer."""
        return "n" + "".join(self.rng.choices(string.ascii_letters, k=self.rng.choice([511, 600, 3000])))

    def odd_string(self) -> str:
        rng = self.rng
        choice = rng.randrange(6)
        if choice == 0:
            return rng.choice(ODD_STRINGS)
        if choice == 1:
            return rng.choice("{[(a ") * rng.choice([1000, 20_000])
        if choice == 2:
            return "\ud800" + rng.choice(ODD_STRINGS)  # a lone surrogate
        if choice == 3:
            return "".join(chr(rng.randrange(0x20, 0x3000)) for _ in range(rng.choice([1, 10, 40, 3000])))
        if choice == 4:
            return self.template() * rng.choice([1, 50])
        return "{{ " + "(" * 3000 + "1" + ")" * 3000 + " }}"

    def integer(self, name: str) -> int:
        rng = self.rng
        name = name.rsplit(".", 1)[-1]
        if rng.random() < (0.15 if self.broken else 0.02):
            return rng.choice(HUGE)
        if name in ("at_version", "from_version", "to_version", "before"):
            return rng.randrange(0, self.world.version + 3)
        if name == "timeout":
            return rng.choice([0, 1, 2, 5])
        if name == "limit":
            return rng.choice([1, 2, 10, 1000, 10_000])
        return rng.randrange(0, 5)

    def urls(self) -> list[str]:
        base = self.world.webhook
        return [
            f"{base}/ok", f"{base}/fail", f"{base}/error", f"{base}/null", "http://127.0.0.1:9/refused",
            f"{base}/list", f"{base}/scalar", f"{base}/number", f"{base}/enum", f"{base}/partial", f"{base}/nested",
            f"{base}/text", f"{base}/refuse-oddly", f"{base}/deep",
            "{{FUZZ_UNSET}}/x", "{{HOME}}/x", "{{SWITCHBOARD_ADMIN_SECRET}}", "ftp://x/", "http://[::1", "x",
            f"{base}/{{{{ $body }}}}", "", "//127.0.0.1/x", "//" + base.split("//")[1] + "/ok",
        ]  # fmt: skip

    def graphql_value(self, type_: str, depth: int) -> Any:
        rng = self.rng
        if rng.random() < self.broken:
            return self.wrong()
        base = type_.rstrip("!")
        if base.startswith("["):
            return [self.graphql_value(base[1:-1], depth + 1) for _ in range(rng.choice([0, 1, 2]))]
        if base == "Tree":  # a recursive input type: sometimes as deep as JSON allows
            if rng.random() < 0.1:
                return self.nest({"value": 1}, rng.choice([100, 400, 990]), key="child")
            return {"value": rng.randrange(5), "child": None if depth > 2 else self.graphql_value("Tree", depth + 1)}
        if base == "UserInput":
            return {"email": self.graphql_value("String!", depth + 1)}
        scalars: dict[str, list[Any]] = {
            "Int": [0, 1, 2, -1, 2**31 - 1, 2**31],
            "bigint": [0, 2**62, 2**63, -(2**63) - 1],
            "numeric": [12.5, 0, "1e400", 1e308],
            "Float": [1.5, 0, -1e308],
            "String": ["a@b.c", "", "x" * 1000, "é", "a\r\nX-Injected: 1", "//127.0.0.1/x", "\x01"],
            "Boolean": [True, False],
            "ID": ["1", 1, 2**70],
            "Plan": ["FREE", "PRO", "GOLD", ""],
            "date": ["2026-11-22", "2026-02-30", "22/11/2026", "+99999-01-01"],
            "uuid": ["00000000-0000-0000-0000-000000000000", "nope"],
            "jsonb": [{"a": [1, None]}, [], None, "s"],
        }
        return rng.choice(scalars.get(base, [None, 1, "x", {"a": 1}]))

    def transform(self, name: str) -> Any:
        rng = self.rng
        if name == "response_transform":
            return {"version": 2, "body": {"action": "transform", "template": self.template()}}
        out: dict[str, Any] = {}
        if rng.random() < 0.6:
            out["version"] = rng.choice([1, 2, 2, 3, "2"])
        if rng.random() < 0.3:
            out["template_engine"] = rng.choice(["Kriti", "kriti", "Mustache"])
        if rng.random() < 0.4:
            out["method"] = rng.choice(["PUT", "GET", "", "G E T", "DELETE"])
        if rng.random() < 0.5:
            out["url"] = rng.choice(["{{$base_url}}/x", self.template()])
        if rng.random() < 0.6:
            out["body"] = rng.choice(
                [
                    {"action": "transform", "template": self.template()},
                    {"action": "remove"},
                    {"action": "x_www_form_urlencoded", "form_template": {"k": self.template()}},
                    {"action": "bogus"},
                    self.template(),
                ]
            )
        if rng.random() < 0.3:
            out["query_params"] = rng.choice([{"q": self.template(), "n": None}, self.template()])
        if rng.random() < 0.3:
            out["request_headers"] = {"add_headers": {"X-T": self.template()}, "remove_headers": ["X-Drop"]}
        if rng.random() < 0.1:
            out["content_type"] = rng.choice(["application/json", "text/plain"])
        return out

    def wrong(self) -> Any:
        """A value of some JSON type, likely not the one expected."""
        rng = self.rng
        choice = rng.randrange(8)
        if choice < 4:
            kinds: list[list[Any]] = [[None, True, False], HUGE, [0, 1.5, -0.0, 1e308], [[], {}]]
            return rng.choice(kinds[choice])
        if choice == 4:
            return self.odd_string()
        if choice == 5:
            return self.anything(3)
        return self.nest(None, rng.choice([50, 500, 990, 2000]))

    def anything(self, depth: int) -> Any:
        rng = self.rng
        if depth <= 0 or rng.random() < 0.4:
            return rng.choice([None, True, 0, -1, 1.5, "x", "", "{{ $body }}", 2**63])
        if rng.random() < 0.5:
            return [self.anything(depth - 1) for _ in range(rng.randrange(3))]
        return {self.string("key"): self.anything(depth - 1) for _ in range(rng.randrange(3))}

    def nest(self, inner: Any, depth: int, key: str | None = None) -> Deep:
        return Deep(inner, depth, key or self.rng.choice([None, "a"]))

    def garbage(self) -> bytes:
        rng = self.rng
        return rng.choice(
            [
                b"",
                b"{",
                b'{"type": "export_metadata", "args": {}',
                b'{"type": "export_metadata", "args": {}} trailing',
                b'{"type": "clear_metadata", "args": {}, "type": "export_metadata"}',  # the last one counts
                b"\xff\xfe{}",
                b'{"type": "run_action", "args": {"name": "\xc3\x28"}}',
                b'{"type": "export_metadata", "args": {"at_version": NaN}}',
                b'{"type": "list_actions", "args": {"offset": 1e999}}',
                b'{"type": "list_actions", "args": {"limit": 1' + b"0" * 5000 + b"}}",
                b"[" * rng.choice([500, 5000]),
                b"{" * 3000,
                b'{"a":' * 3000,
                bytes(rng.randrange(256) for _ in range(rng.randrange(1, 200))),
                b"null",
                b'"export_metadata"',
                b"\x00" * 10,
            ]
        )

    def encode(self, value: Any) -> bytes:
        """JSON, with non-ASCII sometimes raw and sometimes escaped; lone surrogates either way."""
        return dumps(value, ascii=self.rng.random() < 0.5).encode("utf-8", "surrogatepass")


@dataclass
class Deep:
    """`inner` inside `depth` arrays (or objects under `key`): written out by `dumps`, since
    nesting this deep is past what json.dumps (or any recursive walk here) accepts."""

    inner: Any
    depth: int
    key: str | None = None


def dumps(value: Any, ascii: bool = True) -> str:
    parts: list[str] = []

    def emit(v: Any) -> None:
        if isinstance(v, Deep):
            opening, closing = ("[", "]") if v.key is None else ("{" + json.dumps(v.key) + ":", "}")
            parts.append(opening * v.depth)
            emit(v.inner)
            parts.append(closing * v.depth)
        elif isinstance(v, dict):
            parts.append("{")
            for i, (key, item) in enumerate(v.items()):
                parts.append(("," if i else "") + json.dumps(key, ensure_ascii=ascii) + ":")
                emit(item)
            parts.append("}")
        elif isinstance(v, list):
            parts.append("[")
            for i, item in enumerate(v):
                parts.append("," if i else "")
                emit(item)
            parts.append("]")
        else:
            parts.append(json.dumps(v, ensure_ascii=ascii))

    emit(value)
    return "".join(parts)
