"""Actions as typed msgspec Structs, and their Hasura export form.

Decoding fills Hasura's defaults; `action_document` writes the object back the way Hasura's
`export_metadata` does (its key order, defaults omitted), which is also the form the store keeps.
"""

from __future__ import annotations

import re
from typing import Annotated, Any, Literal

import msgspec

from metadata.graphql_types import check_name, check_type
from metadata.strict import Strict
from metadata.transform_checks import validate_transforms

DEFAULT_TIMEOUT = 30

# Headers may not read the service's own settings (admin secret, database URL) out of the
# environment; Hasura refuses its own HASURA_GRAPHQL_* the same way.
RESERVED_ENV_PREFIXES = ("SWITCHBOARD_", "HASURA_GRAPHQL_")
_TEMPLATE_VAR = re.compile(r"\{\{\s*([^}\s]+)\s*\}\}")


def check_env_name(name: str, where: str) -> None:
    if name.strip().upper().startswith(RESERVED_ENV_PREFIXES):
        raise ValueError(
            f'env variables starting with "SWITCHBOARD_" or "HASURA_GRAPHQL_" are not allowed in {where}: {name}'
        )


# Hasura's role names are non-empty text.
RoleName = Annotated[str, msgspec.Meta(min_length=1)]


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
        if self.value_from_env is not None:
            check_env_name(self.value_from_env, "value_from_env")


class RetryConf(Strict):
    """Retries of an asynchronous action's failed calls (beyond Hasura, which has none)."""

    num_retries: Annotated[int, msgspec.Meta(ge=0)] = 0
    retry_interval_seconds: Annotated[float, msgspec.Meta(ge=0)] = 10
    backoff: Annotated[float, msgspec.Meta(ge=1)] = 1  # each wait is the previous one times this


class ActionDefinition(Strict):
    handler: str
    output_type: str
    type: Literal["mutation", "query"] = "mutation"
    # Hasura ignores `kind` on queries (its CLI even writes `kind: ""` there), so it stays a
    # plain string here and is normalised below.
    kind: str | None = None
    arguments: list[ArgumentDefinition] = []
    headers: list[Header] = []
    forward_client_headers: bool = False
    timeout: int = DEFAULT_TIMEOUT
    request_transform: dict[str, Any] | None = None
    response_transform: dict[str, Any] | None = None
    retry_conf: RetryConf | None = None

    def __post_init__(self) -> None:
        check_type(self.output_type)
        if self.kind in (None, ""):
            self.kind = "synchronous"
        if self.kind not in ("synchronous", "asynchronous"):
            raise ValueError(f'expected "synchronous" or "asynchronous" for kind, got "{self.kind}"')
        if self.type == "query" and self.kind == "asynchronous":
            raise ValueError("asynchronous actions are only supported for mutations")
        if self.timeout < 0:
            raise ValueError("timeout value cannot be negative")
        if not self.handler.strip():
            raise ValueError("the handler must not be empty")
        for match in _TEMPLATE_VAR.finditer(self.handler):
            check_env_name(match.group(1), "the handler URL")
        validate_transforms(self.request_transform, self.response_transform)

    @property
    def is_async(self) -> bool:
        return self.kind == "asynchronous"


class ActionPermission(Strict):
    role: RoleName
    comment: str | None = None


class Action(Strict):
    name: str
    definition: ActionDefinition
    comment: str | None = None
    permissions: list[ActionPermission] = []

    def __post_init__(self) -> None:
        check_name(self.name)


def definition_document(d: ActionDefinition) -> dict[str, Any]:
    doc: dict[str, Any] = {"handler": d.handler, "output_type": d.output_type}
    if d.forward_client_headers:
        doc["forward_client_headers"] = True
    if d.headers:
        doc["headers"] = msgspec.to_builtins(d.headers)
    if d.arguments:
        doc["arguments"] = msgspec.to_builtins(d.arguments)
    if d.request_transform is not None:
        doc["request_transform"] = d.request_transform
    if d.response_transform is not None:
        doc["response_transform"] = d.response_transform
    doc["type"] = d.type
    if d.type == "mutation":
        doc["kind"] = d.kind
    if d.timeout != DEFAULT_TIMEOUT:
        doc["timeout"] = d.timeout
    if d.retry_conf is not None:
        doc["retry_conf"] = msgspec.to_builtins(d.retry_conf)
    return doc


def action_document(action: Action) -> dict[str, Any]:
    doc: dict[str, Any] = {"name": action.name, "definition": definition_document(action.definition)}
    if action.comment is not None:
        doc["comment"] = action.comment
    if action.permissions:
        doc["permissions"] = msgspec.to_builtins(action.permissions)
    return doc
