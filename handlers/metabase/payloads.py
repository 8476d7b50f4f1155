"""The bodies Metabase's endpoints take, as msgspec Structs decoded once.

Metabase's schemas are open maps: keys they do not name are ignored, not refused (its clients
send more than any one endpoint reads). A field of the wrong type, or a required one missing, is
Metabase's 400 `{"errors": {field: message}, "specific-errors": {field: [why]}}`.
"""

from __future__ import annotations

import re
from typing import Any, Literal, TypeVar

import msgspec

from handlers.metabase.errors import Invalid

T = TypeVar("T")
_FIELD = re.compile(r"`\$\.([^`.\[]+)")
_MISSING = re.compile(r"missing required field `([^`]+)`")
# What Metabase's schemas say of a field of each kind (util/malli/schema.clj).
_EXPECTED = {
    "name": "string",
    "username": "value must be a non-blank string.",
    "password": "value must be a non-blank string.",
    "email": "value must be a valid email address.",
    "model_id": "value must be an integer greater than zero.",
    "database_id": "value must be an integer greater than zero.",
    "display": "value must be a non-blank string.",
    "dataset_query": "Value must be a map.",
    "visualization_settings": "Value must be a map.",
    "parameters": "Value must be a map.",
}


class Open(msgspec.Struct, kw_only=True, omit_defaults=True):
    """A Metabase body: unknown keys ignored."""


class Login(Open):
    username: str
    password: str
    remember: bool = False


class NewUser(Open):
    email: str
    password: str | None = None
    first_name: str | None = None
    last_name: str | None = None
    is_superuser: bool = False
    switchboard_role: str | None = None  # Switchboard's own: the role a non-superuser acts as


class UserChange(Open):
    email: str | None = None
    first_name: str | None = None
    last_name: str | None = None
    is_superuser: bool | None = None
    switchboard_role: str | None = None
    password: str | None = None


class DatabaseChange(Open):
    settings: dict[str, Any] | None = None


class NewCard(Open):
    name: str
    dataset_query: dict[str, Any]
    display: str = "table"
    visualization_settings: dict[str, Any] = {}
    type: Literal["model", "question", "metric"] | None = None
    dataset: bool | None = None  # older Metabase's way of saying "model"
    description: str | None = None
    collection_id: int | None = None


class CardChange(Open):
    name: str | None = None
    dataset_query: dict[str, Any] | None = None
    display: str | None = None
    visualization_settings: dict[str, Any] | None = None
    description: str | None = None
    collection_id: int | None = None
    archived: bool | None = None


class NewAction(Open):
    name: str
    model_id: int
    type: Literal["query", "implicit", "http"] = "query"
    database_id: int | None = None
    dataset_query: dict[str, Any] | None = None
    kind: Literal["row/create", "row/update", "row/delete"] | None = None
    template: dict[str, Any] | None = None
    response_handle: str | None = None
    error_handle: str | None = None
    parameters: list[dict[str, Any]] = []
    parameter_mappings: Any = None
    visualization_settings: dict[str, Any] = {}
    description: str | None = None


class ActionChange(Open):
    name: str | None = None
    model_id: int | None = None
    type: Literal["query", "implicit", "http"] | None = None
    database_id: int | None = None
    dataset_query: dict[str, Any] | None = None
    kind: Literal["row/create", "row/update", "row/delete"] | None = None
    template: dict[str, Any] | None = None
    response_handle: str | None = None
    error_handle: str | None = None
    parameters: list[dict[str, Any]] | None = None
    parameter_mappings: Any = None
    visualization_settings: dict[str, Any] | None = None
    description: str | None = None
    archived: bool | None = None


class Execute(Open):
    parameters: dict[str, Any] = {}


_decoders: dict[type[Any], msgspec.json.Decoder[Any]] = {}


def decode(struct: type[T], body: bytes) -> T:
    """The body as `struct`, or Metabase's 400 naming the field at fault."""
    decoder = _decoders.get(struct)
    if decoder is None:
        decoder = _decoders[struct] = msgspec.json.Decoder(struct)
    try:
        return decoder.decode(body or b"{}")  # type: ignore[no-any-return]
    except msgspec.ValidationError as exc:
        text = str(exc)
        missing = _MISSING.search(text)
        field = missing.group(1) if missing else (m.group(1) if (m := _FIELD.search(text)) else "body")
        why = "missing required key, received: nil" if missing else text.split(" - at ")[0]
        raise Invalid({field: _EXPECTED.get(field, why)}, {field: [why]}) from None
    except (msgspec.DecodeError, RecursionError):
        raise Invalid({"body": "value must be a valid JSON object."}, {"body": ["not JSON"]}) from None


def non_blank(**values: str | None) -> None:
    """Metabase's NonBlankString: each given value, when present, holds more than spaces."""
    blank = {
        name: "value must be a non-blank string."
        for name, value in values.items()
        if value is not None and not value.strip()
    }
    if blank:
        raise Invalid(blank, {name: ["should be a non-blank string"] for name in blank})
