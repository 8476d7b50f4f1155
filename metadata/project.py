"""Hasura CLI project directories <-> Hasura v3 metadata documents.

A project is the `metadata/` folder the Hasura CLI writes: `version.yaml`, `actions.yaml` (each
action's definition without arguments, output type and type; its permissions and comment; the
custom type names, with object relationships) and `actions.graphql` (SDL: the actions as fields of
`type Mutation` / `type Query`, with their arguments and output types, and the custom types with
their descriptions). Reading follows the Hasura CLI's own build: an action's type, arguments and
output type come from actions.graphql (actions.yaml values for them are ignored, never refused);
kind (`kind: ""` included), handler, headers, timeout, transforms, comment and permissions from
actions.yaml. Sections Switchboard keeps but does not serve go to the files the Hasura CLI
uses for them (`databases/databases.yaml`, `remote_schemas.yaml`, ...).

Beyond Hasura: Switchboard's own sections go to `data_sources.yaml`, `public_links.yaml` and, for
what Metabase's API keeps, `metabase/*.yaml`. A `sql`, `table` or `http` action without an output
type is no GraphQL field (a field needs a type), so it
is not in `actions.graphql`: its whole definition, arguments and type included, stays in
`actions.yaml`. Reading, an `actions.yaml` entry without an SDL field is accepted only when its
definition has `sql` or `table` and no `output_type`. A sql/table action with an output type is
laid out as a webhook action is.

`write_project(document, dir)` then `read_project(dir)` gives back the same document (as
`export_metadata` writes it, key order included), so export -> apply -> export is byte-identical.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import graphql
import yaml
from graphql.language import ast

from metadata.actions import DEFINITION_ORDER
from metadata.document import SECTION_ORDER
from metadata.files import FileFormatError, parse_yaml
from metadata.sdl import ROOTS, TYPE_SECTIONS, SdlError, field_node, inputs, parse_sdl, print_sdl

VERSION_FILE = "version.yaml"
ACTIONS_FILE = "actions.yaml"
SDL_FILE = "actions.graphql"

# Sections kept verbatim, and the file the Hasura CLI keeps each in (v1/v2 keys included).
SECTION_FILES = {
    "sources": "databases/databases.yaml",
    "remote_schemas": "remote_schemas.yaml",
    "query_collections": "query_collections.yaml",
    "allowlist": "allow_list.yaml",
    "cron_triggers": "cron_triggers.yaml",
    "rest_endpoints": "rest_endpoints.yaml",
    "api_limits": "api_limits.yaml",
    "metrics_config": "metrics_config.yaml",
    "inherited_roles": "inherited_roles.yaml",
    "graphql_schema_introspection": "graphql_schema_introspection.yaml",
    "network": "network.yaml",
    "backend_configs": "backend_configs.yaml",
    "opentelemetry": "opentelemetry.yaml",
    "tables": "tables.yaml",
    "functions": "functions.yaml",
    "query_templates": "query_templates.yaml",
}
# Switchboard's own sections (not Hasura's), each in a file of its own.
OWN_SECTION_FILES = {
    "data_sources": "data_sources.yaml",
    "public_links": "public_links.yaml",
    "metabase_databases": "metabase/databases.yaml",
    "metabase_models": "metabase/models.yaml",
    "metabase_actions": "metabase/actions.yaml",
}
_ALL_SECTION_FILES = {**SECTION_FILES, **OWN_SECTION_FILES}
# Sections a Hasura project holds empty when unused; an empty one is the same as none.
_EMPTY: tuple[Any, ...] = ([], {}, None)

# Hasura CLI's order of an action definition's keys in actions.yaml (the rest follow as exported).
_DEFINITION_FIRST = ("kind", "handler")
_SDL_KEYS = ("arguments", "output_type", "type")
# Keys that make an action run SQL, which needs no output type (the others are webhooks).
_NO_OUTPUT_RUNNERS = ("sql", "table", "http")
# export_metadata's key orders (DEFINITION_ORDER, the msgspec Structs of custom_types.py); keys
# not listed follow in the order they were read.
_ACTION_ORDER = ("name", "definition", "comment", "permissions")
_TYPE_ORDER = ("name", "fields", "values", "description", "relationships")
_OBJECT_FIELD_ORDER = ("name", "type", "arguments", "description")
_INCLUDE = "!include "


class ProjectError(Exception):
    """A project file that cannot be read; the message names the file."""


# --- reading -------------------------------------------------------------------------------------


def _load_yaml(path: Path, root: Path) -> Any:
    try:
        data = parse_yaml(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise ProjectError(f"{_rel(path, root)}: {exc.strerror}") from None
    except FileFormatError as exc:
        raise ProjectError(f"{_rel(path, root)}: {exc}") from None
    return _includes(data, path.parent, root)


def _includes(value: Any, base: Path, root: Path) -> Any:
    """Resolve the Hasura CLI's `"!include path"` strings (relative to the including file)."""
    if isinstance(value, str) and value.startswith(_INCLUDE):
        return _load_yaml(base / value[len(_INCLUDE) :].strip(), root)
    if isinstance(value, list):
        return [_includes(v, base, root) for v in value]
    if isinstance(value, dict):
        return {k: _includes(v, base, root) for k, v in value.items()}
    return value


