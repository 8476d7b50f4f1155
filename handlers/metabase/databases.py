"""Databases: Switchboard's data sources, with Metabase's integer ids.

GET /api/database: {data: [database], total}; GET /api/database/:id; GET /api/database/:id/metadata:
the database with its tables and their fields, read from the database itself (ids for tables and
fields as for databases: stable, never reused); PUT /api/database/:id {settings} (superusers):
merged into the database's settings, a null removing a key. `database-enable-actions` is off
until set, as in Metabase: executing an action on a database without it is refused.
"""

from __future__ import annotations

from typing import Any

import msgspec
import sqlalchemy as sa

from handlers.context import Context
from handlers.dispatch import change
from handlers.execution.engines import resolve_url
from handlers.metabase.errors import NotFound
from handlers.metabase.payloads import DatabaseChange, decode
from handlers.metabase.service import Caller, Metabase
from metadata.data_sources import DataSource, masked
from metadata.errors import InvalidConfiguration
from metadata.metabase import MetabaseDatabase, TableRef
from metadata.objects import View

SEPARATOR = "\x1f"  # between the parts of a table's or a field's name in the id registry
ENGINES = {"postgresql": "postgres", "sqlite": "sqlite", "mysql": "mysql", "mariadb": "mysql", "mssql": "sqlserver"}
# SQLAlchemy's column types as Metabase's base types; checked in order (BigInteger is an Integer).
_BASE_TYPES: tuple[tuple[type[sa.types.TypeEngine[Any]], str], ...] = (
    (sa.Boolean, "type/Boolean"),
    (sa.BigInteger, "type/BigInteger"),
    (sa.Integer, "type/Integer"),
    (sa.Float, "type/Float"),
    (sa.Numeric, "type/Decimal"),
    (sa.DateTime, "type/DateTime"),
    (sa.Date, "type/Date"),
    (sa.Time, "type/Time"),
    (sa.Uuid, "type/UUID"),
    (sa.JSON, "type/JSON"),
    (sa.String, "type/Text"),
)


def settings_of(view: View, source: str) -> dict[str, Any]:
    found = view.get("metabase_database", source)
    return dict(found.settings) if isinstance(found, MetabaseDatabase) else {}


def actions_enabled(view: View, source: str) -> bool:
    return settings_of(view, source).get("database-enable-actions") is True


def _engine(source: DataSource) -> str | None:
    try:
        dialect = sa.make_url(resolve_url(source)).get_backend_name()
    except (InvalidConfiguration, sa.exc.ArgumentError, ValueError):
        return None
    return ENGINES.get(dialect, dialect)


async def source_of(mb: Metabase, database_id: int) -> DataSource:
    name = await mb.ids.name("database", database_id)
    source = mb.runtime.store.state.get("source", name) if name is not None else None
    if not isinstance(source, DataSource):
        raise NotFound()
    return source


def table_name(ref: TableRef) -> str:
    return SEPARATOR.join((ref.source, ref.schema or "", ref.table))


async def table_ref(mb: Metabase, table_id: int) -> TableRef | None:
    name = await mb.ids.name("table", table_id)
    if name is None:
        return None
    source, schema, table = name.split(SEPARATOR)
    return TableRef(source=source, schema=schema or None, table=table)


def database_json(source: DataSource, ident: int, view: View, caller: Caller) -> dict[str, Any]:
    body: dict[str, Any] = {
        "id": ident,
        "name": source.name,
        "engine": _engine(source),
        "description": None,
        "features": ["actions", "native-parameters", "basic-aggregations"],
        "settings": settings_of(view, source.name),
        "is_sample": False,
        "is_audit": False,
        "is_full_sync": True,
        "is_on_demand": False,
        "auto_run_queries": True,
        "initial_sync_status": "complete",
        "native_permissions": "write" if caller.superuser else "none",
        "cache_ttl": None,
        "caveats": None,
        "points_of_interest": None,
        "timezone": None,
        "creator_id": None,
        "created_at": None,
        "updated_at": None,
        "uploads_enabled": False,
    }
    if caller.superuser:  # its URL, the password masked, or where it is read from
        body["details"] = {k: v for k, v in msgspec.to_builtins(masked(source)).items() if k != "name"}
    return body


