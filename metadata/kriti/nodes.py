"""Kriti templates as a tree, and how each node evaluates (kriti-lang's src/Kriti/Eval.hs).

Parsing lives in `kriti`. Every node keeps its span, because kriti places each runtime error on a
particular node: a wrong type on the value looked into, a missing key on the whole lookup, a
function's failure on its argument, a non-boolean condition on the whole `if` (or `elif`).
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from typing import Any

from metadata.kriti.errors import KritiEvalError, Span
from metadata.kriti.functions import FUNCTIONS, Env, FunctionFailed
from metadata.kriti.values import compare, encode, equal, kind

_INT_BOUNDS = range(-(2**63), 2**63)  # Haskell's Int, which kriti indexes with


def type_error(span: Span, value: Any, expected: str) -> KritiEvalError:
    message = f"Couldn't match expected type '{expected}' with actual type '{kind(value)}'"
    return KritiEvalError("Type Error", message, span)


def _attribute_error(span: Span, key: str) -> KritiEvalError:
    # "attritubte": kriti's own spelling, which Hasura passes on.
    message, detail = f"'Object' has no attritubte '{key}'.", f"'Object' has no attribute '{key}'"
    return KritiEvalError("Attribute Error", message, span, detail)


def _index(value: Any) -> int | None:
    """A number as a Haskell Int (1.0 is 1), or None."""
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    if isinstance(value, float) and not value.is_integer():
        return None
    return int(value) if int(value) in _INT_BOUNDS else None


class Node(ABC):
    span: Span

    @abstractmethod
    def ev(self, env: Env) -> Any:
        """The node's value in `env`."""


class Lit(Node):
    def __init__(self, value: Any, span: Span) -> None:
        self.value, self.span = value, span

    def ev(self, env: Env) -> Any:
        return self.value


class Tem(Node):
    """A string with `{{ }}` parts: strings go in as they are, other values as aeson's JSON."""

    def __init__(self, parts: list[Node], span: Span) -> None:
        self.parts, self.span = parts, span

    def ev(self, env: Env) -> Any:
        values = [part.ev(env) for part in self.parts]
        return "".join(v if isinstance(v, str) else encode(v) for v in values)


class Arr(Node):
    def __init__(self, items: list[Node], span: Span) -> None:
        self.items, self.span = items, span

    def ev(self, env: Env) -> Any:
        return [item.ev(env) for item in self.items]


class Obj(Node):
    """Keys are plain strings; of a repeated key the first wins; values evaluate in key order."""

    def __init__(self, pairs: list[tuple[str, Node]], span: Span) -> None:
        self.fields: dict[str, Node] = {}
        for key, value in pairs:
            self.fields.setdefault(key, value)
        self.span = span

    def ev(self, env: Env) -> Any:
        return {key: self.fields[key].ev(env) for key in sorted(self.fields)}


class Var(Node):
    def __init__(self, name: str, span: Span) -> None:
        self.name, self.span = name, span

    def ev(self, env: Env) -> Any:
        if self.name not in env:
            raise KritiEvalError("Name Error", f"Variable '{self.name}' not in scope", self.span)
        return env[self.name]


class Field(Node):
    """`base.name` (dotted), `base['name']` or `base[expr]`: a key of an object, an index of an array."""

    def __init__(self, base: Node, key: Node, dotted: bool, span: Span) -> None:
        self.base, self.key, self.dotted, self.span = base, key, dotted, span

    def ev(self, env: Env) -> Any:
        value = self.base.ev(env)
        if isinstance(value, dict):
            key = self.key.ev(env)
            if not isinstance(key, str):
                raise type_error(self.base.span, key, "String")
            if key not in value:
                raise _attribute_error(self.span, key)
            return value[key]
        if isinstance(value, list) and not self.dotted:
            key = self.key.ev(env)
            index = _index(key)
            if index is None:
                raise type_error(self.span, key, "Integer")
            if not 0 <= index < len(value):
                raise KritiEvalError("Index Error", "Can only range over an array", self.span, "Index out of range")
            return value[index]
        raise type_error(self.base.span, value, "Object")