def _rel(path: Path, root: Path) -> str:
    try:
        return str(path.relative_to(root))
    except ValueError:
        return str(path)


def _mapping(value: Any, what: str) -> dict[str, Any]:
    if value is None:
        return {}
    if not isinstance(value, dict):
        raise ProjectError(f"{what} must be a mapping")
    return value


def _list(value: Any, what: str) -> list[Any]:
    if value is None:
        return []
    if not isinstance(value, list):
        raise ProjectError(f"{what} must be a list")
    return value


def read_project(directory: str | Path) -> dict[str, Any]:
    """The Hasura v3 document of a project directory (the Hasura CLI's `metadata/` folder)."""
    root = Path(directory)
    if not root.is_dir():
        raise ProjectError(f"{root}: not a directory")
    version: Any = 3
    if (root / VERSION_FILE).exists():
        version = _mapping(_load_yaml(root / VERSION_FILE, root), VERSION_FILE).get("version", 3)
    document: dict[str, Any] = {"version": version}
    if version == 3:
        document["sources"] = []
    for section, file in _ALL_SECTION_FILES.items():
        if (root / file).exists():
            value = _load_yaml(root / file, root)
            if value not in _EMPTY:
                document[section] = value

    listed = _mapping(_load_yaml(root / ACTIONS_FILE, root), ACTIONS_FILE) if (root / ACTIONS_FILE).exists() else {}
    sdl = (root / SDL_FILE).read_text(encoding="utf-8") if (root / SDL_FILE).exists() else ""
    fields, declared = _read_sdl(sdl) if sdl.strip() else ({}, {s: [] for s in TYPE_SECTIONS})

    actions = []
    seen: set[Any] = set()
    for i, entry in enumerate(_list(listed.get("actions"), f"{ACTIONS_FILE}: actions")):
        entry = _mapping(entry, f"{ACTIONS_FILE}: actions[{i}]")
        name = entry.get("name")
        if name in seen:
            raise ProjectError(f'{ACTIONS_FILE}: action "{name}" is listed twice')
        seen.add(name)
        definition = dict(_mapping(entry.get("definition"), f'{ACTIONS_FILE}: action "{name}" definition'))
        if name in fields:
            # As the Hasura CLI builds it: type, arguments and output type come from the SDL
            # (values actions.yaml also gives for them are ignored), the rest from actions.yaml.
            action_type, field = fields.pop(name)
            arguments = inputs(field.arguments)
            definition = {k: v for k, v in definition.items() if k not in _SDL_KEYS} | {
                **({"arguments": arguments} if arguments else {}),
                "output_type": graphql.print_ast(field.type),
                "type": action_type,
            }
        elif not any(key in definition for key in _NO_OUTPUT_RUNNERS):
            raise ProjectError(f'{ACTIONS_FILE}: action "{name}" is not declared in {SDL_FILE}')
        elif "output_type" in definition:
            raise ProjectError(
                f'{ACTIONS_FILE}: action "{name}" has an output_type but is not declared in {SDL_FILE}; '
                "an action with an output type is a field of type Mutation or type Query there"
            )
        # else: a sql/table action without an output type; actions.yaml holds all of it.
        action = {"name": name, "definition": _ordered(definition, DEFINITION_ORDER)}
        comment = entry.get("comment")  # as the Hasura CLI: actions.yaml's, never the SDL's description
        if comment is not None:
            action["comment"] = comment
        for key, value in entry.items():
            if key not in ("name", "definition", "comment"):
                action[key] = value
        actions.append(_ordered(action, _ACTION_ORDER))
    if fields:
        names = ", ".join(f'"{n}"' for n in fields)
        raise ProjectError(f"{SDL_FILE}: actions {names} have no entry in {ACTIONS_FILE}")
    if actions:
        document["actions"] = actions

    listed_types = _mapping(listed.get("custom_types"), f"{ACTIONS_FILE}: custom_types")
    custom_types = {}
    for section in TYPE_SECTIONS:
        by_name = {t["name"]: t for t in declared[section]}
        for entry in _list(listed_types.get(section), f"{ACTIONS_FILE}: custom_types.{section}"):
            entry = _mapping(entry, f"{ACTIONS_FILE}: custom_types.{section}")
            found = by_name.get(entry.get("name"))
            if found is None:
                raise ProjectError(
                    f'{ACTIONS_FILE}: custom type "{entry.get("name")}" is not declared in {SDL_FILE} '
                    f"as {section.rstrip('s').replace('_', ' ')}"
                )
            _merge_listed(found, entry)
        if declared[section]:
            custom_types[section] = [_ordered_type(t) for t in declared[section]]
    if custom_types:
        document["custom_types"] = custom_types
    return {key: document[key] for key in sorted(document, key=_section_order)}


