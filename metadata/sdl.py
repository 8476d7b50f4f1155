"""GraphQL SDL <-> the export's shape of actions and custom types: what actions.graphql holds.

Reading gives actions as root fields ({name: (mutation|query, field node)}) and custom types as
export writes them; writing prints root fields and custom types back, descriptions included.
"""

from __future__ import annotations

from typing import Any

import graphql
from graphql.language import ast

ROOTS = {"Mutation": "mutation", "Query": "query"}
TYPE_SECTIONS = ("input_objects", "objects", "scalars", "enums")  # the export's order


class SdlError(Exception):
    """SDL that cannot be read; the message starts with the line (or a space, then the parser's words)."""


def _description(node: ast.Node) -> dict[str, str]:
    described: ast.StringValueNode | None = getattr(node, "description", None)
    return {"description": described.value} if described is not None else {}


def _deprecated(node: ast.EnumValueDefinitionNode) -> bool:
    return any(d.name.value == "deprecated" for d in node.directives or ())


def inputs(nodes: Any) -> list[dict[str, Any]]:
    return [{"name": n.name.value, "type": graphql.print_ast(n.type), **_description(n)} for n in nodes or ()]


def parse_sdl(text: str) -> tuple[dict[str, tuple[str, ast.FieldDefinitionNode]], dict[str, list[dict[str, Any]]]]:
    """Actions {name: (type, field)} and custom types {section: [type]} of an actions SDL."""
    try:
        document = graphql.parse(text, no_location=False)
    except graphql.GraphQLError as exc:
        raise SdlError(f" {exc.message} {exc.locations or ''}".rstrip()) from None
    actions: dict[str, tuple[str, ast.FieldDefinitionNode]] = {}
    types: dict[str, list[dict[str, Any]]] = {section: [] for section in TYPE_SECTIONS}
    seen: set[str] = set()
    for node in document.definitions:
        name = getattr(getattr(node, "name", None), "value", None)
        where = f"{node.loc.start_token.line if node.loc else '?'}"
        if isinstance(node, ast.ObjectTypeDefinitionNode | ast.ObjectTypeExtensionNode) and name in ROOTS:
            for field in node.fields or ():
                if field.name.value in actions:
                    raise SdlError(f'{where}: action "{field.name.value}" is declared twice')
                actions[field.name.value] = (ROOTS[name], field)
            continue
        if name is None or isinstance(node, ast.TypeExtensionNode):
            raise SdlError(f"{where}: only type, input, scalar and enum declarations are supported")
        if name in seen:
            raise SdlError(f'{where}: type "{name}" is declared twice')
        seen.add(name)
        declared: dict[str, Any] = {"name": name, **_description(node)}
        if isinstance(node, ast.ObjectTypeDefinitionNode):
            declared["fields"] = _fields(node.fields, where)
            types["objects"].append(declared)
        elif isinstance(node, ast.InputObjectTypeDefinitionNode):
            declared["fields"] = inputs(node.fields)
            types["input_objects"].append(declared)
        elif isinstance(node, ast.ScalarTypeDefinitionNode):
            types["scalars"].append(declared)
        elif isinstance(node, ast.EnumTypeDefinitionNode):
            declared["values"] = [
                {"value": v.name.value, **_description(v), **({"is_deprecated": True} if _deprecated(v) else {})}
                for v in node.values or ()
            ]
            types["enums"].append(declared)
        else:
            raise SdlError(f"{where}: only type, input, scalar and enum declarations are supported")
    return actions, types


def _fields(nodes: Any, where: str) -> list[dict[str, Any]]:
    fields = []
    for n in nodes or ():
        if n.arguments:
            raise SdlError(f'{where}: field "{n.name.value}" of an object type cannot take arguments')
        fields.append({"name": n.name.value, "type": graphql.print_ast(n.type), **_description(n)})
    return fields


def _string(text: str) -> ast.StringValueNode:
    """A description: a block string where it reads back exactly, else an escaped one."""
    if "\n" in text:
        block = ast.StringValueNode(value=text, block=True)
        parsed = graphql.parse_value(graphql.print_ast(block))
        if isinstance(parsed, ast.StringValueNode) and parsed.value == text:
            return block
    return ast.StringValueNode(value=text, block=False)


def _name(value: str) -> ast.NameNode:
    return ast.NameNode(value=value)


def _described(entry: dict[str, Any]) -> ast.StringValueNode | None:
    description = entry.get("description")
    return _string(description) if description is not None else None


def _input_nodes(entries: list[dict[str, Any]]) -> tuple[ast.InputValueDefinitionNode, ...]:
    return tuple(
        ast.InputValueDefinitionNode(
            name=_name(e["name"]),
            type=graphql.parse_type(e["type"]),
            description=_described(e),
            directives=(),
            default_value=None,
        )
        for e in entries
    )


def field_node(entry: dict[str, Any], arguments: list[dict[str, Any]] | None = None) -> ast.FieldDefinitionNode:
    return ast.FieldDefinitionNode(
        name=_name(entry["name"]),
        type=graphql.parse_type(entry["type"]),
        description=_described(entry),
        arguments=_input_nodes(arguments or []),
        directives=(),
    )


def print_sdl(roots: dict[str, list[ast.FieldDefinitionNode]], types: dict[str, Any]) -> str:
    """The SDL of root fields ({"Mutation": [...], "Query": [...]}) and custom types (export's shape)."""
    definitions: list[ast.DefinitionNode] = []
    for root, fields in roots.items():
        if fields:
            definitions.append(
                ast.ObjectTypeDefinitionNode(
                    name=_name(root), fields=tuple(fields), interfaces=(), directives=(), description=None
                )
            )
    for entry in types.get("input_objects") or []:
        definitions.append(
            ast.InputObjectTypeDefinitionNode(
                name=_name(entry["name"]),
                description=_described(entry),
                fields=_input_nodes(entry["fields"]),
                directives=(),
            )
        )
    for entry in types.get("objects") or []:
        definitions.append(
            ast.ObjectTypeDefinitionNode(
                name=_name(entry["name"]),
                description=_described(entry),
                fields=tuple(field_node(f) for f in entry["fields"]),
                interfaces=(),
                directives=(),
            )
        )
    for entry in types.get("scalars") or []:
        definitions.append(
            ast.ScalarTypeDefinitionNode(name=_name(entry["name"]), description=_described(entry), directives=())
        )
    for entry in types.get("enums") or []:
        values = []
        for value in entry["values"]:
            deprecated = (
                (ast.ConstDirectiveNode(name=_name("deprecated"), arguments=()),) if value.get("is_deprecated") else ()
            )
            values.append(
                ast.EnumValueDefinitionNode(
                    name=_name(value["value"]), description=_described(value), directives=deprecated
                )
            )
        definitions.append(
            ast.EnumTypeDefinitionNode(
                name=_name(entry["name"]), description=_described(entry), values=tuple(values), directives=()
            )
        )
    if not definitions:
        return ""
    return graphql.print_ast(ast.DocumentNode(definitions=tuple(definitions))) + "\n"
