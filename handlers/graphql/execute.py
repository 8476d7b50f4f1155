"""Running a GraphQL operation: every action field through run_action's own path.

An action field is found with `runnable` (the permission check), its arguments become the input
that `prepare` checks (the same check as run_action's, answered in Hasura's words and paths), and
`run` calls the handler, runs the statement or queues the run. All fields are prepared before any
runs, so a bad argument anywhere runs nothing. Mutations then run one after another, query
fields concurrently; the first failure is the answer, as Hasura gives it. An asynchronous
action's run is read with get_action_result's visibility rules. Introspection is graphql-core's,
on the role's schema, and its answers are kept per schema.
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

import graphql as gql
import msgspec
from graphql.language import ast

from handlers.context import Answer, Runtime, Session
from handlers.execution.run_action import InputInvalid, errors_for, prepare, run, runnable, visible
from handlers.graphql.document import Documents, Validated
from handlers.graphql.errors import RequestError, error, from_switchboard
from handlers.graphql.joins import attach
from handlers.graphql.plan import INTROSPECTION, JOINED, Node, arguments, shape, to_json
from handlers.graphql.schema import NO_QUERIES, RoleSchema, Schemas
from metadata.errors import SwitchboardError
from metadata.json_kinds import json_kind
from metadata.runs import DONE, Run

_encode = msgspec.json.Encoder().encode


class GraphQLRequest(msgspec.Struct):
    """{query, variables?, operationName?}; other keys (a client's `extensions`) are ignored."""

    query: str
    variables: dict[str, Any] | None = None
    operationName: str | None = None


@dataclass
class Operation:
    runtime: Runtime
    session: Session
    role: RoleSchema
    validated: Validated
    variables: dict[str, Any]
    nodes: tuple[Node, ...]
    operation_name: str | None

    @property
    def kind(self) -> str:
        return self.validated.kind


@dataclass
class Result:
    body: dict[str, Any]  # {"data": ...} or {"errors": [...]}
    cookies: list[str] = field(default_factory=list)


async def operation(
    runtime: Runtime, schemas: Schemas, documents: Documents, session: Session, request: GraphQLRequest
) -> Operation:
    """The request, checked and ready to run (RequestError when it cannot run at all)."""
    store = runtime.store
    version = store.resource_version
    role = await schemas.of(session)
    try:
        checked = documents.validated(role, request.query, request.operationName)
    except RequestError:
        # Another server may just have defined the action (or granted the permission): catch
        # up once before refusing, as runnable does (the catch-up may be one already under way).
        await store.sync()
        if store.resource_version == version:
            raise
        role = await schemas.of(session)
        checked = documents.validated(role, request.query, request.operationName)
    variables = _variables(checked, request.variables or {})
    return Operation(runtime, session, role, checked, variables, checked.nodes(variables), request.operationName)


def _variables(checked: Validated, given: dict[str, Any]) -> dict[str, Any]:
    """The values of the operation's variables, checked as Hasura checks them."""
    values: dict[str, Any] = {}
    for definition in checked.operation.variable_definitions or ():
        name = definition.variable.name.value
        if name in given:
            values[name] = given[name]
        elif isinstance(definition.type, ast.NonNullTypeNode):
            raise RequestError.of(f"expecting a value for non-nullable variable: '{name}'")
        elif definition.default_value is not None:
            values[name] = to_json(definition.default_value, {})
    unexpected = [name for name in given if name not in checked.used_variables]
    if unexpected:
        raise RequestError.of(f"unexpected variables in variableValues: {', '.join(unexpected)}")
    return values


Runner = Callable[[], Awaitable[Any]]


async def execute(op: Operation) -> Result:
    """Run a query or mutation: {"data": {...}} with the handlers' cookies, or {"errors": [...]}."""
    cookies: list[str] = []
    runners = await _prepared(op, cookies)
    try:
        if op.kind == "mutation" or len(runners) == 1:
            values = [await runner() for runner in runners.values()]
        else:
            gathered = await asyncio.gather(*(runner() for runner in runners.values()), return_exceptions=True)
            for value in gathered:
                if isinstance(value, BaseException):
                    raise value
            values = list(gathered)
    except SwitchboardError as exc:
        return Result({"errors": [from_switchboard(exc, op.session.is_admin)]})
    return Result({"data": dict(zip(runners, values, strict=True))}, cookies)


async def _prepared(op: Operation, cookies: list[str]) -> dict[str, Runner]:
    """A runner per response key, every action's input checked before anything runs."""
    runners: dict[str, Runner] = {}
    introspected = [node for node in op.nodes if node.name in INTROSPECTION]
    answers: dict[str, Any] | None = None
    for node in op.nodes:
        if node.name in INTROSPECTION:
            if answers is None:
                answers = _introspection(op, introspected)
            runners[node.key] = _constant(answers[node.key])
        elif node.name == "__typename":
            runners[node.key] = _constant(op.validated.root.name)
        elif node.name == "no_queries_available":
            runners[node.key] = _constant(NO_QUERIES)
        elif op.role.roots[op.kind][node.name].kind == "result":
            runners[node.key] = _result_runner(op, node, run_id(node, op.variables))
        else:
            runners[node.key] = await _action_runner(op, node, cookies)
    return runners


def _constant(value: Any) -> Runner:
    async def answer() -> Any:
        return value

    return answer


async def _action_runner(op: Operation, node: Node, cookies: list[str]) -> Runner:
    runtime, session = op.runtime, op.session
    try:
        action = await runnable(runtime, session, node.name)
        call = await prepare(runtime, session, action, arguments(node.field, op.variables), op.validated.text)
    except InputInvalid as exc:
        path = f"$.selectionSet.{node.name}.args{exc.error.hasura_path[1:]}"
        raise RequestError.of(exc.error.hasura, path) from None
    except SwitchboardError as exc:
        raise RequestError(from_switchboard(exc, session.is_admin)) from None

    async def execute_field() -> Any:
        answer = await run(runtime, session, call)
        if isinstance(answer, Answer):
            cookies.extend(answer.cookies)
            answer = answer.body
        if "action_id" in answer:
            return answer["action_id"]
        return shape(await attach(op, node, answer["output"]), node.children, node.type_name)

    return execute_field


def run_id(node: Node, variables: dict[str, Any]) -> str:
    """The `id` argument of an asynchronous action's run, a UUID."""
    given = arguments(node.field, variables).get("id")
    path = f"$.selectionSet.{node.name}.args.id"
    if not isinstance(given, str):
        found = json_kind(given).capitalize()
        raise RequestError.of(f"parsing UUID failed, expected String, but encountered {found}", path, "parse-failed")
    try:
        uuid.UUID(given)
    except ValueError:
        raise RequestError.of("invalid UUID", path, "parse-failed") from None
    return given


def _result_runner(op: Operation, node: Node, ident: str) -> Runner:
    async def read() -> Any:
        return await run_value(op, node, await op.runtime.runs.get(ident))

    return read


async def run_value(op: Operation, node: Node, found: Run | None) -> Any:
    """A run as the `<action>(id:)` field shows it: null unless this caller may see it; its
    output's relationships fetched now."""
    if found is None or found.action != node.name or not visible(found, op.session):
        return None
    created = found.result()["created_at"]
    errors = errors_for(found.errors, op.session)
    value = {"id": found.id, "created_at": created, "errors": errors, "output": found.output}
    for child in node.children or ():
        if child.name == "output":
            value[(JOINED, child.key)] = shape(await attach(op, child, found.output), child.children, child.type_name)  # type: ignore[index]
    return shape(value, node.children, node.type_name)


def finished(found: Run | None) -> bool:
    return found is None or found.status in DONE


def _introspection(op: Operation, nodes: list[Node]) -> dict[str, Any]:
    """graphql-core's answer to the operation's introspection fields, kept per schema."""
    key = (op.validated.text, op.operation_name, _encode(op.variables))
    cached = op.role.introspection.get(key)
    if cached is not None:
        return cached
    selections = ast.SelectionSetNode(selections=tuple(f for node in nodes for f in node.fields))
    alone = ast.OperationDefinitionNode(
        operation=ast.OperationType.QUERY,
        name=None,
        variable_definitions=op.validated.operation.variable_definitions,
        directives=(),
        selection_set=selections,
    )
    document = ast.DocumentNode(definitions=(alone, *op.validated.fragments.values()))
    result = gql.execute_sync(op.role.schema, document, variable_values=op.variables)
    if result.errors:
        raise RequestError(*(error(e.message) for e in result.errors))
    assert result.data is not None
    return op.role.introspection.put(key, result.data, len(op.validated.text))
