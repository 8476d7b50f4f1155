"""Kriti's lexer, as kriti-lang's (src/Kriti/Parser/Lexer.x): a stack of modes, longest match.

Modes: `json` (outside any `{{`), `expr` (inside `{{ ... }}`), `string` (inside "...") and
`literal` (inside '...', only for `['key']` lookups). `{{` pushes `expr` and, only there, `}}`
pops it, so `}}` outside a template is two `}`. Inside strings the escapes are JSON's except that
`\\{` is a literal `{` and `\\/` stays `\\/`. Identifiers are `$`, or `$`? then a letter then
letters, digits, `_`, `-` or `$`; `#` starts a comment to the end of the line.

A character no rule accepts is kriti's Lex Error: "Invalid Lexeme: '<the whole template>'",
placed where its automaton got stuck (after `&` in `&x`, after `\\u12` in `"\\u12x"`).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from metadata.kriti.errors import START, KritiParseError, Pos, Span
from metadata.kriti.values import number

_WHITE = re.compile(r"[ \t\n\f\v\r]+")
_COMMENT = re.compile(r"#[^\n]*")
_IDENT = re.compile(r"\$?[a-zA-Z][$a-zA-Z0-9_\-]*|\$")
_INT = re.compile(r"-?[0-9]+")
_NUM = re.compile(r"-?(?:0|[1-9][0-9]*)(?:\.[0-9]+)?(?:[eE][+\-]?[0-9]+)?")
_SYMBOLS = ("??", "==", "!=", ">=", "<=", "&&", "||", ":=", ":", ".", ",", "?", ">", "<", "_", "[", "]", "(", ")")
_TEXT = re.compile(r'[^\\"{\n]+')  # Alex's negated sets never hold a newline
_LITERAL = re.compile(r"[^'{\n]+")
_STRING_ESCAPES = {"{": "{", '"': '"', "\\": "\\", "/": "\\/", "b": "\b", "f": "\f", "n": "\n", "r": "\r", "t": "\t"}
_HEX = re.compile(r"[0-9a-fA-F]{1,4}")
_LOW_SURROGATE = re.compile(r"\\u([dD][c-fC-F][0-9a-fA-F]{2})")
_STUCK = re.compile(r"[&|!=\-]")  # prefixes of `&&`, `||`, `!=`, `==`, `-1`: the automaton stops after them
MAX_DIGITS = 1024  # aeson writes an integer of more digits in exponent form (see check_size)

# Symbols the parser tells apart but kriti prints alike: a string's opening and closing quotes.
OPEN_QUOTE, CLOSE_QUOTE = 's"', '"e'


@dataclass(frozen=True)
class Token:
    kind: str  # sym, ident, int, num, bool, str (a piece of string text)
    text: str  # the symbol, the identifier, the number as written, the string text
    span: Span
    value: Any = None  # int, num, bool

    def shown(self) -> str:
        """The token as kriti's parse errors show it."""
        if self.kind == "str":
            return f'"{self.text}"'
        if self.text in (OPEN_QUOTE, CLOSE_QUOTE):
            return '"'
        return self.text