async def list_databases(mb: Metabase, caller: Caller) -> dict[str, Any]:
    view = mb.runtime.store.state
    sources = sorted((item.value for _, item in view.items("source")), key=lambda s: s.name.lower())
    ids = await mb.ids.ids("database", [s.name for s in sources])
    return {"data": [database_json(s, ids[s.name], view, caller) for s in sources], "total": len(sources)}


async def get_database(mb: Metabase, caller: Caller, database_id: int) -> dict[str, Any]:
    source = await source_of(mb, database_id)
    return database_json(source, database_id, mb.runtime.store.state, caller)


def _text(name: str | None) -> str | None:
    """SQLAlchemy's names are a str subclass (quoted_name) that JSON encoders refuse."""
    return None if name is None else str(name)


def base_type(column: sa.Column[Any]) -> str:
    if isinstance(column.type, sa.DateTime) and column.type.timezone:
        return "type/DateTimeWithLocalTZ"
    return next((name for kind, name in _BASE_TYPES if isinstance(column.type, kind)), "type/*")


def _auto_increment(column: sa.Column[Any], table: sa.Table) -> bool:
    single = len(table.primary_key.columns) == 1 and isinstance(column.type, sa.Integer)
    return column.primary_key and (column.identity is not None or (single and column.autoincrement in (True, "auto")))


async def metadata(mb: Metabase, caller: Caller, database_id: int) -> dict[str, Any]:
    source = await source_of(mb, database_id)
    tables = await mb.runtime.engines.tables(source)
    refs = {t.name: TableRef(source=source.name, schema=_text(t.schema), table=str(t.name)) for t in tables}
    table_ids = await mb.ids.ids("table", [table_name(ref) for ref in refs.values()])
    out = []
    for table in tables:
        prefix = table_name(refs[table.name])
        field_ids = await mb.ids.ids("field", [prefix + SEPARATOR + c.name for c in table.columns])
        table_id = table_ids[prefix]
        fields = [
            {
                "id": field_ids[prefix + SEPARATOR + column.name],
                "table_id": table_id,
                "name": str(column.name),
                "display_name": str(column.name).replace("_", " ").title(),
                "description": None,
                "base_type": base_type(column),
                "effective_type": base_type(column),
                "semantic_type": "type/PK" if column.primary_key else "type/FK" if column.foreign_keys else None,
                "database_type": str(column.type),
                "position": position,
                "database_position": position,
                "database_required": not column.nullable
                and column.server_default is None
                and not _auto_increment(column, table),
                "database_is_auto_increment": _auto_increment(column, table),
                "visibility_type": "normal",
                "active": True,
                "has_field_values": "list",
            }
            for position, column in enumerate(table.columns)
        ]
        out.append(
            {
                "id": table_id,
                "db_id": database_id,
                "name": str(table.name),
                "display_name": str(table.name).replace("_", " ").title(),
                "schema": _text(table.schema),
                "description": None,
                "entity_type": "entity/GenericTable",
                "active": True,
                "visibility_type": None,
                "fields": fields,
                "segments": [],
                "metrics": [],
            }
        )
    return {**database_json(source, database_id, mb.runtime.store.state, caller), "tables": out}


async def update_database(mb: Metabase, caller: Caller, database_id: int, body: bytes) -> dict[str, Any]:
    caller.must_be_superuser()
    source = await source_of(mb, database_id)
    given = decode(DatabaseChange, body)

    async def modify(ctx: Context) -> None:
        settings = settings_of(ctx.changing, source.name)
        for key, value in (given.settings or {}).items():
            if value is None:
                settings.pop(key, None)
            else:
                settings[key] = value
        ctx.changing.put("metabase_database", source.name, MetabaseDatabase(source=source.name, settings=settings))

    await change(mb.runtime, caller.session, "metabase:update_database", modify)
    return database_json(source, database_id, mb.runtime.store.state, caller)
