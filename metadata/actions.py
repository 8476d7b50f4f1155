"""Actions as typed msgspec Structs, and their Hasura export form.

Decoding fills Hasura's defaults; `action_document` writes the object back the way Hasura's
`export_metadata` does (its key order, defaults omitted), which is also the form the store keeps.
"""

from __future__ import annotations

import re
from functools import lru_cache
from typing import TYPE_CHECKING, Annotated, Any, Literal

import msgspec

from metadata.errors import ParseFailed
from metadata.graphql_types import check_name, check_type
from metadata.sql_template import SqlTemplate
from metadata.strict import MAX_NAME, NO_NUL, Strict
from metadata.transform_checks import check_transform_shapes

DEFAULT_TIMEOUT = 30

# Headers may not read the service's own settings (admin secret, database URL) out of the
# environment; Hasura refuses its own HASURA_GRAPHQL_* the same way.
RESERVED_ENV_PREFIXES = ("HASURA_GRAPHQL_", "SWITCHBOARD_")
# `{{NAME}}` in a handler URL. The name excludes braces, so a scan is linear whatever the text
# (a run of `{` made the earlier `[^}\s]+` backtrack quadratically).
ENV_TEMPLATE = re.compile(r"\{\{\s*([^{}\s]+)\s*\}\}")


def reserved_env_problem(name: str, where: str) -> str | None:
    """Hasura's words for a reserved variable (`... not allowed in value_from_env: HASURA_GRAPHQL_X`)."""
    upper = name.strip().upper()
    for prefix in RESERVED_ENV_PREFIXES:
        if upper.startswith(prefix):
            return f'env variables starting with "{prefix}" are not allowed in {where}: {name}'
    return None


def check_env_name(name: str, where: str) -> None:
    problem = reserved_env_problem(name, where)
    if problem is not None:
        raise ValueError(problem)


def check_action_name(name: str, field: str = "name") -> None:
    """An action name must be a GraphQL name: parse-failed at the field holding it, as Hasura's
    parser says it (`$.args.name`, `$.args.action`, `$.args[2].args.name` in a bulk). Raised as
    a ParseFailed, which msgspec passes through a Struct's __post_init__ with its own path, so
    only top-level payloads (or items decoded one by one) use it."""
    try:
        check_name(name)
    except ValueError as exc:
        raise ParseFailed(str(exc), f"$.{field}") from None


# Hasura's role names are non-empty text (without NUL, and not too long: see StoredName).
RoleName = Annotated[str, msgspec.Meta(min_length=1, max_length=MAX_NAME, pattern=NO_NUL)]


class ArgumentDefinition(Strict):
    name: str
    type: str
    description: str | None = None

    def __post_init__(self) -> None:
        check_name(self.name)
        check_type(self.type)


class Header(Strict):
    name: str
    value: str | None = None
    value_from_env: str | None = None

    def __post_init__(self) -> None:
        if self.value is None and self.value_from_env is None:
            raise ValueError("expecting value or value_from_env keys")
        if self.value is not None and self.value_from_env is not None:
            raise ValueError("expecting only one of value or value_from_env keys")
        # A reserved variable is checked by whoever decodes the definition (ActionDefinition.
        # reserved_env_uses): refused by create_action, kept and reported by an allowed replace.


class RetryConf(Strict):
    """Retries of an asynchronous action's failed calls (beyond Hasura, which has none)."""

    num_retries: Annotated[int, msgspec.Meta(ge=0)] = 0
    retry_interval_seconds: Annotated[float, msgspec.Meta(ge=0)] = 10
    backoff: Annotated[float, msgspec.Meta(ge=1)] = 1  # each wait is the previous one times this


@lru_cache(maxsize=4096)
def sql_template(source: str) -> SqlTemplate:
    """Parsed once per distinct statement (definitions are decoded often, run far more often)."""
    return SqlTemplate(source)


class SqlHandler(Strict):
    """Custom SQL (Metabase's "custom" action): one statement, or several in one transaction."""

    source: str
    statement: str | None = None
    statements: list[str] | None = None

    def __post_init__(self) -> None:
        if (self.statement is None) == (self.statements is None):
            raise ValueError("expecting exactly one of statement or statements")
        if self.statements == []:
            raise ValueError("statements must not be empty")
        for i, text in enumerate(self.all_statements):
            if not text.strip():
                raise ValueError(f"statement {i} is empty")
            try:
                sql_template(text)
            except ValueError as exc:
                raise ValueError(f"statement {i}: {exc}") from None

    @property
    def all_statements(self) -> list[str]:
        return [self.statement] if self.statement is not None else list(self.statements or [])

    def templates(self) -> list[SqlTemplate]:
        return [sql_template(text) for text in self.all_statements]


