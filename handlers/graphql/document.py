"""Parsing and validating GraphQL documents against a role's schema, with Hasura's messages.

Documents are parsed once per query text and validated once per (role schema, text,
operationName). The checks a client meets most answer as Hasura's parser does, with its paths
(`$.selectionSet.create_user.args.user`): an unknown field (`field 'x' not found in type:
'mutation_root'`), an unknown argument, a missing or unexpected selection set, a variable used
where its type does not fit, an operation that cannot be picked, a root type the role does not
have (`no mutations exist`). The rest of GraphQL's rules (fragments, variables defined, directives,
overlapping fields) are graphql-core's, with its messages. Argument values are checked when the
field runs, by the same code as run_action's input.

Before any of that, a document is held to the server's limits (`Limits`: its size, its tokens,
how deep it nests and how many fields it selects, fragments counted as spread). Caches hold
results and refusals as values, bounded in entries and in the characters of their texts.
"""

from __future__ import annotations

import gc
from dataclasses import dataclass
from typing import Any

import graphql as gql
from graphql.language import ast
from graphql.validation import KnownTypeNamesRule, specified_rules
from graphql.validation.rules import overlapping_fields_can_be_merged
from graphql.validation.validate import ValidationAbortedError

from handlers.graphql.cache import Bounded
from handlers.graphql.errors import RequestError, error
from handlers.graphql.plan import Node, conditional, field_definition, nodes
from handlers.graphql.schema import ROOTS, RoleSchema
from metadata.values import HASURA_EXPECTED

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
    # Checked after the selection (below): Hasura resolves root fields before variable types.
    "KnownTypeNamesRule",
}
Fragments = dict[str, ast.FragmentDefinitionNode]
RULES = tuple(rule for rule in specified_rules if rule.__name__ not in _REPLACED)
# graphql-core's check that fields of one response name can be merged compares them pairwise, and
# stops once it has done this much work (a unit is about a microsecond): its default (500,000)
# let 250 fields of one name with arguments hold the event loop for 120 ms. Validation aborted
# at ~40 ms is refused; real documents spend a few hundred units.
overlapping_fields_can_be_merged.MAX_COMPLEXITY_BUDGET = 10_000
TOO_COMPLEX = "the query has too many fields of the same name to validate"
PARSED_DOCUMENTS, PARSED_CHARS = 1000, 512 * 1024  # the parse cache, shared by every role
COLLECT_AFTER_CHARS = 2000


@dataclass(frozen=True)
class Limits:
    """What one document may hold (settings graphql_max_*), checked before it is validated. The
    defaults keep the worst document they let through to ~50 ms of parsing and validating (on
    the event loop: a thread would not help, its hold on the interpreter would slow every other
    request more): graphql-core takes ~6 ms per 1,000 tokens to parse, and its check that fields
    of the same name can be merged, which takes time in the square of their number, is held to
    ~40 ms by its work budget (below)."""

    bytes: int = 256 * 1024
    tokens: int = 5_000
    depth: int = 32
    fields: int = 500


@dataclass(frozen=True)
class Refused:
    """A document that cannot run, as cached: the errors, not a live exception (raising one
    again would grow its traceback with every request)."""

    errors: tuple[dict[str, Any], ...]

    def exception(self) -> RequestError:
        return RequestError(*self.errors)


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


class Documents:
    """A server's documents: its limits, the parse cache, and each role's validated operations."""

    def __init__(self, limits: Limits) -> None:
        self.limits = limits
        self.parsed: Bounded[str, ast.DocumentNode | Refused] = Bounded(PARSED_DOCUMENTS, PARSED_CHARS)

    def validated(self, role: RoleSchema, text: str, operation_name: str | None) -> Validated:
        limit = self.limits.bytes
        if len(text) > limit or (not text.isascii() and len(text.encode(errors="replace")) > limit):
            raise RequestError.of(f"the query document is larger than {limit} bytes", "$.query")
        key = (text, operation_name)
        found = role.documents.get(key)
        if found is None:
            found = role.documents.put(key, self._validated(role, text, operation_name), len(text))
            if len(text) > COLLECT_AFTER_CHARS:
                # Parsing and validating leave cyclic garbage (the lexer's tokens are a doubly
                # linked list; graphql-core's rules hold their context): ~10,000 objects for a
                # large document. Left to the collector's next young pass, a run of them is
                # collected at once: 250 ms with the thresholds the server runs with. Now, it
                # is this request's few milliseconds.
                gc.collect(1)
        if isinstance(found, Refused):
            raise found.exception()
        return found

    def _validated(self, role: RoleSchema, text: str, operation_name: str | None) -> Validated | Refused:
        document = self.parsed.get(text)
        if document is None:
            document = self.parsed.put(text, _parse(text, self.limits), len(text))
        if isinstance(document, Refused):
            return document
        try:
            return _validate(role, document, text, operation_name)
        except RequestError as exc:
            return Refused(tuple(exc.errors))


