"""Kriti templates as a tree: the nodes, how each evaluates, the functions and the errors.

Parsing lives in `kriti`; see there for the language.
"""

from __future__ import annotations

import json
from abc import ABC, abstractmethod
from collections.abc import Callable, Mapping
from typing import Any
from urllib.parse import quote

from metadata.json_kinds import json_kind


class KritiError(ValueError):
    """A template that does not parse, or fails to evaluate, with its position."""

    def __init__(self, kind: str, message: str, source: str, index: int) -> None:
        before = source[:index]
        self.line = before.count("\n") + 1
        self.column = index - (before.rfind("\n") + 1) + 1
        self.detail = message
        super().__init__(f"{kind}: {message} at line {self.line}, column {self.column}")


class KritiParseError(KritiError):
    pass


class KritiEvalError(KritiError):
    pass


class Failure(Exception):
    """Raised inside parsing and evaluation; turned into a KritiError with the source position."""

    def __init__(self, message: str, index: int) -> None:
        super().__init__(message)
        self.message, self.index = message, index


Env = Mapping[str, Any]


def _render(value: Any) -> str:
    return value if isinstance(value, str) else json.dumps(value, separators=(",", ":"))


# ---------------------------------------------------------------------------------------- nodes


class Node(ABC):
    index = 0

    @abstractmethod
    def ev(self, env: Env) -> Any:
        """The node's value in `env`."""


class Lit(Node):
    def __init__(self, value: Any) -> None:
        self.value = value

    def ev(self, env: Env) -> Any:
        return self.value


class Str(Node):
    def __init__(self, parts: list[str | Node]) -> None:
        self.parts = parts

    def ev(self, env: Env) -> Any:
        return "".join(p if isinstance(p, str) else _render(p.ev(env)) for p in self.parts)


class Arr(Node):
    def __init__(self, items: list[Node]) -> None:
        self.items = items

    def ev(self, env: Env) -> Any:
        return [item.ev(env) for item in self.items]


class Obj(Node):
    def __init__(self, pairs: list[tuple[Node, Node]]) -> None:
        self.pairs = pairs

    def ev(self, env: Env) -> Any:
        out: dict[str, Any] = {}
        for key, value in self.pairs:
            name = key.ev(env)
            if not isinstance(name, str):
                raise Failure(f"an object key must be a string, got {json_kind(name)}", key.index)
            out[name] = value.ev(env)
        return out


class Var(Node):
    def __init__(self, name: str, index: int) -> None:
        self.name, self.index = name, index

    def ev(self, env: Env) -> Any:
        if self.name not in env:
            raise Failure(f'unknown variable "{self.name}"', self.index)
        return env[self.name]


class Path(Node):
    def __init__(self, base: Node, steps: list[tuple[bool, Node]], text: str, index: int) -> None:
        self.base, self.steps, self.text, self.index = base, steps, text, index

    def ev(self, env: Env) -> Any:
        value = self.base.ev(env)
        for optional, step in self.steps:
            key = step.ev(env)
            found = (isinstance(value, dict) and isinstance(key, str) and key in value) or (
                isinstance(value, list) and type(key) is int and -len(value) <= key < len(value)
            )
            if found:
                value = value[key]
            elif optional:
                return None
            else:
                raise Failure(f'Path Lookup Error: "{self.text}"', self.index)
        return value


class BinOp(Node):
    def __init__(self, op: str, left: Node, right: Node, index: int) -> None:
        self.op, self.left, self.right, self.index = op, left, right, index

    def ev(self, env: Env) -> Any:
        op = self.op
        if op == "??":
            try:
                left = self.left.ev(env)
            except Failure:
                left = None
            return self.right.ev(env) if left is None else left
        if op in ("&&", "||"):
            left = _truth(self.left.ev(env), self.left.index)
            if (op == "&&" and not left) or (op == "||" and left):
                return left
            return _truth(self.right.ev(env), self.right.index)
        left, right = self.left.ev(env), self.right.ev(env)
        if op == "==":
            return bool(left == right and json_kind(left) == json_kind(right))
        if op == "!=":
            return not (left == right and json_kind(left) == json_kind(right))
        comparable = json_kind(left) == json_kind(right) and json_kind(left) in ("number", "string")
        if not comparable:
            raise Failure(f'cannot compare {json_kind(left)} and {json_kind(right)} with "{op}"', self.index)
        return {">": left > right, "<": left < right, ">=": left >= right, "<=": left <= right}[op]


