"""Seeded request bodies for tests/test_fuzz.py: valid-looking and broken `/v1/query` bodies for
every registered operation.

Arguments are generated from each operation's args Struct (handlers/registry.py), read with
msgspec.inspect, so an operation added later is fuzzed without touching this file; or they are
args that worked when the test seeded its metadata, mutated. Leaves come from tests/fuzz_values.py,
aimed at what the metadata holds so that many requests reach the handlers. Any node may instead
be broken (a wrong type, a missing or unknown field), and so may envelopes, bulks and whole
documents; some bodies are not JSON at all.
"""

from __future__ import annotations

import copy
import json
import re
from typing import Any

import msgspec.inspect as mi

from handlers.registry import OPERATIONS
from tests.fuzz_values import HUGE, Values, World, dumps

RUNNERS = ("handler", "sql", "table")
WEBHOOK_ONLY = ("headers", "forward_client_headers", "request_transform", "response_transform")
# Fields of a Struct of which exactly one is expected.
ONE_OF = {
    "ActionDefinition": RUNNERS,
    "SqlHandler": ("statement", "statements"),
    "Header": ("value", "value_from_env"),
    "DataSource": ("url", "url_from_env"),
}
# Operations that take the args of another one, for the corpus.
CORPUS_OF = {
    "update_action": "create_action",
    "drop_action_permission": "create_action_permission",
    "update_source": "add_source",
    "drop_action_public_link": "create_action_public_link",
    "get_action_signature": "run_action",
}
# Operations sent this many more times per round.
BUSY = {"run_action": 4, "run_public_action": 1, "create_action": 1, "update_action": 1, "replace_metadata": 1,
        "bulk": 1, "test_webhook_transform": 1}  # fmt: skip
TAG = re.compile(r"\{\{\s*(\w+)\s*\}\}")
SECTIONS = ["actions", "custom_types", "data_sources", "public_links", "sources", "version", "remote_schemas", "x"]