class TableHandler(Strict):
    """One row of a table (Metabase's "basic" actions), found by its primary key."""

    source: str
    table: str
    operation: Literal["insert", "update", "delete"]
    schema: str | None = None  # the source's default schema when absent


def check_jq(program: str, field: str) -> None:
    """A jq program that compiles (Metabase's response and error handles)."""
    import jq  # the CLI reads definitions too: it pays for jq only when one has a handle

    try:
        jq.compile(program)
    except ValueError as exc:
        raise ValueError(f"{field} must be a valid json-query, something like '.item.title' ({exc})") from None


class HttpHandler(Strict):
    """An HTTP request made from a template (Metabase's "http" actions): `{{parameter}}` in the
    url, body and headers (a JSON object, as text) is replaced by the parameter's value, and
    `[[ ... ]]` is dropped when a parameter inside has none. The answer goes through jq:
    `error_handle` (default `.status >= 400`) tells a failure, `response_handle` makes the output
    of `{status, headers, body}`."""

    url: str
    method: Literal["GET", "POST", "PUT", "DELETE", "PATCH"] = "POST"
    body: str | None = None
    headers: str | None = None
    response_handle: str | None = None
    error_handle: str | None = None

    def __post_init__(self) -> None:
        if not self.url.strip():
            raise ValueError("url must not be empty")
        for i, text in enumerate((self.url, self.body or "", self.headers or "")):
            try:
                sql_template(text)  # the same {{tag}} and [[ ... ]] syntax as custom SQL
            except ValueError as exc:
                raise ValueError(f"{('url', 'body', 'headers')[i]}: {exc}") from None
        for field in ("response_handle", "error_handle"):
            handle = getattr(self, field)
            if handle:
                check_jq(handle, field)

    @property
    def tags(self) -> list[str]:
        seen: list[str] = []
        for text in (self.url, self.body or "", self.headers or ""):
            seen += [tag for tag in sql_template(text).tags if tag not in seen]
        return seen


# A definition runs exactly one of handler (a webhook), sql, table or http; these fields shape a
# webhook call, so they are refused with the others.
WEBHOOK_ONLY = ("headers", "forward_client_headers", "request_transform", "response_transform")


