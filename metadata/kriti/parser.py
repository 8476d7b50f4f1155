"""Hasura's Kriti template language, as kriti-lang parses and evaluates it (src/Kriti/Parser/Grammar.y).

Two entry points:
* `parse(source)`: a JSON template (request/response bodies);
* `parse_text(source)`: a text template (url, header, query-parameter and form values). Hasura wraps
  these in double quotes and parses them as one Kriti string, so the same escapes apply, a `"`
  does not parse, and the result is always a string.

The grammar, in full: a JSON value (strings may hold `{{ expr }}`; object keys are plain strings),
or `{{ expr }}` wherever a value may stand. An expression is one of
* `atom OP atom` for OP in `==` `!=` `>` `<` `>=` `<=` `&&` `||` `in` `??` (no chains: write
  `(a > 1) && (b < 2)`);
* `f(expr)` (one argument; the functions are in functions.py), `not expr`, `{{ expr }}`;
* an atom: a variable (`$body`, `x`), a JSON value, `(expr)`, an atom followed by lookups
  `.name`, `['name']`, `[atom]`, or by `?` and lookups (`$body?.a.b`, `$x?`), or a block
  `{{ if c }} v {{ elif c }} v {{ else }} v {{ end }}` (the `else` is required) or
  `{{ range i, x := expr }} v {{ end }}` (`_` for an unused index).
Single-quoted strings exist only in `['name']`. `#` comments run to the end of the line.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import lru_cache
from typing import Any, TypeVar

from metadata.kriti.errors import START, KritiError, KritiEvalError, KritiParseError, Span, join
from metadata.kriti.functions import Env
from metadata.kriti.lexer import CLOSE_QUOTE, OPEN_QUOTE, Token, lex
from metadata.kriti.nodes import (
    Arr,
    BinOp,
    Call,
    Field,
    If,
    Lit,
    Node,
    Obj,
    Optional,
    Range,
    Tem,
    Var,
)

__all__ = ["Env", "KritiError", "KritiEvalError", "KritiParseError", "Template", "parse", "parse_text", "render_text"]

T = TypeVar("T")
_KEYWORDS = frozenset(("if", "elif", "else", "end", "null", "range", "in", "not"))
_OPERATORS = frozenset(("==", "!=", ">", "<", ">=", "<=", "&&", "||", "??"))


class _Parser:
    def __init__(self, source: str) -> None:
        self.tokens, self.last = lex(source)
        self.i = 0

    # tokens -------------------------------------------------------------------------------

    def peek(self, ahead: int = 0) -> Token | None:
        at = self.i + ahead
        return self.tokens[at] if at < len(self.tokens) else None

    def sym(self, text: str, ahead: int = 0) -> bool:
        token = self.peek(ahead)
        return token is not None and token.kind == "sym" and token.text == text

    def keyword(self, word: str, ahead: int = 0) -> bool:
        token = self.peek(ahead)
        return token is not None and token.kind == "ident" and token.text == word

    def take(self) -> Token:
        token = self.peek()
        if token is None:
            raise self.fail()
        self.i += 1
        return token

    def expect(self, text: str) -> Token:
        if not self.sym(text):
            raise self.fail()
        return self.take()

    def expect_keyword(self, word: str) -> Token:
        if not self.keyword(word):
            raise self.fail()
        return self.take()

    def name(self) -> Token:
        token = self.peek()
        if token is None or token.kind != "ident" or token.text in _KEYWORDS:
            raise self.fail()
        return self.take()

    def fail(self) -> KritiParseError:
        """kriti's parse error: the unexpected token, but the span of the template's last lexeme."""
        token = self.peek()
        if token is None:
            detail = "Unexpected end of the template"
            return KritiParseError("Parse Error", "ParseError: Empty token stream.", self.last, detail, self.last[1])
        detail = f"Unexpected token '{token.shown()}'"
        return KritiParseError("Parse Error", f"{detail}.", self.last, detail, token.span[0])

    # grammar ------------------------------------------------------------------------------

    def template(self) -> Node:
        node = self.expr()
        if self.peek() is not None:
            raise self.fail()
        return node

    def expr(self) -> Node:
        if self.sym("{{") and not (self.keyword("if", 1) or self.keyword("range", 1)):
            self.take()
            node = self.expr()
            self.expect("}}")
            return node
        first = self.peek()
        if first is not None and self.keyword("not"):
            self.take()
            arg = self.expr()
            return Call("not", arg, join(first.span, arg.span))
        if first is not None and first.kind == "ident" and first.text not in _KEYWORDS and self.sym("(", 1):
            self.i += 2
            arg = self.expr()
            close = self.expect(")")
            return Call(first.text, arg, join(first.span, close.span))
        left = self.atom()
        op = self.peek()
        if op is not None and ((op.kind == "sym" and op.text in _OPERATORS) or self.keyword("in")):
            self.take()
            right = self.atom()
            return BinOp(op.text, left, right, join(left.span, right.span))
        return left

    def atom(self) -> Node:
        token = self.peek()
        if token is None:
            raise self.fail()
        node: Node
        if token.kind == "ident" and token.text not in _KEYWORDS:
            self.take()
            node = Var(token.text, token.span)
        elif self.sym("("):
            self.take()
            node = self.expr()
            self.expect(")")
        elif self.sym("{{"):
            if self.keyword("if", 1):
                node = self.if_block()
            elif self.keyword("range", 1):
                node = self.range_block()
            else:  # only a block may open here: the token after `{{` is the unexpected one
                self.take()
                raise self.fail()
        else:
            node = self.json()
        return self.lookups(node)

    def lookups(self, node: Node) -> Node:
        while True:
            if self.sym(".") or self.sym("["):
                key, dotted, end = self.lookup()
                node = Field(node, key, dotted, join(node.span, end))
            elif self.sym("?"):
                self.take()
                steps = []
                while self.sym(".") or self.sym("["):
                    steps.append(self.lookup()[0])
                node = Optional(node, steps, node.span)
            else:
                return node

    def lookup(self) -> tuple[Node, bool, Span]:
        """`.name`, `['name']` or `[atom]`: the key, whether dotted, where the lookup ends."""
        if self.take().text == ".":
            name = self.name()
            return Lit(name.text, name.span), True, name.span
        key: Node
        if self.sym("'"):
            self.take()
            text = self.peek()
            if text is None or text.kind != "str":
                raise self.fail()
            self.take()
            self.expect("'")
            key = Lit(text.text, text.span)
        else:
            key = self.atom()
        return key, False, self.expect("]").span

    def if_block(self) -> Node:
        start = self.take()
        self.take()  # if
        arms: list[tuple[Node, Node, Span | None]] = [(self.condition(), self.expr(), None)]
        while self.sym("{{") and self.keyword("elif", 1):
            self.take()
            word = self.take()
            cond = self.condition()
            arms.append((cond, self.expr(), join(word.span, cond.span)))
        self.expect("{{")
        self.expect_keyword("else")
        self.expect("}}")
        otherwise = self.expr()
        span = self.end(start)
        # A non-boolean `if` condition is reported on the whole block, an `elif` one on `elif c`.
        return If([(cond, body, where or span) for cond, body, where in arms], otherwise, span)

    def condition(self) -> Node:
        cond = self.expr()
        self.expect("}}")
        return cond

    def end(self, start: Token) -> Span:
        """`{{ end }}`: the span of the block opened by `start`."""
        self.expect("{{")
        self.expect_keyword("end")
        return join(start.span, self.expect("}}").span)

    def range_block(self) -> Node:
        start = self.take()
        self.take()  # range
        index = None
        if self.sym("_"):
            self.take()
        else:
            index = self.name().text
        self.expect(",")
        item = self.name().text
        self.expect(":=")
        source = self.condition()
        body = self.expr()
        return Range(index, item, source, body, self.end(start))

    def json(self) -> Node:
        token = self.peek()
        if token is None:
            raise self.fail()
        if token.kind in ("int", "num", "bool") or self.keyword("null"):
            self.take()
            return Lit(token.value, token.span)
        if self.sym(OPEN_QUOTE):
            return self.string()
        if self.sym("["):
            self.take()
            items = [] if self.sym("]") else self.separated(self.expr, "]")
            return Arr(items, join(token.span, self.expect("]").span))
        if self.sym("{"):
            self.take()
            pairs = [] if self.sym("}") else self.separated(self.field, "}")
            return Obj(pairs, join(token.span, self.expect("}").span))
        raise self.fail()

    def string(self) -> Node:
        """A string: pieces of text and `{{ expr }}`s."""
        start = self.take()
        parts: list[Node] = []
        while not self.sym(CLOSE_QUOTE):
            if self.sym("{{"):
                self.take()
                parts.append(self.condition())
            elif (piece := self.peek()) is not None and piece.kind == "str":
                parts.append(Lit(self.take().text, piece.span))
            else:
                raise self.fail()
        return Tem(parts, join(start.span, self.take().span))

    def separated(self, item: Callable[[], T], close: str) -> list[T]:
        items = [item()]
        while self.sym(","):
            self.take()
            items.append(item())
        if not self.sym(close):
            raise self.fail()
        return items

    def field(self) -> tuple[str, Node]:
        """`"key": expr`: the key is plain text, no `{{ }}`."""
        self.expect(OPEN_QUOTE)
        key = []
        while (piece := self.peek()) is not None and piece.kind == "str":
            key.append(self.take().text)
        self.expect(CLOSE_QUOTE)
        self.expect(":")
        return "".join(key), self.expr()


class Template:
    def __init__(self, source: str, root: Node, shift: int = 0) -> None:
        self.source, self.root, self.shift = source, root, shift

    def render(self, env: Env) -> Any:
        try:
            return self.root.ev(env)
        except KritiError as exc:
            exc.place(self.source, self.shift)
            raise
        except RecursionError:
            error = KritiEvalError("Eval Error", "the template nests too deeply", self.root.span)
            error.place(self.source, self.shift)
            raise error from None


def _parse(source: str, shift: int) -> Template:
    try:
        return Template(source, _Parser(source).template(), shift)
    except KritiError as exc:
        exc.place(source, shift)
        raise
    except RecursionError:
        raise KritiParseError("Parse Error", "the template nests too deeply", START) from None


@lru_cache(maxsize=256)
def parse(source: str) -> Template:
    """A JSON template (a body)."""
    return _parse(source, 0)


@lru_cache(maxsize=256)
def parse_text(source: str) -> Template:
    """A text template (url, header / query-parameter / form value), wrapped in quotes as Hasura
    does; positions people see are in `source` itself, the serialized ones in the wrapped text."""
    return _parse(f'"{source}"', 1)


def render_text(source: str, env: Env) -> str:
    result = parse_text(source).render(env)
    assert isinstance(result, str)
    return result
