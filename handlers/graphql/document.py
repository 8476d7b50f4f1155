"""Parsing and validating GraphQL documents against a role's schema, with Hasura's messages.

Documents are parsed once per query text and validated once per (role schema, text,
operationName). The checks a client meets most answer as Hasura's parser does, with its paths
(`$.selectionSet.create_user.args.user`): an unknown field (`field 'x' not found in type:
'mutation_root'`), an unknown argument, a missing or unexpected selection set, a variable used
where its type does not fit, an operation that cannot be picked, a root type the role does not
have (`no mutations exist`). The rest of GraphQL's rules (fragments, variables defined, directives,
overlapping fields) are graphql-core's, with its messages. Argument values are checked when the
field runs, by the same code as run_action's input.
"""

from __future__ import annotations

from collections import OrderedDict
from dataclasses import dataclass
from typing import Any

import graphql as gql
from graphql.language import ast
from graphql.validation import specified_rules

from handlers.graphql.errors import RequestError, error
from handlers.graphql.plan import Node, conditional, field_definition, nodes
from handlers.graphql.schema import ROOTS, RoleSchema, remember
from metadata.values import HASURA_EXPECTED

_parsed: OrderedDict[str, ast.DocumentNode | RequestError] = OrderedDict()

# graphql-core's rules that Hasura's own checks below replace (or that Hasura does not make:
# unused fragments and variables, several anonymous operations when one is picked by name).
_REPLACED = {
    "FieldsOnCorrectTypeRule",
    "ScalarLeafsRule",
    "KnownArgumentNamesRule",
    "ProvidedRequiredArgumentsRule",
    "ValuesOfCorrectTypeRule",
    "VariablesInAllowedPositionRule",
    "SingleFieldSubscriptionsRule",
    "KnownOperationTypesRule",
    "NoUnusedFragmentsRule",
    "NoUnusedVariablesRule",
    "LoneAnonymousOperationRule",
}
Fragments = dict[str, ast.FragmentDefinitionNode]
RULES = tuple(rule for rule in specified_rules if rule.__name__ not in _REPLACED)


@dataclass
class Validated:
    text: str
    kind: str  # query, mutation or subscription
    root: gql.GraphQLObjectType
    operation: ast.OperationDefinitionNode
    fragments: dict[str, ast.FragmentDefinitionNode]
    used_variables: frozenset[str]
    conditional: bool  # the selection depends on variables (@skip / @include)
    plan: tuple[Node, ...] | None = None  # the selection, when it does not

    def nodes(self, variables: dict[str, Any]) -> tuple[Node, ...]:
        if self.plan is not None:
            return self.plan
        planned = nodes(self.root, [self.operation.selection_set], self.fragments, variables, self.kind == "query")
        if not self.conditional:
            self.plan = planned
        return planned


def parse(text: str) -> ast.DocumentNode:
    found = _parsed.get(text)
    if found is None:
        try:
            found = gql.parse(text, no_location=True)
        except gql.GraphQLError:
            found = RequestError.of("not a valid graphql query", "$.query")
        remember(_parsed, text, found)
    if isinstance(found, RequestError):
        raise found
    return found


def validated(role: RoleSchema, text: str, operation_name: str | None) -> Validated:
    key = (text, operation_name)
    found = role.documents.get(key)
    if found is None:
        try:
            found = _validate(role, text, operation_name)
        except RequestError as exc:
            found = exc
        remember(role.documents, key, found)
    if isinstance(found, RequestError):
        raise found
    assert isinstance(found, Validated)
    return found


def _operation(document: ast.DocumentNode, name: str | None) -> ast.OperationDefinitionNode:
    """The operation to run, picked as Hasura picks it."""
    operations = [d for d in document.definitions if isinstance(d, ast.OperationDefinitionNode)]
    if name is not None:
        if any(op.name is None for op in operations):
            raise RequestError.of("operationName cannot be used when an anonymous operation exists in the document")
        for op in operations:
            if op.name is not None and op.name.value == name:
                return op
        raise RequestError.of(f'no such operation found in the document: "{name}"')
    if len(operations) != 1:
        raise RequestError.of(
            "exactly one operation has to be present in the document when operationName is not specified"
        )
    return operations[0]


