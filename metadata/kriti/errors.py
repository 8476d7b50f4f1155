"""Kriti's errors, carrying what Hasura reports for them and a position people can use.

kriti-lang positions count lines from 0 and columns from 1 (characters); a span's end is the
position just after it. Hasura answers a failed template with kriti's serialized error
(`serialized()`): `{error_code, message, source_position: {start_line, start_column, end_line,
end_column}}`, word for word as kriti words it (its typos included). `str(error)` is for people:
`<error_code>: <detail> at line L, column C`, lines and columns from 1, pointing at the offending
token (kriti itself puts every parse error at the end of the template).
"""

from __future__ import annotations

from typing import Any

# (line from 0, column from 1, offset): kriti's line and column, which counts only ASCII
# characters (its lexer steps a column per UTF-8 byte sequence of one byte), and the index of the
# character in the source, for positions people can use.
Pos = tuple[int, int, int]
Span = tuple[Pos, Pos]

START: Span = ((0, 1, 0), (0, 1, 0))


def join(a: Span, b: Span) -> Span:
    """The smallest span covering both (kriti's Span semigroup)."""
    return min(a[0], b[0]), max(a[1], b[1])


class KritiError(ValueError):
    def __init__(self, error_code: str, message: str, span: Span, detail: str = "", at: Pos | None = None) -> None:
        super().__init__(message)
        self.error_code, self.message, self.span = error_code, message, span
        self.detail = detail or message
        self.at = (span[0] if at is None else at)[2]
        self.line, self.column = 1, self.at + 1

    def place(self, source: str, shift: int = 0) -> None:
        """Line and column (from 1, in characters) of the error in `source`, of which the first
        `shift` characters were added (the quote a text template is wrapped in)."""
        before = source[: self.at]
        self.line = before.count("\n") + 1
        self.column = self.at - (before.rfind("\n") + 1) + 1 - (shift if self.line == 1 else 0)

    def __str__(self) -> str:
        return f"{self.error_code}: {self.detail} at line {self.line}, column {self.column}"

    def serialized(self) -> dict[str, Any]:
        (start_line, start_column, _), (end_line, end_column, _) = self.span
        position = {
            "start_line": start_line,
            "start_column": start_column,
            "end_line": end_line,
            "end_column": end_column,
        }
        return {"error_code": self.error_code, "message": self.message, "source_position": position}


class KritiParseError(KritiError):
    """The template does not parse (kriti's "Parse Error" or "Lex Error")."""


class KritiEvalError(KritiError):
    """The template fails on these values (Type, Name, Attribute, Index or Function Error)."""