class _Lexer:
    def __init__(self, source: str) -> None:
        self.src, self.i, self.pos = source, 0, START[0]
        self.modes = ["json"]
        self.tokens: list[Token] = []
        self.last: Span = START  # the span of the last lexeme, skipped ones included

    def step(self, n: int) -> Pos:
        """The position `n` characters on."""
        line, col, _ = self.pos
        chunk = self.src[self.i : self.i + n]
        if "\n" in chunk:
            line, col = line + chunk.count("\n"), 1
            chunk = chunk[chunk.rfind("\n") + 1 :]
        return line, col + sum(c < "\x80" for c in chunk), self.i + n

    def advance(self, n: int) -> Span:
        span = (self.pos, self.step(n))
        self.i, self.pos, self.last = self.i + n, span[1], span
        return span

    def emit(self, kind: str, text: str, n: int, value: Any = None) -> None:
        self.tokens.append(Token(kind, text, self.advance(n), value))

    def stuck(self, n: int) -> KritiParseError:
        """kriti's Lex Error: its automaton stops `n` characters on from here, where its span
        starts; people are shown the characters it could not make a token of, from here."""
        line, col, offset = self.step(n)
        bad = self.src[self.i : self.i + n + 1]
        shown = bad if bad.isprintable() else repr(bad)[1:-1]
        span = ((line, col, offset), (line, col + len(self.src.encode()), offset))
        message = f"Invalid Lexeme: '{self.src}'"
        return KritiParseError("Lex Error", message, span, f"Invalid Lexeme '{shown}'", self.pos)

    def check_size(self, text: str) -> None:
        """A deviation: an integer of more than MAX_DIGITS digits (`1e9990`) is a Lex Error. kriti
        keeps Scientific's form and aeson writes it as `1.0e9990`; here numbers are Python's, and
        such an integer would be written out digit by digit, past what Python agrees to write."""
        value = Decimal(text)
        exponent = value.as_tuple().exponent
        if isinstance(exponent, int) and exponent >= 0 and value != 0 and value.adjusted() >= MAX_DIGITS:
            shown = text if len(text) <= 20 else f"{text[:10]}...{text[-6:]}"
            span = (self.pos, self.step(len(text)))
            detail = f"the number {shown} is too large (more than {MAX_DIGITS} digits)"
            raise KritiParseError("Lex Error", f"Invalid Lexeme: '{self.src}'", span, detail, self.pos)

    def run(self) -> list[Token]:
        while self.i < len(self.src):
            mode = self.modes[-1]
            if mode == "string":
                self.string()
            elif mode == "literal":
                self.literal()
            else:
                self.code(mode)
        return self.tokens

    def push(self, mode: str) -> None:
        self.modes.append(mode)

    def pop(self) -> None:
        if len(self.modes) > 1:  # as kriti's, a closing `"` or `}}` too many leaves `json` in place
            self.modes.pop()

    def code(self, mode: str) -> None:
        src, i = self.src, self.i
        for skip in (_WHITE, _COMMENT):
            match = skip.match(src, i)
            if match:
                self.advance(match.end() - i)
                return
        c = src[i]
        if src.startswith("{{", i):
            self.push("expr")
            self.emit("sym", "{{", 2)
        elif mode == "expr" and src.startswith("}}", i):
            self.pop()
            self.emit("sym", "}}", 2)
        elif c in "{}":
            self.emit("sym", c, 1)
        elif c == '"':
            self.push("string")
            self.emit("sym", OPEN_QUOTE, 1)
        elif c == "'":
            self.push("literal")
            self.emit("sym", "'", 1)
        elif (ident := _IDENT.match(src, i)) is not None:
            word = ident.group()
            if word in ("true", "false"):
                self.emit("bool", word, len(word), word == "true")
            else:
                self.emit("ident", word, len(word))
        elif (whole := _INT.match(src, i)) is not None:
            num = _NUM.match(src, i)
            if num is not None and num.end() > whole.end():
                self.check_size(num.group())
                self.emit("num", num.group(), num.end() - i, number(num.group()))
            else:
                self.check_size(whole.group())
                self.emit("int", whole.group(), whole.end() - i, int(whole.group()))
        else:
            symbol = next((s for s in _SYMBOLS if src.startswith(s, i)), None)
            if symbol is None:
                raise self.stuck(1 if _STUCK.match(c) else 0)
            self.emit("sym", symbol, len(symbol))

    def string(self) -> None:
        src, i = self.src, self.i
        c = src[i]
        if c == '"':
            self.pop()
            self.emit("sym", CLOSE_QUOTE, 1)
        elif src.startswith("{{", i):
            self.push("expr")
            self.emit("sym", "{{", 2)
        elif c == "{":
            self.emit("str", "{", 1)
        elif c == "\\":
            self.escape()
        else:
            match = _TEXT.match(src, i)
            if match is None:
                raise self.stuck(0)
            self.emit("str", match.group(), match.end() - i)

    def escape(self) -> None:
        src, i = self.src, self.i
        esc = src[i + 1 : i + 2]
        if esc in _STRING_ESCAPES:
            self.emit("str", _STRING_ESCAPES[esc], 2)
            return
        digits = _HEX.match(src, i + 2) if esc == "u" else None
        if digits is None or len(digits.group()) < 4:
            raise self.stuck(1 if esc != "u" else 2 + (len(digits.group()) if digits else 0))
        code = int(digits.group(), 16)
        low = _LOW_SURROGATE.match(src, i + 6) if 0xD800 <= code < 0xDC00 else None
        if low is not None:  # a pair makes one character (kriti-lang crashes on surrogates)
            self.emit("str", chr(0x10000 + (code - 0xD800) * 0x400 + int(low.group(1), 16) - 0xDC00), 12)
        else:
            self.emit("str", "\ufffd" if 0xD800 <= code < 0xE000 else chr(code), 6)

    def literal(self) -> None:
        src, i = self.src, self.i
        if src[i] == "'":
            self.pop()
            self.emit("sym", "'", 1)
            return
        match = _LITERAL.match(src, i)
        if match is None:
            raise self.stuck(0)
        self.emit("str", match.group(), match.end() - i)


def lex(source: str) -> tuple[list[Token], Span]:
    """The tokens of `source` and the span of its last lexeme (where kriti reports parse errors)."""
    lexer = _Lexer(source)
    tokens = lexer.run()
    return tokens, lexer.last