def _validate(role: RoleSchema, text: str, operation_name: str | None) -> Validated:
    document = parse(text)
    operation = _operation(document, operation_name)
    kind = operation.operation.value
    root = {"query": role.schema.query_type, "mutation": role.schema.mutation_type}.get(
        kind, role.schema.subscription_type
    )
    if root is None:
        raise RequestError.of(f"no {'mutations' if kind == 'mutation' else 'subscriptions'} exist")
    fragments = {d.name.value: d for d in document.definitions if isinstance(d, ast.FragmentDefinitionNode)}
    alone = ast.DocumentNode(definitions=(operation, *fragments.values()))
    errors = gql.validate(role.schema, alone, RULES)
    if errors:
        raise RequestError(*(error(e.message) for e in errors))
    checker = _Checker(role.schema, fragments, operation)
    checker.selection(root, operation.selection_set, "$.selectionSet", kind == "query")
    if kind == "subscription" and len(checker.top_level) != 1:
        raise RequestError.of("subscriptions must select one top level field")
    assert ROOTS[kind] == root.name
    return Validated(text, kind, root, operation, fragments, frozenset(checker.used), conditional(alone))


class _Checker:
    """Hasura's parser's checks of a selection, stopping at the first error as it does."""

    def __init__(
        self,
        schema: gql.GraphQLSchema,
        fragments: dict[str, ast.FragmentDefinitionNode],
        op: ast.OperationDefinitionNode,
    ) -> None:
        self.fragments = fragments
        self.declared = {
            v.variable.name.value: (v, gql.type_from_ast(schema, v.type)) for v in op.variable_definitions or ()
        }
        self.used: set[str] = set()
        self.top_level: set[str] = set()

    def selection(
        self, parent: gql.GraphQLObjectType, selection_set: ast.SelectionSetNode, path: str, root: bool
    ) -> None:
        for selection in selection_set.selections:
            if isinstance(selection, ast.FieldNode):
                self.field(parent, selection, path, root)
            elif isinstance(selection, ast.InlineFragmentNode):
                self.selection(parent, selection.selection_set, path, root)
            elif isinstance(selection, ast.FragmentSpreadNode):
                self.selection(parent, self.fragments[selection.name.value].selection_set, path, root)
            for directive in selection.directives or ():
                for arg in directive.arguments or ():
                    self.value(arg.value, gql.GraphQLNonNull(gql.GraphQLBoolean), path)

    def field(self, parent: gql.GraphQLObjectType, node: ast.FieldNode, path: str, root: bool) -> None:
        name = node.name.value
        where = f"{path}.{name}"
        if path == "$.selectionSet":
            self.top_level.add(node.alias.value if node.alias else name)
        definition = field_definition(parent, name, root)
        if definition is None:
            raise RequestError.of(f"field '{name}' not found in type: '{parent.name}'", where)
        for arg in node.arguments or ():
            declared = definition.args.get(arg.name.value)
            if declared is None:
                raise RequestError.of(f"'{name}' has no argument named '{arg.name.value}'", where)
            self.value(arg.value, declared.type, f"{where}.args.{arg.name.value}")
        if not root or name.startswith("__"):  # action arguments are checked when the field runs
            given = {arg.name.value for arg in node.arguments or ()}
            for arg_name, argument in definition.args.items():
                if gql.is_required_argument(argument) and arg_name not in given:
                    raise RequestError.of(f"missing required field '{arg_name}'", f"{where}.args.{arg_name}")
        named = gql.get_named_type(definition.type)
        if isinstance(named, gql.GraphQLObjectType):
            if node.selection_set is None:
                raise RequestError.of(f"missing selection set for '{named.name}'", f"{where}.selectionSet")
            if not name.startswith("__"):
                self.selection(named, node.selection_set, f"{where}.selectionSet", False)
            else:  # introspection: graphql-core checks and answers it
                self._variables_in(node)
        elif node.selection_set is not None:
            raise RequestError.of("unexpected subselection set for non-object field", where)

    def _variables_in(self, node: ast.Node) -> None:
        checker = self

        class Uses(gql.Visitor):
            def enter_variable(self, variable: ast.VariableNode, *_: Any) -> None:
                checker.used.add(variable.name.value)

        gql.visit(node, Uses())

    def value(self, node: ast.ValueNode, location: Any, path: str) -> None:
        """Check each variable in a value against the type where it is used."""
        if isinstance(node, ast.VariableNode):
            name = node.name.value
            self.used.add(name)
            definition, declared = self.declared[name]
            has_default = definition.default_value is not None and not isinstance(
                definition.default_value, ast.NullValueNode
            )
            if not _allowed(location, declared, has_default):
                raise RequestError.of(
                    f"variable '{name}' is declared as '{gql.print_ast(definition.type)}', "
                    f"but used where '{location}' is expected",
                    path,
                )
            return
        inner = gql.get_nullable_type(location)
        if isinstance(node, ast.ListValueNode) and isinstance(inner, gql.GraphQLList):
            for i, item in enumerate(node.values):
                self.value(item, inner.of_type, f"{path}[{i}]")
        elif isinstance(node, ast.ObjectValueNode) and isinstance(inner, gql.GraphQLInputObjectType):
            for f in node.fields:
                field = inner.fields.get(f.name.value)
                if field is None:  # an unknown field is the input check's to report
                    self._variables_in(f.value)
                else:
                    self.value(f.value, field.type, f"{path}.{f.name.value}")
        elif isinstance(inner, gql.GraphQLList):  # one value where a list goes: coerced to a list of one
            self.value(node, inner.of_type, path)
        else:
            mismatch = _literal_mismatch(node, inner)
            if mismatch is not None:
                raise RequestError.of(mismatch, path)
            self._variables_in(node)  # the values of custom scalars are the input check's