class Bodies(Values):
    def __init__(self, seed: str, world: World) -> None:
        super().__init__(seed, world)
        self.ops = sorted(OPERATIONS)
        # Each round sends every operation once, and those with the most paths behind them more.
        self.round = self.ops + [op for op, times in BUSY.items() if op in OPERATIONS for _ in range(times)]
        self.queue: list[str] = []

    def next(self) -> tuple[str, bytes]:
        """(operation name, or `invalid`; the body's bytes)."""
        rng = self.rng
        if rng.random() < 0.03:
            return "invalid", self.garbage()
        if not self.queue:  # every operation once per round, in a random order
            self.queue = rng.sample(self.round, len(self.round))
        op = self.queue.pop()
        self.broken = rng.choice([0.0, 0.0, 0.02, 0.1, 0.3])
        envelope = self.envelope(op)
        return op, self.encode(envelope)

    def envelope(self, op: str, depth: int = 0) -> Any:
        rng = self.rng
        envelope: dict[str, Any] = {"type": op, "args": self.args(op, depth)}
        version = self.world.version
        if rng.random() < 0.12:
            wrong = [version - 1, version + 1, 0, *HUGE, "1"] if self.broken else []
            envelope["resource_version"] = rng.choice([version, version, *wrong])
        if rng.random() < 0.1:
            envelope["version"] = rng.choice([1, 2, 2, *([3, 0, -1, "2", None, 2**64] if self.broken else [])])
        if rng.random() < self.broken:
            return self.break_envelope(envelope)
        return envelope

    def break_envelope(self, envelope: dict[str, Any]) -> Any:
        rng = self.rng
        choice = rng.randrange(9)
        if choice == 0:
            del envelope["type"]
        elif choice == 1:
            envelope["type"] = self.wrong()
        elif choice == 2:
            envelope["type"] = rng.choice(["", "Create_Action", "pg_create_action", "pg_set_table_is_enum", "x" * 1000])
        elif choice == 3:
            envelope["args"] = self.wrong()
        elif choice == 4:
            del envelope["args"]
        elif choice == 5:
            envelope[rng.choice(["arg", "Type", "source", "__proto__"])] = self.wrong()
        elif choice == 6:
            return [envelope]
        elif choice == 7:
            return self.wrong()
        else:
            envelope["args"] = self.nest(envelope["args"], rng.choice([100, 900, 990, 3000]))
        return envelope

    def learn(self, body: bytes) -> None:
        """An action a body created: later bodies may run it."""
        args = json.loads(body)["args"]
        arguments = args["definition"].get("arguments") or []
        self.world.actions[args["name"]] = [(arg["name"], arg["type"]) for arg in arguments]

    def args(self, op: str, depth: int = 0) -> Any:
        """Args for `op`: generated from its Struct, or args that worked when seeding, mutated."""
        rng = self.rng
        self.action = rng.choice(sorted(self.world.actions))
        if op in ("bulk", "bulk_atomic", "bulk_keep_going"):
            return self.bulk(depth)
        if op == "replace_metadata":
            return self.document()
        examples = self.world.corpus.get(CORPUS_OF.get(op, op))
        if examples and rng.random() < 0.4:
            args = copy.deepcopy(rng.choice(examples))
            if op == "create_action" and rng.random() < 0.7:
                args["name"] = f"fz_{rng.randrange(100)}"
            for _ in range(rng.choice([0, 1, 1, 2, 3])):
                args = self.mutate(args, op)
            return args
        return self.value(mi.type_info(OPERATIONS[op].args), op)

    def bulk(self, depth: int) -> Any:
        rng = self.rng
        items: list[Any] = []
        for _ in range(rng.choice([0, 1, 2, 3, 5])):
            if rng.random() < self.broken:
                items.append(self.wrong())
            elif depth < 2 and rng.random() < 0.1:
                items.append({"type": "bulk", "args": self.bulk(depth + 1)})
            else:
                items.append(self.envelope(rng.choice(self.ops), depth + 1))
        return items

    def document(self) -> Any:
        """replace_metadata's args: the seeded document (Hasura v1 form, or v2's), mutated."""
        rng = self.rng
        doc = copy.deepcopy(self.world.document)
        for _ in range(rng.choice([0, 1, 1, 2, 4])):
            doc = self.mutate(doc, "metadata")
        if isinstance(doc, dict) and rng.random() < 0.15:
            doc[rng.choice(["remote_schemas", "cron_triggers", "sources", "tables", "bogus"])] = self.anything(3)
        if isinstance(doc, dict) and rng.random() < 0.1:
            doc["version"] = rng.choice([1, 2, 3, 4, "3", None, 2**64])
        if rng.random() < 0.5:
            return doc
        options = {
            "allow_inconsistent_metadata": rng.random() < 0.5,
            "dry_run": rng.random() < 0.3,
            "allow_warnings": rng.random() < 0.5,
        }
        return {"metadata": doc, **{k: v for k, v in options.items() if rng.random() < 0.5}}

    def mutate(self, node: Any, name: str) -> Any:
        """The node (the value of field `name`) with one randomly chosen descendant replaced by
        another plausible value or a wrong one, dropped, duplicated or added to."""
        rng = self.rng
        if isinstance(node, dict) and node and rng.random() < 0.75:
            key = rng.choice(sorted(node))
            if rng.random() < 0.15:
                del node[key]
            else:
                node[key] = self.mutate(node[key], key)
            return node
        if isinstance(node, list) and node and rng.random() < 0.75:
            i = rng.randrange(len(node))
            if rng.random() < 0.15:
                node.append(copy.deepcopy(node[i]))  # a duplicate
            else:
                node[i] = self.mutate(node[i], name)
            return node
        if isinstance(node, dict) and rng.random() < 0.5:
            node[rng.choice(["extra", "name", "comment", "kind", "type", "input"])] = self.anything(2)
            return node
        if isinstance(node, str) and rng.random() < 0.6:
            return self.string(name)
        if isinstance(node, int) and not isinstance(node, bool) and rng.random() < 0.6:
            return self.integer(name)
        return self.wrong()

    def value(self, t: Any, name: str) -> Any:
        """A value of type `t` for the field `name` (`Struct.field`); with chance `self.broken`, a
        wrong one."""
        rng = self.rng
        field = name.rsplit(".", 1)[-1]
        if rng.random() < self.broken:
            return self.wrong()
        if isinstance(t, mi.StructType):
            return self.struct(t)
        if isinstance(t, mi.UnionType):
            options = [x for x in t.types if not isinstance(x, mi.NoneType)]
            if len(options) < len(t.types) and rng.random() < 0.15:
                return None
            return self.value(rng.choice(options), name)
        if isinstance(t, mi.NoneType):
            return None
        if isinstance(t, mi.StrType):
            return self.string(name)
        if isinstance(t, mi.BoolType):
            return rng.random() < 0.5
        if isinstance(t, mi.IntType):
            return self.integer(name)
        if isinstance(t, mi.FloatType):
            return rng.choice([0, 0.5, 1, 1.5, 2, -1, 1e308, 1e-300])
        if isinstance(t, mi.LiteralType):
            return rng.choice(t.values)
        if isinstance(t, mi.DateTimeType):
            return rng.choice(
                ["2099-01-01T00:00:00Z", "2000-01-01T00:00:00", "2099-13-40T99:00:00", "tomorrow",
                 "9999-12-31T23:59:59-23:59", "0001-01-01T00:00:00+23:59", "9999-12-31T23:59:59.999999"]
            )  # fmt: skip
        if isinstance(t, mi.ListType):
            if field in ("names", "sections") and rng.random() < 0.7:
                pool = list(self.world.actions) if field == "names" else SECTIONS
                return rng.sample(pool, rng.randrange(len(pool)))
            return [self.value(t.item_type, name) for _ in range(rng.choice([0, 1, 1, 2, 3]))]
        if isinstance(t, mi.TupleType):
            return [self.value(item, name) for item in t.item_types]
        if isinstance(t, mi.DictType):
            if field == "input":
                return self.input()
            if field in ("request_transform", "response_transform"):
                return self.transform(field)
            return {self.string("key"): self.value(t.value_type, name) for _ in range(rng.randrange(3))}
        return self.anything(2)  # Any, Raw

    def struct(self, t: mi.StructType) -> dict[str, Any]:
        rng = self.rng
        broken = self.broken
        # Of each group of fields that exclude each other, mostly give one.
        group = ONE_OF.get(t.cls.__name__, ())
        chosen = rng.choice(group) if group else None
        out: dict[str, Any] = {}
        for f in t.fields:
            if f.name in group:
                wanted = f.name == chosen or rng.random() < broken
            elif chosen in RUNNERS[1:] and f.name in WEBHOOK_ONLY:
                wanted = rng.random() < broken
            elif (chosen == "handler" and f.name == "output_type") or f.name == "input":
                wanted = rng.random() >= broken
            else:
                wanted = f.required or rng.random() < (0.5 if broken else 0.25)
            if wanted and not (f.required and rng.random() < broken / 3):  # a missing required field
                out[f.encode_name] = self.value(f.type, f"{t.cls.__name__}.{f.encode_name}")
        if chosen == "sql" and isinstance(out.get("sql"), dict) and rng.random() >= broken:
            # Declare the statements' tags, as a working definition does.
            tags = sorted(set(TAG.findall(dumps(out["sql"]))))
            out["arguments"] = [{"name": tag, "type": rng.choice(["Int", "String", "numeric", "Int!"])} for tag in tags]
        if rng.random() < broken / 3:
            out[rng.choice(["unknown", "Name", "definitions", "args"])] = self.anything(1)
        return out

    def input(self) -> Any:
        """Input for one of the seeded actions (whichever this body names, or another)."""
        rng = self.rng
        arguments = self.world.actions.get(self.action, [])
        out: dict[str, Any] = {}
        for arg, type_ in arguments:
            if rng.random() < 0.85:
                out[arg] = self.graphql_value(type_, 0)
        if rng.random() < self.broken:
            out[self.string("name")] = self.anything(2)
        return out
