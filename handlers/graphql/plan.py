"""What an operation selects, as a tree of response keys, and argument values as JSON.

Fields are collected as GraphQL collects them: fragments and inline fragments inlined, fields
with the same response key merged, `@skip` / `@include` applied. The tree only shapes output:
the handler's validated answer is cut down to the selection (aliases, `__typename`, nested
objects and lists, a field the answer left out is null).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

import graphql as gql
from graphql.language import ast

INTROSPECTION = frozenset({"__schema", "__type"})
META_TYPES = {"__schema": gql.SchemaMetaFieldDef, "__type": gql.TypeMetaFieldDef}


@dataclass(frozen=True)
class Node:
    key: str  # the response key: the alias, else the field name
    name: str
    fields: tuple[ast.FieldNode, ...]  # every occurrence merged under the key
    type_name: str  # the field's named type
    children: tuple[Node, ...] | None  # the selection of an object; None for a leaf

    @property
    def field(self) -> ast.FieldNode:
        """The first occurrence, whose arguments count (overlapping ones must agree)."""
        return self.fields[0]


def _condition(node: ast.Node, variables: Mapping[str, Any]) -> bool:
    """Whether @skip / @include let `node` in."""
    for directive in getattr(node, "directives", None) or ():
        name = directive.name.value
        if name not in ("skip", "include"):
            continue
        arg = next((a.value for a in directive.arguments or () if a.name.value == "if"), None)
        flag = variables.get(arg.name.value) if isinstance(arg, ast.VariableNode) else getattr(arg, "value", None)
        if (name == "skip") == bool(flag):
            return False
    return True


def collect(
    selection_sets: Iterable[ast.SelectionSetNode],
    fragments: Mapping[str, ast.FragmentDefinitionNode],
    variables: Mapping[str, Any],
) -> dict[str, list[ast.FieldNode]]:
    """Response key -> the field nodes merged under it, in document order."""
    out: dict[str, list[ast.FieldNode]] = {}

    def visit(selection_set: ast.SelectionSetNode) -> None:
        for selection in selection_set.selections:
            if not _condition(selection, variables):
                continue
            if isinstance(selection, ast.FieldNode):
                key = selection.alias.value if selection.alias else selection.name.value
                out.setdefault(key, []).append(selection)
            elif isinstance(selection, ast.InlineFragmentNode):
                visit(selection.selection_set)
            elif isinstance(selection, ast.FragmentSpreadNode):
                visit(fragments[selection.name.value].selection_set)

    for selection_set in selection_sets:
        visit(selection_set)
    return out


def field_definition(parent: gql.GraphQLObjectType, name: str, is_query_root: bool) -> gql.GraphQLField | None:
    if name == "__typename":
        return gql.TypeNameMetaFieldDef
    if is_query_root and name in META_TYPES:
        return META_TYPES[name]
    found: gql.GraphQLField | None = parent.fields.get(name)
    return found


def nodes(
    parent: gql.GraphQLObjectType,
    selection_sets: Iterable[ast.SelectionSetNode],
    fragments: Mapping[str, ast.FragmentDefinitionNode],
    variables: Mapping[str, Any],
    is_query_root: bool = False,
) -> tuple[Node, ...]:
    """The selection tree of a (validated) selection on `parent`. Introspection fields are
    answered by graphql-core, so their selections are not planned here."""
    out = []
    for key, fields in collect(selection_sets, fragments, variables).items():
        first = fields[0]
        name = first.name.value
        definition = field_definition(parent, name, is_query_root)
        assert definition is not None, "validated documents only select fields that exist"
        named = gql.get_named_type(definition.type)
        children = None
        if isinstance(named, gql.GraphQLObjectType) and name not in INTROSPECTION:
            subs = [f.selection_set for f in fields if f.selection_set is not None]
            children = nodes(named, subs, fragments, variables)
        out.append(Node(key, name, tuple(fields), named.name, children))
    return tuple(out)


# Where rows of a relationship field are put in an object (joins.py), beside its own fields: under
# (JOINED, response key), which no JSON object can hold.
JOINED = "joined"


def shape(value: Any, children: tuple[Node, ...] | None, type_name: str) -> Any:
    """A (validated) value cut down to the selection."""
    if children is None or value is None:
        return value
    if isinstance(value, list):
        return [shape(item, children, type_name) for item in value]
    out = {}
    for node in children:
        if node.name == "__typename":
            out[node.key] = type_name
        elif (JOINED, node.key) in value:
            out[node.key] = value[(JOINED, node.key)]  # shaped already
        elif node.name in value:
            # A field the handler left out stays out: the answer's check fills the ones GraphQL
            # needs (metadata/values.py), and leaves out, as Hasura does, those inside lists.
            out[node.key] = shape(value[node.name], node.children, node.type_name)
    return out


def to_json(node: ast.ValueNode, variables: Mapping[str, Any]) -> Any:
    """A literal (with its variables' values) as the JSON a handler receives; a variable without
    a value is null, as in Hasura."""
    if isinstance(node, ast.VariableNode):
        return variables.get(node.name.value)
    if isinstance(node, ast.IntValueNode):
        return int(node.value)
    if isinstance(node, ast.FloatValueNode):
        return float(node.value)
    if isinstance(node, ast.StringValueNode | ast.EnumValueNode):
        return node.value
    if isinstance(node, ast.BooleanValueNode):
        return node.value
    if isinstance(node, ast.ListValueNode):
        return [to_json(item, variables) for item in node.values]
    if isinstance(node, ast.ObjectValueNode):
        return {f.name.value: to_json(f.value, variables) for f in node.fields}
    return None  # NullValueNode


def arguments(field: ast.FieldNode, variables: Mapping[str, Any]) -> dict[str, Any]:
    return {arg.name.value: to_json(arg.value, variables) for arg in field.arguments or ()}


def conditional(document: ast.DocumentNode) -> bool:
    """Whether the selection depends on variables through @skip / @include."""
    found = False

    class Finder(gql.Visitor):
        def enter_directive(self, node: ast.DirectiveNode, *_: Any) -> None:
            nonlocal found
            found = found or node.name.value in ("skip", "include")

    gql.visit(document, Finder())
    return found
