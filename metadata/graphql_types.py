"""GraphQL type strings (`String!`, `[UserInput!]!`) and names, parsed with graphql-core."""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import lru_cache

from graphql.error import GraphQLSyntaxError
from graphql.language import ListTypeNode, NamedTypeNode, NonNullTypeNode, TypeNode, parse_type

from metadata.strict import MAX_NAME

NAME = re.compile(r"[_A-Za-z][_0-9A-Za-z]*\Z")

BUILTIN_SCALARS = frozenset({"Int", "Float", "String", "Boolean", "ID"})

# The scalars Hasura's default Postgres source puts in every schema; Hasura projects use them in
# action signatures (`uuid!`, `jsonb`, `timestamptz`), so they are known here without a source.
POSTGRES_SCALARS = frozenset(
    {
        "bigint", "bpchar", "bytea", "citext", "date", "float8", "geography", "geometry",
        "inet", "int4", "json", "jsonb", "ltree", "money", "numeric", "smallint", "text",
        "time", "timestamp", "timestamptz", "timetz", "uuid",
    }
)  # fmt: skip


def is_name(text: str) -> bool:
    return NAME.match(text) is not None


def check_name(text: str) -> str:
    """Raise ValueError (a parse error, as msgspec reports it) when `text` is no GraphQL name, or
    one longer than the store keeps."""
    if len(text) > MAX_NAME:
        raise ValueError(f"{text[:20]}... is longer than {MAX_NAME} characters")
    if not is_name(text):
        raise ValueError(f"{text} is not valid GraphQL name")
    return text


@dataclass(frozen=True)
class GraphQLType:
    """One level of a type: a named type, or a list of `of_type`; `nullable` applies to this level."""

    nullable: bool
    name: str | None = None
    of_type: GraphQLType | None = None

    @property
    def base(self) -> str:
        level = self
        while level.of_type is not None:
            level = level.of_type
        assert level.name is not None
        return level.name


def _convert(node: TypeNode, nullable: bool = True) -> GraphQLType:
    if isinstance(node, NonNullTypeNode):
        return _convert(node.type, nullable=False)
    if isinstance(node, ListTypeNode):
        return GraphQLType(nullable, of_type=_convert(node.type))
    assert isinstance(node, NamedTypeNode)
    return GraphQLType(nullable, name=node.name.value)


@lru_cache(maxsize=4096)
def parse_graphql_type(text: str) -> GraphQLType:
    try:
        return _convert(parse_type(text))
    except GraphQLSyntaxError as exc:
        raise ValueError(f'"{text}" is not a valid GraphQL type: {exc.message}') from None


def check_type(text: str) -> str:
    parse_graphql_type(text)
    return text