# The literals Hasura's parser takes for each built-in scalar. A literal is checked by its kind,
# which its JSON form (what run_action's input check sees) no longer shows: an enum value where a
# String goes, a string where an enum goes, 1.0 where an Int goes.
_LITERALS: dict[str, tuple[type[ast.ValueNode], ...]] = {
    "String": (ast.StringValueNode,),
    "Int": (ast.IntValueNode,),
    "Float": (ast.FloatValueNode, ast.IntValueNode),
    "Boolean": (ast.BooleanValueNode,),
    "ID": (ast.StringValueNode, ast.IntValueNode),
}
# How Hasura's parser names a literal it did not expect (its describeValue, for GraphQL values).
_DESCRIBED: dict[type[ast.ValueNode], str] = {
    ast.IntValueNode: "an integer",
    ast.FloatValueNode: "a float",
    ast.StringValueNode: "a string",
    ast.BooleanValueNode: "a boolean",
    ast.EnumValueNode: "an enum value",
    ast.ListValueNode: "a list",
    ast.ObjectValueNode: "an object",
}


def _literal_mismatch(node: ast.ValueNode, location: Any) -> str | None:
    """Hasura's words for a literal of the wrong kind at `location` (a nullable type), or None.
    Null is left to the input check, which knows whether the place may be null."""
    if isinstance(node, ast.NullValueNode | ast.VariableNode):
        return None
    if isinstance(location, gql.GraphQLScalarType) and location.name in _LITERALS:
        fits, expected = isinstance(node, _LITERALS[location.name]), HASURA_EXPECTED[location.name]
    elif isinstance(location, gql.GraphQLEnumType):
        fits, expected = isinstance(node, ast.EnumValueNode), "an enum value"
    elif isinstance(location, gql.GraphQLInputObjectType):
        fits, expected = isinstance(node, ast.ObjectValueNode), "an object"
    else:
        return None  # a custom scalar takes any value
    return None if fits else f"expected {expected} for type '{location.name}', but found {_DESCRIBED[type(node)]}"


def _allowed(location: Any, declared: Any, has_default: bool) -> bool:
    """Hasura's (and the GraphQL spec's) rule for a variable of type `declared` used at `location`."""
    if gql.is_non_null_type(location) and not gql.is_non_null_type(declared) and not has_default:
        return False
    return _compatible(gql.get_nullable_type(location), gql.get_nullable_type(declared))


def _compatible(location: Any, declared: Any) -> bool:
    if isinstance(location, gql.GraphQLList) and isinstance(declared, gql.GraphQLList):
        inner, given = location.of_type, declared.of_type
        if gql.is_non_null_type(inner) and not gql.is_non_null_type(given):
            return False
        return _compatible(gql.get_nullable_type(inner), gql.get_nullable_type(given))
    if isinstance(location, gql.GraphQLNamedType) and isinstance(declared, gql.GraphQLNamedType):
        return location.name == declared.name
    return False
