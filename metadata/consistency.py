"""Consistency: whether every action's types resolve, and which objects are not served.

An inconsistent object is reported the way Hasura reports it:
`{"definition", "name": "<type> <name>", "reason": "Inconsistent object: ...", "type"}`.

Two kinds of problems make an action inconsistent. Those of `action_problems` (types that do not
resolve, a missing source, ...) block a change that would introduce them, as Hasura's schema
build does. Those of `run_problems` (a transform template that does not parse, a header reading
a reserved variable) never block: Hasura applies a document holding them (the second only when
inconsistency is allowed); the action is reported, and refuses to run (`run_refusal`).
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import msgspec

from metadata.actions import Action, definition_document
from metadata.custom_types import INPUT_KINDS, OUTPUT_KINDS, TYPE_KINDS, ObjectType, builtin_kind
from metadata.errors import InvalidConfiguration, SwitchboardError
from metadata.graphql_types import parse_graphql_type
from metadata.hasura_sources import DEFAULT_SOURCE, find, qualified, served_source
from metadata.hasura_sources import sources as hasura_sources
from metadata.objects import Key, View
from metadata.roles import missing_parents
from metadata.transform_checks import template_problems


class InconsistentMetadata(SwitchboardError):
    """A change that would leave objects inconsistent; `internal` lists them (Hasura's shape)."""

    code, status = "unexpected", 400


def type_kind(view: View, name: str) -> str | None:
    found = builtin_kind(name)
    if found is None:
        found = next((kind for kind in TYPE_KINDS if view.get(kind, name) is not None), None)
    return found


def action_problems(action: Action, view: View) -> list[SwitchboardError]:
    """What keeps an action from resolving against the types in `view`; paths rooted at the action."""
    problems: list[SwitchboardError] = []
    context = _context(action)
    seen: set[str] = set()
    for i, arg in enumerate(action.definition.arguments):
        if arg.name in seen:
            problems.append(
                InvalidConfiguration(
                    f'{context}the argument "{arg.name}" is defined more than once', f"$.definition.arguments[{i}].name"
                )
            )
        seen.add(arg.name)
        base = parse_graphql_type(arg.type).base
        if type_kind(view, base) not in INPUT_KINDS:
            problems.append(
                InvalidConfiguration(
                    f'{context}the type: "{base}" is not defined in custom types or it is not a '
                    "scalar/enum/input_object",
                    f"$.definition.arguments[{i}].type",
                )
            )
    definition = action.definition
    if definition.output_type is not None:
        base = parse_graphql_type(definition.output_type).base
        if type_kind(view, base) not in OUTPUT_KINDS:
            problems.append(
                InvalidConfiguration(
                    f'{context}the type: "{base}" is not an object or scalar type defined in custom types',
                    "$.definition.output_type",
                )
            )
        output = view.get("object", base)
        if isinstance(output, ObjectType) and output.relationships:
            problem = _relationship_problem(action, output, view)
            if problem is not None:
                problems.append(InvalidConfiguration(f"{context}{problem}"))
    runner = definition.handler_kind
    if definition.source is not None and served_source(view, definition.source) is None:
        problems.append(
            InvalidConfiguration(
                f'{context}the source "{definition.source}" is not defined', f"$.definition.{runner}.source"
            )
        )
    if definition.sql is not None:
        types = {arg.name: parse_graphql_type(arg.type) for arg in definition.arguments}
        for tag in dict.fromkeys(tag for t in definition.sql.templates() for tag in t.tags):
            type_ = types[tag]
            if type_.of_type is not None or type_kind(view, type_.base) not in ("scalar", "enum"):
                problems.append(
                    InvalidConfiguration(
                        f'{context}the parameter "{{{{{tag}}}}}" must be a scalar or an enum, not "{type_}"',
                        "$.definition.sql",
                    )
                )
    return problems


def _relationship_problem(action: Action, output: ObjectType, view: View) -> str | None:
    """Hasura's limits on the relationships of an action's output object: a synchronous action's
    may only map its scalar and enum fields; an asynchronous action's output may not have
    object-typed fields at all when it has relationships."""
    nested = [f.name for f in output.fields if type_kind(view, parse_graphql_type(f.type).base) == "object"]
    if action.definition.is_async:
        if nested:
            names = ", ".join(f'"{name}"' for name in nested)
            return f"Async action relations cannot be used with object fields: {names}"
        return None
    relationships = output.relationships or []
    bad = [r["name"] for r in relationships if any(field in nested for field in r["field_mapping"])]
    if bad:
        return "Relationships cannot be defined with nested object fields: " + ", ".join(f'"{n}"' for n in bad)
    return None


def _context(action: Action) -> str:
    return f'Inconsistent object: in action "{action.name}"; '


def run_problems(action: Action) -> list[str]:
    """Reasons (naming the template field, line and column, or the header) why a stored action
    may not run, though it blocks nothing."""
    definition = action.definition
    reasons = []
    for invalid in template_problems(definition.request_transform, definition.response_transform):
        details = "; ".join(f"{p['template']}: {p['detail']}" for p in invalid.internal)
        reasons.append(f"{_context(action)}{invalid.message}: {details}")
    reasons += [f"{_context(action)}{problem}" for _, problem in definition.reserved_env_uses()]
    return reasons


_FAILED = {"request_transform": "Request Transformation Failed", "response_transform": "Response Transformation Failed"}


def run_refusal(action: Action) -> SwitchboardError | None:
    """Why this action may not run (before anything is sent), or None: Hasura's words for a
    template that does not parse (kriti's errors in `internal`), or the reserved variable (never
    read)."""
    definition = action.definition
    if definition.request_transform is not None or definition.response_transform is not None:
        invalid = template_problems(definition.request_transform, definition.response_transform)
        if invalid:
            return InvalidConfiguration(_FAILED[invalid[0].transform], internal=invalid[0].internal)
    uses = definition.reserved_env_uses()
    if uses:
        return InvalidConfiguration(f'action "{action.name}" cannot run: {uses[0][1]}')
    return None


def _is_empty(value: Any) -> bool:
    return value in (None, [], {})


def action_entry(action: Action, reason: str) -> dict[str, Any]:
    definition = {"name": action.name, "definition": definition_document(action.definition), "comment": action.comment}
    return {"definition": definition, "name": f"action {action.name}", "reason": reason, "type": "action"}


def inconsistent_actions(
    view: View, names: Iterable[str] | None = None, *, blocking_only: bool = False
) -> list[dict[str, Any]]:
    """Inconsistent actions among `names` (all when None), in Hasura's report shape; with
    `blocking_only`, only those a change may not introduce."""
    actions = (
        [item.value for _, item in view.items("action")]
        if names is None
        else [a for a in (view.get("action", n) for n in names) if a is not None]
    )
    out = []
    for action in sorted(actions, key=lambda a: a.name):
        reasons = [problem.message for problem in action_problems(action, view)]
        if not reasons and not blocking_only:
            reasons = run_problems(action)
        if reasons:
            out.append(action_entry(action, reasons[0]))
    return out


def _element_name(element: Any, index: int) -> str:
    if isinstance(element, dict):
        name = element.get("name")
        table = element.get("table")
        if isinstance(name, str):
            return name
        if isinstance(table, dict) and isinstance(table.get("name"), str):  # a v2 `tables` entry
            return ".".join(str(table[k]) for k in ("schema", "name") if k in table)
    return str(index)


# Hasura's `sources` are served as far as action relationships use them (tracked tables and their
# select permissions, metadata/hasura_sources.py): the section is kept whole, but not reported.
SERVED_SECTIONS = ("version", "sources")


def unserved_section_names(view: View) -> list[str]:
    return [
        name
        for name, item in sorted(view.items("section"))
        if name not in SERVED_SECTIONS and not _is_empty(item.value)
    ]


def unserved_sections(view: View) -> list[dict[str, Any]]:
    """Each object of a kept section, named as Hasura names it (`remote_schema legacy`)."""
    out = []
    for section in unserved_section_names(view):
        value = view.get("section", section)
        kind = section.removesuffix("s") if isinstance(value, list) else section
        elements = list(enumerate(value)) if isinstance(value, list) else [(0, value)]
        for index, element in elements:
            name = _element_name(element, index) if isinstance(value, list) else section
            out.append(
                {
                    "definition": element,
                    "name": f"{kind} {name}",
                    "reason": f'Inconsistent object: Switchboard does not serve "{section}"; '
                    "it is kept and exported unchanged",
                    "type": kind,
                }
            )
    return out


def dangling_links(view: View) -> list[dict[str, Any]]:
    """Public links whose action is gone (possible only through replace_metadata)."""
    return [
        {
            "definition": msgspec.to_builtins(item.value),
            "name": f"public_link {name}",
            "reason": f'Inconsistent object: the action "{name}" of this public link does not exist',
            "type": "public_link",
        }
        for name, item in sorted(view.items("public_link"))
        if view.get("action", name) is None
    ]


def inconsistent_objects(view: View) -> list[dict[str, Any]]:
    return (
        inconsistent_actions(view)
        + dangling_links(view)
        + missing_parents(view)
        + unserved_sections(view)
        + unknown_sources(view)
        + relationship_problems(view)
    )


def unknown_sources(view: View) -> list[dict[str, Any]]:
    """Hasura sources with tables that name none of Switchboard's data sources and have no
    database URL of their own."""
    return [
        {
            "definition": entry,
            "name": f"source {entry.get('name')}",
            "reason": f'Inconsistent object: the source "{entry.get("name")}" is not one of the data sources '
            "(add_source) and has no database URL of its own: its tables are kept and exported unchanged, "
            "not served",
            "type": "source",
        }
        for entry in hasura_sources(view)
        if entry.get("tables") and served_source(view, str(entry.get("name"))) is None
    ]


def relationship_problems(view: View) -> list[dict[str, Any]]:
    """Relationships of custom object types that point at no data source or no tracked table
    (get_inconsistent_metadata also reads each table: it must be there, with the mapped columns)."""
    out = []
    for name, item in sorted(view.items("object")):
        for relationship in item.value.relationships or []:
            problem = relationship_target(view, relationship)
            if isinstance(problem, str):
                out.append(relationship_entry(name, relationship, problem))
    return out


def relationship_entry(owner: str, relationship: dict[str, Any], problem: str) -> dict[str, Any]:
    return {
        "definition": relationship,
        "name": f"relationship {relationship.get('name')} of object {owner}",
        "reason": f'Inconsistent object: in relationship "{relationship.get("name")}" of object "{owner}": {problem}',
        "type": "custom_type_relationship",
    }


def relationship_target(view: View, relationship: dict[str, Any]) -> tuple[str, str | None, str] | str:
    """(source, schema, table) a relationship points at, or why it cannot point anywhere."""
    source = relationship.get("source") or DEFAULT_SOURCE
    if served_source(view, source) is None:
        return f'the source "{source}" is not one of the data sources'
    try:
        schema, table = qualified(relationship.get("remote_table"))
    except ValueError:
        return f"the remote table {relationship.get('remote_table')!r} is not a table name"
    if find(view, source, schema, table) is None:
        return f'the table "{table}" is not tracked in source "{source}"'
    return source, schema, table


def new_inconsistencies(base: View, draft: View, changed: Iterable[Key]) -> list[dict[str, Any]]:
    """Actions a change makes inconsistent that were not before (sections never count here).

    Only the changed actions are looked at, unless a type changed, when every action is.
    """
    changed = list(changed)
    if any(kind in TYPE_KINDS or kind == "source" for kind, _ in changed):
        names: Iterable[str] | None = None
    else:
        names = [name for kind, name in changed if kind == "action"]
    before = {entry["name"] for entry in inconsistent_actions(base, names, blocking_only=True)}
    return [entry for entry in inconsistent_actions(draft, names, blocking_only=True) if entry["name"] not in before]


def refuse(entries: list[dict[str, Any]], message: str) -> InconsistentMetadata:
    return InconsistentMetadata(message, "$", internal=entries)
