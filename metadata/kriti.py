"""Hasura's Kriti template language, the subset real projects use: parse and evaluate.

Two modes:
* `parse(source)`: a JSON template (request/response bodies): JSON values whose strings may
  interpolate `{{ expr }}`, and `{{ expr }}`, `{{ if c }} v {{ elif c }} v {{ else }} v {{ end }}`,
  `{{ range i, x := expr }} v {{ end }}` blocks wherever a value may stand;
* `parse_text(source)`: a text template (url, header, query-parameter and form values): raw text
  with `{{ expr }}` interpolations; the result is always a string.

Expressions: variables (`$body`, `$session_variables`, `$base_url`, `$query_params`, `$response`,
range variables), paths (`.f`, `['f']`, `[0]`, optional `?.f` / `?['f']` / `?[0]`), literals
(strings in '…' or "…", numbers, true, false, null, arrays, objects), `==`, `!=`, `>`, `<`, `>=`,
`<=`, `&&`, `||`, `??`, parentheses and the functions in `FUNCTIONS`.
Interpolated strings insert strings as they are and any other value as JSON.
Every error names its position: `... at line L, column C` (both from 1).
"""

from __future__ import annotations

import re
from collections.abc import Callable
from functools import lru_cache
from typing import Any

from metadata.kriti_nodes import (
    FUNCTIONS,
    Arr,
    BinOp,
    Call,
    Env,
    Failure,
    If,
    KritiError,
    KritiEvalError,
    KritiParseError,
    Lit,
    Node,
    Obj,
    Path,
    Range,
    Str,
    Var,
)

__all__ = ["Env", "KritiError", "KritiEvalError", "KritiParseError", "Template", "parse", "parse_text", "render_text"]

_IDENT = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
_FIELD = re.compile(r"[A-Za-z_][A-Za-z0-9_-]*")
_NUMBER = re.compile(r"-?(0|[1-9][0-9]*)(\.[0-9]+)?([eE][+-]?[0-9]+)?")
_ESCAPES = {'"': '"', "\\": "\\", "/": "/", "b": "\b", "f": "\f", "n": "\n", "r": "\r", "t": "\t", "'": "'"}
_KEYWORDS = ("if", "elif", "else", "end", "range")


