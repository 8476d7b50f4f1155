"""Whole metadata documents (Hasura v1/v2/v3): build one from a view, and parse one into objects.

Sections Switchboard does not serve (sources, remote schemas, ...) are kept verbatim as `section`
objects and exported back in Hasura's key order, so nothing a user applies is silently dropped.
"""

from __future__ import annotations

from typing import Any, NamedTuple

import msgspec

from metadata.actions import Action, refuse_reserved_env
from metadata.custom_types import SECTION_OF_KIND, TYPE_KINDS, CustomTypes, validate_custom_types
from metadata.data_sources import DataSource, masked_body
from metadata.decoding import decode
from metadata.errors import AlreadyExists, ParseFailed, rooted
from metadata.metabase import MetabaseAction, MetabaseDatabase, MetabaseModel
from metadata.objects import Item, Key, View, make_item
from metadata.public_links import PublicLink
from metadata.roles import InheritedRole

CURRENT_VERSION = 3

# Hasura's export order of top-level keys (v3; the v1/v2 keys follow, sorted). No other keys exist.
SECTION_ORDER = (
    "version", "sources", "remote_schemas", "query_collections", "allowlist", "actions",
    "custom_types", "cron_triggers", "rest_endpoints", "api_limits", "metrics_config",
    "inherited_roles", "graphql_schema_introspection", "network", "backend_configs",
    "opentelemetry",
    # Switchboard's own: the data sources of sql/table actions (Hasura's `sources` are its
    # GraphQL databases, kept as they are), public links, and what Metabase's API keeps.
    "data_sources", "public_links", "metabase_databases", "metabase_models", "metabase_actions",
)  # fmt: skip
KNOWN_SECTIONS = frozenset(SECTION_ORDER) | {"tables", "functions", "query_templates"}  # v1/v2 keys


class NamedList(NamedTuple):
    """A document key holding a list of objects of one kind, each named by one of its fields."""

    kind: str
    field: str
    decoder: msgspec.json.Decoder[list[Any]]


NAMED_LISTS = {
    "inherited_roles": NamedList("inherited_role", "role_name", msgspec.json.Decoder(list[InheritedRole])),
    "data_sources": NamedList("source", "name", msgspec.json.Decoder(list[DataSource])),
    "public_links": NamedList("public_link", "action", msgspec.json.Decoder(list[PublicLink])),
    "metabase_databases": NamedList("metabase_database", "source", msgspec.json.Decoder(list[MetabaseDatabase])),
    "metabase_models": NamedList("metabase_model", "entity_id", msgspec.json.Decoder(list[MetabaseModel])),
    "metabase_actions": NamedList("metabase_action", "action", msgspec.json.Decoder(list[MetabaseAction])),
}

_document = msgspec.json.Decoder(dict[str, msgspec.Raw])
_list = msgspec.json.Decoder(list[msgspec.Raw])
_action = msgspec.json.Decoder(Action)
_custom_types = msgspec.json.Decoder(CustomTypes)
_any = msgspec.json.Decoder()


def _order(key: str) -> tuple[int, str]:
    return (SECTION_ORDER.index(key), "") if key in SECTION_ORDER else (len(SECTION_ORDER), key)


def build_document(view: View, reveal_secrets: bool = False) -> dict[str, Any]:
    """The Hasura document of a view; object bodies are spliced in as already-encoded JSON.
    Passwords in data source URLs are shown as *** unless `reveal_secrets` (a backup)."""
    sections: dict[str, Any] = {name: msgspec.Raw(item.body) for name, item in view.items("section")}
    if "version" not in sections:
        # A v3 document always has `sources`; one applied as v1/v2 keeps its own shape.
        sections["version"] = CURRENT_VERSION
        sections.setdefault("sources", [])
    actions = sorted(view.items("action"))
    if actions:
        sections["actions"] = [msgspec.Raw(item.body) for _, item in actions]
    custom_types = {
        SECTION_OF_KIND[kind]: [msgspec.Raw(item.body) for _, item in sorted(view.items(kind))] for kind in TYPE_KINDS
    }
    custom_types = {section: types for section, types in custom_types.items() if types}
    if custom_types:
        sections["custom_types"] = custom_types
    for key, named_list in NAMED_LISTS.items():
        named = sorted(view.items(named_list.kind))
        if named:
            shown = masked_body if named_list.kind == "source" and not reveal_secrets else bytes
            sections[key] = [msgspec.Raw(shown(item.body)) for _, item in named]
    return {key: sections[key] for key in sorted(sections, key=_order)}


def parse_document(raw: bytes | msgspec.Raw, keep_reserved: bool = False) -> dict[Key, Item]:
    """Objects of a Hasura document. Paths in errors are rooted at the document.

    What an export writes by default (`version: 3`, `sources: []`) is not stored, so applying an
    exported document back changes nothing. A header reading a reserved variable is refused as
    Hasura's parser refuses it, at the header, unless `keep_reserved` (inconsistency allowed):
    then the action is kept, and reported as inconsistent.
    """
    top = decode(_document, raw)
    with rooted("$.version"):
        version = decode(_any, top.pop("version")) if "version" in top else (1 if "tables" in top else 3)
        if version not in (1, 2, 3):
            raise ParseFailed(f"unsupported metadata version: {version!r}")
    items: dict[Key, Item] = {}
    if version != CURRENT_VERSION:
        items[("section", "version")] = make_item("section", version)
    for key, value in top.items():
        if key not in KNOWN_SECTIONS:
            raise ParseFailed(f'unknown field "{key}"')
        with rooted(f"$.{key}"):
            if key == "actions":
                raw_actions: list[msgspec.Raw] = decode(_list, value)
                for i, raw_action in enumerate(raw_actions):
                    with rooted(f"$[{i}]"):  # one by one, so a bad name is refused at its path
                        action = decode(_action, raw_action)
                        if ("action", action.name) in items:
                            raise AlreadyExists(f'action with name "{action.name}" already exists', "$.name")
                        if not keep_reserved:
                            refuse_reserved_env(action.definition)
                    items[("action", action.name)] = make_item("action", action)
            elif key == "custom_types":
                items.update(custom_type_items(decode(_custom_types, value)))
            elif key in NAMED_LISTS:
                kind, field, decoder = NAMED_LISTS[key]
                elements: list[Any] = decode(decoder, value)
                for i, element in enumerate(elements):
                    name = getattr(element, field)
                    if (kind, name) in items:
                        raise AlreadyExists(f'{kind.replace("_", " ")} "{name}" is listed more than once', f"$[{i}]")
                    items[(kind, name)] = make_item(kind, element)
            else:
                section = decode(_any, value)
                if not (key == "sources" and section == [] and version == CURRENT_VERSION):
                    items[("section", key)] = make_item("section", section)
    uuids = [item.value.uuid for (kind, _), item in items.items() if kind == "public_link"]
    if len(set(uuids)) != len(uuids):
        raise AlreadyExists("two public links share one uuid", "$.public_links")
    return items


def custom_type_items(types: CustomTypes) -> dict[Key, Item]:
    """Validated custom types as objects; paths in errors are rooted at the payload."""
    kinds = validate_custom_types(types)
    declared = {t.name: t for section in SECTION_OF_KIND.values() for t in getattr(types, section) or []}
    return {(kind, name): make_item(kind, declared[name]) for name, kind in kinds.items()}
