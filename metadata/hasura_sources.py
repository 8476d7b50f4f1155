"""Hasura's `sources` section: the tables it tracks and their select permissions, read from the
section as Hasura writes it (which Switchboard keeps whole and exports back unchanged).

A Hasura source names one of Switchboard's data sources (`default` is the usual name), or is one
itself through its own connection URL (`served_source`); its tracked
tables are what action relationships may point at, and a table's select permissions say what a
role may read of it: `{columns: [...] | "*", filter: <boolean expression>, limit?}`. Object
relationships of a table (`using: {foreign_key_constraint_on: column}` or `manual_configuration`)
let filters compare through them.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from metadata.data_sources import DataSource

if TYPE_CHECKING:
    from metadata.objects import View

DEFAULT_SOURCE = "default"
DEFAULT_SCHEMA = "public"


@dataclass(frozen=True)
class TableKey:
    source: str
    schema: str | None  # None: the database's default (public on PostgreSQL; SQLite has none)
    name: str

    def __str__(self) -> str:
        return f"{self.schema}.{self.name}" if self.schema else self.name


def qualified(table: Any) -> tuple[str | None, str]:
    """(schema, name) of Hasura's table reference: "name" or {schema?, name}."""
    if isinstance(table, str):
        return None, table
    if isinstance(table, dict) and isinstance(table.get("name"), str):
        schema = table.get("schema")
        return schema if isinstance(schema, str) else None, table["name"]
    raise ValueError(f"not a table: {table!r}")


def same_schema(a: str | None, b: str | None) -> bool:
    """`public` and no schema name the same tables (Hasura writes one, users the other)."""
    return (a or DEFAULT_SCHEMA) == (b or DEFAULT_SCHEMA)


def sources(view: View) -> list[dict[str, Any]]:
    value = view.get("section", "sources")
    return [s for s in value if isinstance(s, dict)] if isinstance(value, list) else []


def served_source(view: View, name: str) -> DataSource | None:
    """The data source `name` answers to: Switchboard's own (add_source), else the Hasura source of
    that name when its connection is a database URL, written out or from an environment variable
    (`configuration.connection_info.database_url`), so a Hasura project moves over with the
    environment it had."""
    own = view.get("source", name)
    if isinstance(own, DataSource):
        return own
    entry = next((s for s in sources(view) if s.get("name") == name), None)
    info = ((entry or {}).get("configuration") or {}).get("connection_info") or {}
    url = info.get("database_url") if isinstance(info, dict) else None
    try:
        if isinstance(url, str):
            return DataSource(name=name, url=url)
        if isinstance(url, dict) and isinstance(url.get("from_env"), str):
            return DataSource(name=name, url_from_env=url["from_env"])
    except ValueError:
        pass  # no URL Switchboard can open (get_inconsistent_metadata says the source is unknown)
    return None


def tracked(view: View) -> dict[TableKey, dict[str, Any]]:
    """Every tracked table's entry, by its key (schema as written)."""
    out: dict[TableKey, dict[str, Any]] = {}
    for source in sources(view):
        name = source.get("name")
        for entry in source.get("tables") or []:
            if isinstance(name, str) and isinstance(entry, dict):
                try:
                    schema, table = qualified(entry.get("table"))
                except ValueError:
                    continue
                out[TableKey(name, schema, table)] = entry
    return out


def find(view: View, source: str, schema: str | None, name: str) -> dict[str, Any] | None:
    for key, entry in tracked(view).items():
        if key.source == source and key.name == name and same_schema(key.schema, schema):
            return entry
    return None


@dataclass(frozen=True)
class SelectPermission:
    columns: tuple[str, ...] | None  # None: every column ("*")
    filter: dict[str, Any]
    limit: int | None


def permission_roles(view: View) -> set[str]:
    """The roles the tracked tables' permissions name (select, insert, update, delete)."""
    return {
        permission["role"]
        for entry in tracked(view).values()
        for kind in ("select", "insert", "update", "delete")
        for permission in entry.get(f"{kind}_permissions") or []
        if isinstance(permission, dict) and isinstance(permission.get("role"), str)
    }


def select_permission(entry: dict[str, Any] | None, role: str) -> SelectPermission | None:
    for permission in (entry or {}).get("select_permissions") or []:
        if isinstance(permission, dict) and permission.get("role") == role:
            body = permission.get("permission") or {}
            columns, limit, found = body.get("columns"), body.get("limit"), body.get("filter")
            return SelectPermission(
                None if columns == "*" else tuple(c for c in columns or () if isinstance(c, str)),
                found if isinstance(found, dict) else {},
                limit if isinstance(limit, int) and not isinstance(limit, bool) else None,
            )
    return None


@dataclass(frozen=True)
class ObjectRelationship:
    """A table's object relationship, as filters use it: rows of `remote` where each
    `remote column = this table's column`."""

    name: str
    remote: tuple[str | None, str]
    mapping: dict[str, str]  # this table's column -> the remote table's column


def object_relationships(
    entry: dict[str, Any] | None, foreign_keys: dict[str, tuple[str | None, str, str]]
) -> dict[str, ObjectRelationship]:
    """The table's object relationships; `foreign_keys` (column -> (schema, table, column), from
    the database) resolve `foreign_key_constraint_on`."""
    out = {}
    for relationship in (entry or {}).get("object_relationships") or []:
        if not isinstance(relationship, dict) or not isinstance(relationship.get("name"), str):
            continue
        using = relationship.get("using") or {}
        column = using.get("foreign_key_constraint_on")
        manual = using.get("manual_configuration")
        if isinstance(column, str) and column in foreign_keys:
            schema, table, remote_column = foreign_keys[column]
            out[relationship["name"]] = ObjectRelationship(
                relationship["name"], (schema, table), {column: remote_column}
            )
        elif isinstance(manual, dict) and isinstance(manual.get("column_mapping"), dict):
            try:
                remote = qualified(manual.get("remote_table"))
            except ValueError:
                continue
            out[relationship["name"]] = ObjectRelationship(relationship["name"], remote, dict(manual["column_mapping"]))
    return out


def with_table(view: View, source: str, schema: str | None, name: str, change: Any) -> list[dict[str, Any]]:
    """The sources section with the table's entry replaced by `change(entry or None)` (None:
    removed); the source's entry is made when it has none."""
    out = [dict(s) for s in sources(view)]
    holder = next((s for s in out if s.get("name") == source), None)
    if holder is None:
        holder = {"name": source, "kind": "postgres", "tables": [], "configuration": {}}
        out.append(holder)
    tables = list(holder.get("tables") or [])
    index = next(
        (i for i, entry in enumerate(tables) if isinstance(entry, dict) and _names(entry, schema, name)),
        None,
    )
    current = tables[index] if index is not None else None
    replaced = change(current)
    if index is not None:
        tables.pop(index)
    if replaced is not None:
        tables.insert(index if index is not None else len(tables), replaced)
    holder["tables"] = tables
    return out


def _names(entry: dict[str, Any], schema: str | None, name: str) -> bool:
    try:
        found_schema, found = qualified(entry.get("table"))
    except ValueError:
        return False
    return found == name and same_schema(found_schema, schema)