class _Parser:
    def __init__(self, source: str) -> None:
        self.src, self.i = source, 0

    def fail(self, message: str, index: int | None = None) -> Failure:
        return Failure(message, self.i if index is None else index)

    def ws(self) -> None:
        while self.i < len(self.src) and self.src[self.i] in " \t\r\n":
            self.i += 1

    def peek(self, text: str) -> bool:
        return self.src.startswith(text, self.i)

    def eat(self, text: str) -> bool:
        if self.peek(text):
            self.i += len(text)
            return True
        return False

    def expect(self, text: str) -> None:
        self.ws()
        if not self.eat(text):
            raise self.fail(f"expected '{text}', found {self.found()}")

    def found(self) -> str:
        if self.i >= len(self.src):
            return "the end of the template"
        return repr(self.src[self.i : self.i + 10])

    def ident(self, pattern: re.Pattern[str] = _IDENT) -> str | None:
        match = pattern.match(self.src, self.i)
        if match is None:
            return None
        self.i = match.end()
        return match.group()

    def keyword_ahead(self) -> str | None:
        """The keyword opening the `{{ ... }}` here (if, elif, else, end, range), if any."""
        match = re.compile(r"\{\{\s*([a-z]+)\b").match(self.src, self.i)
        return match.group(1) if match and match.group(1) in _KEYWORDS else None

    def end(self) -> None:
        self.ws()
        if self.i < len(self.src):
            raise self.fail(f"unexpected {self.found()} after the template")

    # JSON-template values ----------------------------------------------------------------

    def value(self) -> Node:
        self.ws()
        start = self.i
        node: Node
        if self.peek("{{"):
            return self.block()  # an expression keeps its own position
        if self.peek("{"):
            node = self.object(self.value)
        elif self.peek("["):
            node = self.array(self.value)
        elif self.peek('"'):
            node = self.string('"')
        else:
            node = self.scalar()
        node.index = start
        return node

    def scalar(self) -> Node:
        match = _NUMBER.match(self.src, self.i)
        if match:
            self.i = match.end()
            text = match.group()
            return Lit(float(text) if any(c in text for c in ".eE") else int(text))
        for word, value in (("true", True), ("false", False), ("null", None)):
            if re.compile(word + r"\b").match(self.src, self.i):
                self.i += len(word)
                return Lit(value)
        raise self.fail(f"expected a value, found {self.found()}")

    def object(self, item: Callable[[], Node]) -> Node:
        self.eat("{")
        pairs: list[tuple[Node, Node]] = []
        self.ws()
        if self.eat("}"):
            return Obj(pairs)
        while True:
            self.ws()
            start = self.i
            if self.peek('"'):
                key: Node = self.string('"')
            elif self.peek("'"):
                key = self.string("'")
            else:
                raise self.fail(f"expected a string key, found {self.found()}")
            key.index = start
            self.expect(":")
            pairs.append((key, item()))
            self.ws()
            if self.eat("}"):
                return Obj(pairs)
            if not self.eat(","):
                raise self.fail(f"expected ',' or '}}', found {self.found()}")

    def array(self, item: Callable[[], Node]) -> Node:
        self.eat("[")
        items: list[Node] = []
        self.ws()
        if self.eat("]"):
            return Arr(items)
        while True:
            items.append(item())
            self.ws()
            if self.eat("]"):
                return Arr(items)
            if not self.eat(","):
                raise self.fail(f"expected ',' or ']', found {self.found()}")

    def string(self, quote_char: str) -> Node:
        start = self.i
        self.i += 1
        parts: list[str | Node] = []
        text: list[str] = []
        while True:
            if self.i >= len(self.src):
                raise self.fail("unterminated string", start)
            c = self.src[self.i]
            if c == quote_char:
                self.i += 1
                break
            if c == "\\":
                esc = self.src[self.i + 1 : self.i + 2]
                if esc == "u" and re.fullmatch(r"[0-9a-fA-F]{4}", self.src[self.i + 2 : self.i + 6]):
                    text.append(chr(int(self.src[self.i + 2 : self.i + 6], 16)))
                    self.i += 6
                elif esc in _ESCAPES:
                    text.append(_ESCAPES[esc])
                    self.i += 2
                else:
                    raise self.fail("invalid escape in string")
                continue
            if self.peek("{{"):
                if text:
                    parts.append("".join(text))
                    text = []
                parts.append(self.interpolation())
                continue
            text.append(c)
            self.i += 1
        if text or not parts:
            parts.append("".join(text))
        return Str(parts)

    def interpolation(self) -> Node:
        start = self.i
        if self.keyword_ahead() is not None:
            raise self.fail("if/range blocks are not supported inside strings", start)
        self.i += 2
        node = self.expr()
        self.expect("}}")
        return node

    def block(self) -> Node:
        start = self.i
        keyword = self.keyword_ahead()
        if keyword in ("elif", "else", "end"):
            raise self.fail(f"'{keyword}' without 'if' or 'range'")
        self.i += 2
        self.ws()
        if keyword == "if":
            self.i += 2
            return self.if_block()
        if keyword == "range":
            self.i += 5
            return self.range_block(start)
        node = self.expr()
        self.expect("}}")
        return node

    def tag(self, allowed: tuple[str, ...]) -> str:
        self.ws()
        keyword = self.keyword_ahead()
        if keyword not in allowed:
            raise self.fail(f"expected {{{{ {' / '.join(allowed)} }}}}, found {self.found()}")
        self.eat("{{")
        self.ws()
        self.i += len(keyword)
        return keyword

    def if_block(self) -> Node:
        cond = self.expr()
        self.expect("}}")
        branches = [(cond, self.value())]
        while True:
            keyword = self.tag(("elif", "else", "end"))
            if keyword == "elif":
                cond = self.expr()
                self.expect("}}")
                branches.append((cond, self.value()))
            elif keyword == "else":
                self.expect("}}")
                otherwise = self.value()
                self.tag(("end",))
                self.expect("}}")
                return If(branches, otherwise)
            else:
                self.expect("}}")
                return If(branches, None)

    def range_block(self, start: int) -> Node:
        self.ws()
        first = self.ident()
        if first is None:
            raise self.fail(f"expected a variable name after 'range', found {self.found()}")
        self.ws()
        index_name: str | None = None
        item_name = first
        if self.eat(","):
            self.ws()
            second = self.ident()
            if second is None:
                raise self.fail(f"expected a variable name, found {self.found()}")
            index_name, item_name = first, second
        self.expect(":=")
        source = self.expr()
        self.expect("}}")
        body = self.value()
        self.tag(("end",))
        self.expect("}}")
        return Range(index_name, item_name, source, body, start)

    # Expressions ---------------------------------------------------------------------------

    def expr(self) -> Node:
        return self.binary(0)

    _LEVELS: tuple[tuple[str, ...], ...] = (("||",), ("&&",), ("==", "!=", ">=", "<=", ">", "<"), ("??",))

    def binary(self, level: int) -> Node:
        if level == len(self._LEVELS):
            return self.postfix()
        left = self.binary(level + 1)
        while True:
            self.ws()
            op = next((o for o in self._LEVELS[level] if self.peek(o)), None)
            if op is None or self.peek("}}"):
                return left
            index = self.i
            self.i += len(op)
            right = self.binary(level + 1)
            left = BinOp(op, left, right, index)
            left.index = index

    def postfix(self) -> Node:
        self.ws()
        start = self.i
        node = self.primary()
        node.index = start
        steps: list[tuple[bool, Node]] = []
        while True:
            optional = self.peek("?.") or self.peek("?[")
            if optional:
                self.i += 1
            if self.eat("."):
                field_start = self.i
                name = self.ident(_FIELD)
                if name is None:
                    raise self.fail(f"expected a field name after '.', found {self.found()}")
                step: Node = Lit(name)
                step.index = field_start
                steps.append((optional, step))
            elif self.eat("["):
                step = self.expr()
                self.expect("]")
                steps.append((optional, step))
            elif optional:
                raise self.fail("expected '.' or '[' after '?'")
            else:
                break
        if not steps:
            return node
        return Path(node, steps, self.src[start : self.i], start)

    def primary(self) -> Node:
        c = self.src[self.i : self.i + 1]
        if c == "$":
            start = self.i
            self.i += 1
            name = self.ident()
            if name is None:
                raise self.fail("expected a variable name after '$'", start)
            return Var("$" + name, start)
        if c in ("'", '"'):
            return self.string(c)
        if c == "(":
            self.i += 1
            node = self.expr()
            self.expect(")")
            return node
        if c == "[":
            return self.array(self.expr)
        if c == "{" and not self.peek("{{"):
            return self.object(self.expr)
        start = self.i
        name = self.ident()
        if name is None:
            return self.scalar()
        if name in ("true", "false", "null"):
            return Lit({"true": True, "false": False, "null": None}[name])
        self.ws()
        if self.peek("("):
            if name not in FUNCTIONS:
                raise self.fail(f'unknown function "{name}"', start)
            self.i += 1
            args: list[Node] = []
            self.ws()
            if not self.eat(")"):
                while True:
                    args.append(self.expr())
                    self.ws()
                    if self.eat(")"):
                        break
                    if not self.eat(","):
                        raise self.fail(f"expected ',' or ')', found {self.found()}")
            return Call(name, args, start)
        if name in _KEYWORDS:
            raise self.fail(f"unexpected '{name}'", start)
        return Var(name, start)

    def text(self) -> Node:
        parts: list[str | Node] = []
        while self.i < len(self.src):
            at = self.src.find("{{", self.i)
            if at < 0:
                parts.append(self.src[self.i :])
                break
            if at > self.i:
                parts.append(self.src[self.i : at])
            self.i = at
            parts.append(self.interpolation())
        return Str(parts or [""])