def _truth(value: Any, index: int) -> bool:
    """Kriti wants booleans; null counts as false (a missing optional field)."""
    if value is None:
        return False
    if isinstance(value, bool):
        return value
    raise Failure(f"expected a boolean, got {json_kind(value)}", index)


class If(Node):
    def __init__(self, branches: list[tuple[Node, Node]], otherwise: Node | None) -> None:
        self.branches, self.otherwise = branches, otherwise

    def ev(self, env: Env) -> Any:
        for cond, body in self.branches:
            if _truth(cond.ev(env), cond.index):
                return body.ev(env)
        return None if self.otherwise is None else self.otherwise.ev(env)


class Range(Node):
    def __init__(self, index_name: str | None, item_name: str, source: Node, body: Node, index: int) -> None:
        self.index_name, self.item_name, self.source, self.body, self.index = (
            index_name, item_name, source, body, index,
        )  # fmt: skip

    def ev(self, env: Env) -> Any:
        items = self.source.ev(env)
        if items is None:
            return []
        if not isinstance(items, list):
            raise Failure(f"range expects an array, got {json_kind(items)}", self.source.index)
        out = []
        for i, item in enumerate(items):
            scope = dict(env)
            if self.index_name not in (None, "_"):
                scope[str(self.index_name)] = i
            scope[self.item_name] = item
            out.append(self.body.ev(scope))
        return out


class Call(Node):
    def __init__(self, name: str, args: list[Node], index: int) -> None:
        self.name, self.args, self.index = name, args, index

    def ev(self, env: Env) -> Any:
        function = FUNCTIONS[self.name]
        try:
            return function(env, [a.ev(env) for a in self.args])
        except Failure:
            raise
        except (TypeError, ValueError, KeyError, IndexError) as exc:
            raise Failure(f"{self.name}: {exc}", self.index) from None


# ------------------------------------------------------------------------------------ functions


def _one(args: list[Any], *kinds: str) -> Any:
    if len(args) != 1:
        raise ValueError(f"expects 1 argument, got {len(args)}")
    if kinds and json_kind(args[0]) not in kinds:
        raise TypeError(f"expects {' or '.join(kinds)}, got {json_kind(args[0])}")
    return args[0]


def _concat(env: Env, args: list[Any]) -> Any:
    items = args[0] if len(args) == 1 and isinstance(args[0], list) else args
    kinds = {json_kind(i) for i in items}
    if not items:
        return []
    if kinds == {"string"}:
        return "".join(items)
    if kinds == {"array"}:
        return [x for i in items for x in i]
    if kinds == {"object"}:
        merged: dict[str, Any] = {}
        for i in items:
            merged.update(i)
        return merged
    raise TypeError(f"expects strings, arrays or objects of one kind, got {', '.join(sorted(kinds))}")


def _session_variable(env: Env, args: list[Any]) -> Any:
    name = _one(args, "string").lower()
    variables = {k.lower(): v for k, v in (env.get("$session_variables") or {}).items()}
    if name not in variables:
        raise ValueError(f'Session variable "{args[0]}" not found')
    return variables[name]


def _size(env: Env, args: list[Any]) -> Any:
    return len(_one(args, "string", "array", "object"))


def _empty(env: Env, args: list[Any]) -> Any:
    value = _one(args)
    return value is None or (not isinstance(value, bool | int | float) and len(value) == 0)


FUNCTIONS: dict[str, Callable[[Env, list[Any]], Any]] = {
    "escapeUri": lambda env, a: quote(_one(a, "string"), safe=""),
    "concat": _concat,
    "not": lambda env, a: not _one(a, "boolean"),
    "getSessionVariable": _session_variable,
    "toUpper": lambda env, a: _one(a, "string").upper(),
    "toLower": lambda env, a: _one(a, "string").lower(),
    "toTitle": lambda env, a: _one(a, "string").title(),
    "size": _size,
    "length": _size,
    "empty": _empty,
    "isEmpty": _empty,
    "head": lambda env, a: _one(a, "string", "array")[0],
    "tail": lambda env, a: _one(a, "string", "array")[1:],
    "inverse": lambda env, a: _one(a, "string", "array")[::-1],
    "removeNulls": lambda env, a: [x for x in _one(a, "array") if x is not None],
    "toPairs": lambda env, a: [[k, v] for k, v in _one(a, "object").items()],
    "fromPairs": lambda env, a: {str(k): v for k, v in _one(a, "array")},
}
