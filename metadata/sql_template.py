"""Metabase-style SQL templates: `{{tag}}` parameters and `[[ ... ]]` optional clauses.

A tag is always a bound parameter, never text: the statement handed to the database holds a
placeholder and the value travels separately, so no input can change what the SQL says. An
optional clause is kept only when every tag inside it has a value (present and not null).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

# No optional whitespace around the tag in the pattern: `\s*` beside a lazy `[^{}]*?` backtracks
# quadratically on a run of spaces. The tag is stripped afterwards.
_TOKEN = re.compile(r"\{\{(?P<tag>[^{}]*)\}\}|(?P<open>\[\[)|(?P<close>\]\])")
_NAME = re.compile(r"[_A-Za-z][_0-9A-Za-z]*\Z")


@dataclass(frozen=True)
class Tag:
    name: str


@dataclass(frozen=True)
class Clause:
    """`[[ ... ]]`: text and tags, kept only when every tag has a value."""

    parts: tuple[str | Tag, ...]


Part = str | Tag | Clause


@dataclass(frozen=True)
class Rendered:
    sql: str  # for SQLAlchemy's text(): tags as `(:name)`, literal colons escaped
    display: str  # what a person reads: tags as `:name`
    parameters: tuple[str, ...]  # the tags that remain, in order of first use


class SqlTemplate:
    def __init__(self, source: str) -> None:
        self.source = source
        self.parts = _parse(source)

    @property
    def tags(self) -> list[str]:
        names: list[str] = []
        for part in self.parts:
            for piece in part.parts if isinstance(part, Clause) else (part,):
                if isinstance(piece, Tag) and piece.name not in names:
                    names.append(piece.name)
        return names

    def render(self, values: dict[str, Any]) -> Rendered:
        sql: list[str] = []
        display: list[str] = []
        used: list[str] = []

        def emit(piece: str | Tag) -> None:
            if isinstance(piece, Tag):
                sql.append(f"(:{piece.name})")
                display.append(f":{piece.name}")
                if piece.name not in used:
                    used.append(piece.name)
            else:
                sql.append(piece.replace(":", "\\:"))
                display.append(piece)

        for part in self.parts:
            if isinstance(part, Clause):
                if all(values.get(p.name) is not None for p in part.parts if isinstance(p, Tag)):
                    for piece in part.parts:
                        emit(piece)
            else:
                emit(part)
        return Rendered("".join(sql), "".join(display), tuple(used))


def _parse(source: str) -> list[Part]:
    parts: list[Part] = []
    clause: list[str | Tag] | None = None
    position = 0
    for match in _TOKEN.finditer(source):
        target = parts if clause is None else clause
        if match.start() > position:
            target.append(source[position : match.start()])
        position = match.end()
        if match.group("open"):
            if clause is not None:
                raise ValueError(f"optional clauses cannot be nested (at offset {match.start()})")
            clause = []
        elif match.group("close"):
            if clause is None:
                raise ValueError(f'"]]" without "[[" (at offset {match.start()})')
            parts.append(Clause(tuple(clause)))
            clause = None
        else:
            name = match.group("tag").strip()
            if not _NAME.match(name):
                raise ValueError(
                    f'"{{{{{name}}}}}" is not a parameter: expected {{{{name}}}} (at offset {match.start()})'
                )
            target.append(Tag(name))
    if clause is not None:
        raise ValueError('"[[" without "]]"')
    if source[position:]:
        parts.append(source[position:])
    return parts