class Template:
    def __init__(self, source: str, root: Node) -> None:
        self.source, self.root = source, root

    def render(self, env: Env) -> Any:
        try:
            return self.root.ev(env)
        except Failure as exc:
            raise KritiEvalError("Evaluation error", exc.message, self.source, exc.index) from None
        except RecursionError:
            raise KritiEvalError("Evaluation error", "the template nests too deeply", self.source, 0) from None


@lru_cache(maxsize=256)
def parse(source: str) -> Template:
    """A JSON template (a body)."""
    parser = _Parser(source)
    try:
        root = parser.value()
        parser.end()
    except Failure as exc:
        raise KritiParseError("Parse error", exc.message, source, exc.index) from None
    except RecursionError:
        raise KritiParseError("Parse error", "the template nests too deeply", source, 0) from None
    return Template(source, root)


@lru_cache(maxsize=256)
def parse_text(source: str) -> Template:
    """A text template (url, header / query-parameter / form value): always renders a string."""
    parser = _Parser(source)
    try:
        root = parser.text()
    except Failure as exc:
        raise KritiParseError("Parse error", exc.message, source, exc.index) from None
    return Template(source, root)


def render_text(source: str, env: Env) -> str:
    result = parse_text(source).render(env)
    assert isinstance(result, str)
    return result