def _ordered(mapping: dict[str, Any], order: tuple[str, ...]) -> dict[str, Any]:
    """The mapping with `order`'s keys first, in that order, then the others as they were."""
    return {**{k: mapping[k] for k in order if k in mapping}, **{k: v for k, v in mapping.items() if k not in order}}


def _ordered_type(declared: dict[str, Any]) -> dict[str, Any]:
    ordered = _ordered(declared, _TYPE_ORDER)
    if "fields" in ordered and "values" not in ordered:
        ordered["fields"] = [_ordered(f, _OBJECT_FIELD_ORDER) for f in ordered["fields"]]
    return ordered


def _section_order(key: str) -> tuple[int, str]:
    """export_metadata's order of top-level keys (metadata/document.py); v1/v2 keys follow, sorted."""
    return (SECTION_ORDER.index(key), "") if key in SECTION_ORDER else (len(SECTION_ORDER), key)


def _merge_listed(declared: dict[str, Any], listed: dict[str, Any]) -> None:
    """What actions.yaml adds to a type declared in SDL: relationships; enum value details that
    older Hasura CLIs wrote there (SDL wins)."""
    if listed.get("relationships") is not None:
        declared["relationships"] = listed["relationships"]
    if "fields" in declared and "values" not in declared:
        extra = {f.get("name"): f for f in listed.get("fields") or [] if isinstance(f, dict)}
        for field in declared["fields"]:
            if extra.get(field["name"], {}).get("arguments") is not None:
                field["arguments"] = extra[field["name"]]["arguments"]
    if "values" in declared:
        extra = {v.get("value"): v for v in listed.get("values") or [] if isinstance(v, dict)}
        for value in declared["values"]:
            more = extra.get(value["value"], {})
            if "description" not in value and more.get("description") is not None:
                value["description"] = more["description"]
            if "is_deprecated" not in value and more.get("is_deprecated") is not None:
                value["is_deprecated"] = more["is_deprecated"]


# --- writing -------------------------------------------------------------------------------------


def _dump_yaml(value: Any) -> str:
    return yaml.safe_dump(value, sort_keys=False, allow_unicode=True, default_flow_style=False, width=1000)


def _read_sdl(text: str) -> tuple[dict[str, tuple[str, ast.FieldDefinitionNode]], dict[str, list[dict[str, Any]]]]:
    try:
        return parse_sdl(text)
    except SdlError as exc:
        raise ProjectError(f"{SDL_FILE}:{exc}") from None


