"""What Metabase's REST API keeps beside Switchboard's own objects, as metadata (versioned,
exported under Switchboard's own keys, rolled back with the rest):

* `metabase_action`, named by its Switchboard action: the fields of Metabase's action that the
  action itself does not hold (its display name, type, model, parameters, settings, ...), kept as
  sent and answered back;
* `metabase_model`, named by its entity id: a model (a card of type "model") on one table of a
  data source, or a native query;
* `metabase_database`, named by its data source: the database's settings
  (`database-enable-actions`).

Objects refer to each other by name (a source, a table, a model's entity id), never by Metabase's
integer ids, which are the store's own (metadata/metabase_ids.py): an export applied to another
server stays whole.
"""

from __future__ import annotations

import re
import unicodedata
from typing import Any, Literal

from metadata.strict import StoredName, Strict

ACTION_TYPES = ("query", "implicit", "http")
IMPLICIT_KINDS = ("row/create", "row/update", "row/delete")
# Implicit kinds as Switchboard's table operations.
OPERATIONS = {"row/create": "insert", "row/update": "update", "row/delete": "delete"}


class TableRef(Strict):
    """A table of a data source (`schema` absent: the source's default)."""

    source: str
    table: str
    schema: str | None = None


class MetabaseModel(Strict):
    entity_id: StoredName
    name: str
    # On one table (Metabase's {"source-table": id}), or a native query on a source.
    table: TableRef | None = None
    source: str | None = None
    native: dict[str, Any] | None = None
    description: str | None = None
    display: str = "table"
    visualization_settings: dict[str, Any] = {}
    collection_id: int | None = None
    archived: bool = False
    creator_id: int | None = None
    created_at: str = ""
    updated_at: str = ""

    def __post_init__(self) -> None:
        if (self.table is None) == (self.native is None):
            raise ValueError("a model is either on a table or a native query")
        if self.native is not None and self.source is None:
            raise ValueError("a native model names its source")

    @property
    def source_name(self) -> str:
        return self.table.source if self.table is not None else self.source or ""


class MetabaseAction(Strict):
    action: StoredName  # the Switchboard action
    name: str  # Metabase's name, free text
    type: Literal["query", "implicit", "http"]
    model: str | None = None  # the model's entity id
    source: str | None = None  # a query action's database
    native: dict[str, Any] | None = None  # a query action's native query ({query, template-tags})
    kind: Literal["row/create", "row/update", "row/delete"] | None = None
    template: dict[str, Any] | None = None
    response_handle: str | None = None
    error_handle: str | None = None
    parameters: list[dict[str, Any]] = []
    parameter_mappings: Any = None
    visualization_settings: dict[str, Any] = {}
    description: str | None = None
    archived: bool = False
    entity_id: str = ""
    creator_id: int | None = None
    made_public_by_id: int | None = None
    created_at: str = ""
    updated_at: str = ""


class MetabaseDatabase(Strict):
    source: StoredName
    settings: dict[str, Any] = {}

    @property
    def actions_enabled(self) -> bool:
        return self.settings.get("database-enable-actions") is True


def slug(text: str) -> str:
    """Metabase's slugify: lower case, accents stripped, what is not [a-z0-9_] as `_`."""
    plain = unicodedata.normalize("NFKD", text.lower()).encode("ascii", "ignore").decode()
    return re.sub(r"[^a-z0-9_]", "_", plain)


def graphql_name(text: str) -> str:
    """A GraphQL name for a Metabase name ("Update order!" -> "update_order_")."""
    name = slug(text).strip("_") or "action"
    return name if not name[0].isdigit() else f"_{name}"