class ActionDefinition(Strict):
    handler: str | None = None
    sql: SqlHandler | None = None
    table: TableHandler | None = None
    http: HttpHandler | None = None
    output_type: str | None = None
    type: Literal["mutation", "query"] = "mutation"
    # Hasura ignores `kind` on queries (its CLI even writes `kind: ""` there), so it stays a
    # plain string here and is normalised below.
    kind: str | None = None
    # Hasura reads `arguments: null` and `headers: null` (its own tests send them) as absent.
    if TYPE_CHECKING:  # what readers see: normalised by __post_init__
        arguments: list[ArgumentDefinition] = []
        headers: list[Header] = []
    else:
        arguments: list[ArgumentDefinition] | None = []
        headers: list[Header] | None = []
    forward_client_headers: bool = False
    timeout: int = DEFAULT_TIMEOUT
    request_transform: dict[str, Any] | None = None
    response_transform: dict[str, Any] | None = None
    retry_conf: RetryConf | None = None

    def __post_init__(self) -> None:
        if self.arguments is None:
            self.arguments = []
        if self.headers is None:
            self.headers = []
        runners = sum(x is not None for x in (self.handler, self.sql, self.table, self.http))
        if runners == 0:
            raise ValueError('key "handler" not found')
        if runners > 1:
            raise ValueError("expecting only one of handler, sql, table or http")
        if self.output_type is not None:
            check_type(self.output_type)
        elif self.handler is not None:
            raise ValueError('key "output_type" not found')
        if self.handler is None:
            for name in WEBHOOK_ONLY:
                if getattr(self, name):
                    raise ValueError(f'"{name}" applies to webhook handlers only')
        if self.sql is not None:
            declared = {arg.name for arg in self.arguments}
            for i, template in enumerate(self.sql.templates()):
                for tag in template.tags:
                    if tag not in declared:
                        raise ValueError(f'statement {i}: the parameter "{{{{{tag}}}}}" is not a declared argument')
        if self.http is not None:
            declared = {arg.name for arg in self.arguments}
            for tag in self.http.tags:
                if tag not in declared:
                    raise ValueError(f'http: the parameter "{{{{{tag}}}}}" is not a declared argument')
        if self.kind in (None, ""):
            self.kind = "synchronous"
        if self.kind not in ("synchronous", "asynchronous"):
            raise ValueError(f'expected "synchronous" or "asynchronous" for kind, got "{self.kind}"')
        if self.type == "query" and self.kind == "asynchronous":
            raise ValueError("asynchronous actions are only supported for mutations")
        if self.timeout < 0:
            raise ValueError("timeout value cannot be negative")
        if self.handler is not None and not self.handler.strip():
            raise ValueError("the handler must not be empty")
        # Templates are parsed apart (transform_checks.template_problems), as Hasura does.
        check_transform_shapes(self.request_transform, self.response_transform)

    def reserved_env_uses(self) -> list[tuple[str, str]]:
        """(path in the definition, Hasura's message) of each header or handler URL that reads a
        reserved variable (HASURA_GRAPHQL_*, SWITCHBOARD_*)."""
        uses = []
        for i, header in enumerate(self.headers):
            if header.value_from_env is not None:
                problem = reserved_env_problem(header.value_from_env, "value_from_env")
                if problem is not None:
                    uses.append((f"$.headers[{i}]", problem))
        for match in ENV_TEMPLATE.finditer(self.handler or ""):
            problem = reserved_env_problem(match.group(1), "the handler URL")
            if problem is not None:
                uses.append(("$.handler", problem))
        return uses

    @property
    def is_async(self) -> bool:
        return self.kind == "asynchronous"

    @property
    def handler_kind(self) -> str:
        if self.sql is not None:
            return "sql"
        if self.table is not None:
            return "table"
        return "http" if self.http is not None else "webhook"

    @property
    def source(self) -> str | None:
        runner = self.sql or self.table
        return None if runner is None else runner.source


def refuse_reserved_env(definition: ActionDefinition) -> None:
    """Hasura's parse error at the first header (or handler URL) reading a reserved variable;
    paths are rooted at the object holding `definition`."""
    uses = definition.reserved_env_uses()
    if uses:
        path, problem = uses[0]
        raise ParseFailed(problem, "$.definition" + path[1:])


class ActionPermission(Strict):
    role: RoleName
    comment: str | None = None
    # Hasura accepts (and drops) a table-style `definition`; Switchboard keeps it and exports it
    # back as given, so nothing a user wrote is lost. It grants nothing more than the role.
    definition: Any = None


class Action(Strict):
    name: str
    definition: ActionDefinition
    comment: str | None = None
    permissions: list[ActionPermission] = []

    def __post_init__(self) -> None:
        check_action_name(self.name)


# Hasura's export order of a definition's keys (Switchboard's `sql`, `table` and `http` after `handler`).
DEFINITION_ORDER = (
    "handler", "sql", "table", "http", "output_type", "forward_client_headers", "headers", "arguments",
    "request_transform", "response_transform", "type", "kind", "timeout", "retry_conf",
)  # fmt: skip


def definition_document(d: ActionDefinition) -> dict[str, Any]:
    """The definition as Hasura exports it: its key order, defaults (and `kind` of a query) left out."""
    values = {
        "handler": d.handler,
        "sql": d.sql,
        "table": d.table,
        "http": d.http,
        "output_type": d.output_type,
        "forward_client_headers": d.forward_client_headers or None,
        "headers": d.headers or None,
        "arguments": d.arguments or None,
        "request_transform": d.request_transform,
        "response_transform": d.response_transform,
        "type": d.type,
        "kind": d.kind if d.type == "mutation" else None,
        "timeout": d.timeout if d.timeout != DEFAULT_TIMEOUT else None,
        "retry_conf": d.retry_conf,
    }
    return {key: msgspec.to_builtins(values[key]) for key in DEFINITION_ORDER if values[key] is not None}


def action_document(action: Action) -> dict[str, Any]:
    doc: dict[str, Any] = {"name": action.name, "definition": definition_document(action.definition)}
    if action.comment is not None:
        doc["comment"] = action.comment
    if action.permissions:
        doc["permissions"] = msgspec.to_builtins(action.permissions)
    return doc