def _sdl(document: dict[str, Any]) -> str:
    roots = {
        root: [
            field_node({"name": a["name"], "type": a["definition"]["output_type"]}, a["definition"].get("arguments"))
            for a in document.get("actions") or []
            if _in_sdl(a) and a["definition"].get("type", "mutation") == action_type
        ]
        for root, action_type in ROOTS.items()
    }
    return print_sdl(roots, document.get("custom_types") or {})


def _in_sdl(action: dict[str, Any]) -> bool:
    """Whether an action is a field of actions.graphql: it is unless it has no output type."""
    definition = action["definition"]
    if "output_type" in definition:
        return True
    if not any(key in definition for key in _NO_OUTPUT_RUNNERS):
        raise ProjectError(f'action "{action["name"]}": a webhook action needs an output_type')
    return False


def _listed_actions(document: dict[str, Any]) -> list[dict[str, Any]]:
    listed = []
    for action in document.get("actions") or []:
        definition = action["definition"]
        entry: dict[str, Any] = {"name": action["name"]}
        in_sdl = _SDL_KEYS if _in_sdl(action) else ()  # without an SDL field, all of it stays here
        ordered = {k: definition[k] for k in _DEFINITION_FIRST if k in definition}
        ordered |= {k: v for k, v in definition.items() if k not in in_sdl and k not in ordered}
        entry["definition"] = ordered
        entry |= {k: v for k, v in action.items() if k not in ("name", "definition")}
        listed.append(entry)
    return listed


def _listed_types(document: dict[str, Any]) -> dict[str, list[dict[str, Any]]]:
    types = document.get("custom_types") or {}
    listed: dict[str, list[dict[str, Any]]] = {}
    for section in sorted(TYPE_SECTIONS):  # the Hasura CLI's (alphabetical) order
        listed[section] = []
        for entry in types.get(section) or []:
            item: dict[str, Any] = {"name": entry["name"]}
            if entry.get("relationships") is not None:
                item["relationships"] = entry["relationships"]
            # What SDL cannot say: object field arguments (kept, unused), `is_deprecated: false`.
            fields = [
                {"name": f["name"], "arguments": f["arguments"]}
                for f in entry.get("fields") or []
                if f.get("arguments") is not None
            ]
            if fields:
                item["fields"] = fields
            values = [
                {"value": v["value"], "is_deprecated": False}
                for v in entry.get("values") or []
                if v.get("is_deprecated") is False
            ]
            if values:
                item["values"] = values
            listed[section].append(item)
    return listed


def project_files(document: dict[str, Any]) -> dict[str, str]:
    """{relative path: text} of the project of a document (v1/v2/v3, as export_metadata gives)."""
    unknown = set(document) - set(_ALL_SECTION_FILES) - {"version", "actions", "custom_types"}
    if unknown:
        raise ProjectError(f"unknown metadata sections: {', '.join(sorted(unknown))}")
    files = {VERSION_FILE: _dump_yaml({"version": document.get("version", 3)})}
    for section, file in _ALL_SECTION_FILES.items():
        value = document.get(section)
        if value not in _EMPTY:
            files[file] = _dump_yaml(value)
    files[ACTIONS_FILE] = _dump_yaml({"actions": _listed_actions(document), "custom_types": _listed_types(document)})
    files[SDL_FILE] = _sdl(document)
    return files


def write_project(document: dict[str, Any], directory: str | Path) -> list[str]:
    """Write a document as a project directory; files of sections the document lacks are removed
    (so the directory mirrors the document). Answers the files written."""
    root = Path(directory)
    files = project_files(document)
    root.mkdir(parents=True, exist_ok=True)
    for file in [*_ALL_SECTION_FILES.values(), VERSION_FILE, ACTIONS_FILE, SDL_FILE]:
        if file not in files and (root / file).is_file():
            (root / file).unlink()
    for file, text in files.items():
        (root / file).parent.mkdir(parents=True, exist_ok=True)
        (root / file).write_text(text, encoding="utf-8")
    return sorted(files)