class Optional(Node):
    """`base?` then lookups: null when the base fails or is null, or when any lookup finds nothing."""

    def __init__(self, base: Node, steps: list[Node], span: Span) -> None:
        self.base, self.steps, self.span = base, steps, span

    def ev(self, env: Env) -> Any:
        try:
            value = self.base.ev(env)
        except KritiEvalError:
            value = None
        # kriti holds the lookups in reverse and evaluates them so: the last one's error shows.
        keys = [step.ev(env) for step in reversed(self.steps)][::-1]
        if value is None:
            return None
        if not isinstance(value, dict | list):
            raise type_error(self.base.span, value, "Object")
        for key in keys:
            if isinstance(value, dict) and isinstance(key, str) and key in value:
                value = value[key]
            elif isinstance(value, list) and (index := _index(key)) is not None and 0 <= index < len(value):
                value = value[index]
            else:
                return None
        return value


class BinOp(Node):
    """Both sides are always evaluated; `&&` and `||` want booleans, the comparisons take any two
    values (ordered as aeson orders them), `in` looks for a key of an object or an array item."""

    def __init__(self, op: str, left: Node, right: Node, span: Span) -> None:
        self.op, self.left, self.right, self.span = op, left, right, span

    def ev(self, env: Env) -> Any:
        op = self.op
        left = self.left.ev(env)
        if op == "??":
            return self.right.ev(env) if left is None else left
        right = self.right.ev(env)
        if op in ("&&", "||"):
            if not isinstance(left, bool):
                raise type_error(self.span, left if isinstance(right, bool) else right, "Boolean")
            if not isinstance(right, bool):
                raise type_error(self.span, right, "Boolean")
            return (left and right) if op == "&&" else (left or right)
        if op == "in":
            if isinstance(right, dict):
                if not isinstance(left, str):
                    raise type_error(self.span, left, "String")
                return left in right
            if isinstance(right, list):
                return any(equal(left, item) for item in right)
            raise type_error(self.span, right, "Array")
        if op in ("==", "!="):
            return equal(left, right) == (op == "==")
        order = compare(left, right)
        return {"<": order < 0, ">": order > 0, "<=": order <= 0, ">=": order >= 0}[op]


class If(Node):
    """`branches`: (condition, value, the span an error names); a condition must be a boolean."""

    def __init__(self, branches: list[tuple[Node, Node, Span]], otherwise: Node, span: Span) -> None:
        self.branches, self.otherwise, self.span = branches, otherwise, span

    def ev(self, env: Env) -> Any:
        for cond, body, span in self.branches:
            value = cond.ev(env)
            if value is True:
                return body.ev(env)
            if value is not False:
                raise type_error(span, value, "Boolean")
        return self.otherwise.ev(env)


class Range(Node):
    def __init__(self, index_name: str | None, item_name: str, source: Node, body: Node, span: Span) -> None:
        self.index_name, self.item_name, self.source, self.body, self.span = index_name, item_name, source, body, span

    def ev(self, env: Env) -> Any:
        items = self.source.ev(env)
        if not isinstance(items, list):
            raise type_error(self.span, items, "Array")
        out = []
        for i, item in enumerate(items):
            scope: dict[str, Any] = {self.item_name: item}
            if self.index_name is not None:
                scope[self.index_name] = i
            out.append(self.body.ev({**env, **scope}))
        return out


class Call(Node):
    def __init__(self, name: str, arg: Node, span: Span) -> None:
        self.name, self.arg, self.span = name, arg, span

    def ev(self, env: Env) -> Any:
        value = self.arg.ev(env)
        function = FUNCTIONS.get(self.name)
        if function is None:
            raise KritiEvalError("Name Error", f"Variable '{self.name}' not in scope", self.span)
        try:
            return function(value, env)
        except FunctionFailed as exc:
            raise KritiEvalError("Function Error", exc.message, self.arg.span) from None