def _parse(text: str, limits: Limits) -> ast.DocumentNode | Refused:
    """The document, or why it may not run: not GraphQL, or past a limit. The limits are checked
    on every operation it holds, so a document refused for one role is refused for every role,
    from the parse cache, and never held in memory."""
    try:
        document = gql.parse(text, no_location=True, max_tokens=limits.tokens)
        fragments = {d.name.value: d for d in document.definitions if isinstance(d, ast.FragmentDefinitionNode)}
        for definition in document.definitions:
            if isinstance(definition, ast.OperationDefinitionNode):
                _measure(definition, fragments, limits)
        return document
    except RequestError as exc:
        return Refused(tuple(exc.errors))
    except gql.GraphQLError as exc:
        if "tokens. Parsing aborted" in exc.message:
            return Refused((error(f"the query document has more than {limits.tokens} tokens", "$.query"),))
        if "nested too deeply" in exc.message:  # graphql-core stops at a few hundred levels
            return Refused((error(f"the query is nested deeper than {limits.depth} levels", "$.query"),))
        return Refused((error("not a valid graphql query", "$.query"),))
    except RecursionError:  # the parser recurses per level (older graphql-core does not stop itself)
        return Refused((error(f"the query is nested deeper than {limits.depth} levels", "$.query"),))


def _measure(operation: ast.OperationDefinitionNode, fragments: Fragments, limits: Limits) -> None:
    """Refuse an operation nested deeper or selecting more fields than the limits allow, counting
    each fragment every time it is spread (a few nested spreads can select millions of fields),
    before any of graphql-core's rules, some of which take time in the square of the fields."""
    known: dict[str, tuple[int, int]] = {}  # fragment -> (depth, fields)

    def measure(selection_set: ast.SelectionSetNode, level: int, spreading: frozenset[str]) -> tuple[int, int]:
        if level > limits.depth:
            raise RequestError.of(f"the query is nested deeper than {limits.depth} levels", "$.query")
        depth = fields = 0
        for selection in selection_set.selections:
            if isinstance(selection, ast.FieldNode):
                below = (0, 0)
                if selection.selection_set is not None:
                    below = measure(selection.selection_set, level + 1, spreading)
                depth, fields = max(depth, below[0] + 1), fields + below[1] + 1
            elif isinstance(selection, ast.InlineFragmentNode):
                below = measure(selection.selection_set, level, spreading)
                depth, fields = max(depth, below[0]), fields + below[1]
            elif isinstance(selection, ast.FragmentSpreadNode):
                name = selection.name.value
                if name in spreading or name not in fragments:
                    continue  # a cycle or an unknown fragment: graphql-core's rules name it
                if name not in known:
                    known[name] = measure(fragments[name].selection_set, level, spreading | {name})
                below = known[name]
                if level + below[0] - 1 > limits.depth:
                    raise RequestError.of(f"the query is nested deeper than {limits.depth} levels", "$.query")
                depth, fields = max(depth, below[0]), fields + below[1]
            if fields > limits.fields:
                raise RequestError.of(f"the query selects more than {limits.fields} fields", "$.query")
        return depth, fields

    try:
        measure(operation.selection_set, 1, frozenset())
    except RecursionError:  # fragments spread inside fragments thousands deep
        raise RequestError.of(f"the query is nested deeper than {limits.depth} levels", "$.query") from None


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


def _validate(role: RoleSchema, document: ast.DocumentNode, text: str, operation_name: str | None) -> Validated:
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
        if any(isinstance(e, ValidationAbortedError) for e in errors):
            raise RequestError.of(TOO_COMPLEX, "$.query")
        raise RequestError(*(error(e.message) for e in errors))
    checker = _Checker(role.schema, fragments, operation)
    checker.selection(root, operation.selection_set, "$.selectionSet", kind == "query")
    if kind == "subscription" and len(checker.top_level) != 1:
        raise RequestError.of("subscriptions must select one top level field")
    # Type names last, and only those of variables in use: Hasura runs a document declaring a
    # variable of a type the role does not have, when nothing uses it.
    used = tuple(v for v in operation.variable_definitions or () if v.variable.name.value in checker.used)
    typed = ast.OperationDefinitionNode(
        operation=operation.operation,
        name=operation.name,
        variable_definitions=used,
        directives=operation.directives,
        selection_set=operation.selection_set,
    )
    unknown = gql.validate(
        role.schema, ast.DocumentNode(definitions=(typed, *fragments.values())), [KnownTypeNamesRule]
    )
    if unknown:
        raise RequestError(*(error(e.message) for e in unknown))
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
            if declared is None:  # a type the role's schema does not have
                raise RequestError.of(f"Unknown type '{_named(definition.type).name.value}'.")
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


def _named(node: ast.TypeNode) -> ast.NamedTypeNode:
    while not isinstance(node, ast.NamedTypeNode):
        node = node.type  # type: ignore[attr-defined]
    return node


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
