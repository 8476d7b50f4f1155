"""Custom types (Hasura's `set_custom_types` payload) and the rules they must obey on their own.

Rules that involve actions (an action's argument or output type) live in `consistency`.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from typing import Any

import msgspec

from metadata.errors import InvalidConfiguration, ValidationFailed
from metadata.graphql_types import BUILTIN_SCALARS, POSTGRES_SCALARS, check_name, check_type, parse_graphql_type
from metadata.strict import Strict


class InputObjectField(Strict):
    name: str
    type: str
    description: str | None = None

    def __post_init__(self) -> None:
        check_name(self.name)
        check_type(self.type)


class InputObjectType(Strict):
    name: str
    fields: list[InputObjectField]
    description: str | None = None

    def __post_init__(self) -> None:
        check_name(self.name)
        if not self.fields:
            raise ValueError(f'the input object "{self.name}" needs at least one field')


class ObjectField(Strict):
    name: str
    type: str
    arguments: Any = None  # accepted and kept, as Hasura does; not used
    description: str | None = None

    def __post_init__(self) -> None:
        check_name(self.name)
        check_type(self.type)


# What Hasura's parser requires of a relationship (`source` defaults to "default").
_RELATIONSHIP_KEYS = ("name", "type", "remote_table", "field_mapping")


def _check_relationship(owner: str, index: int, relationship: dict[str, Any]) -> None:
    where = f'relationship {index} of object "{owner}"'
    for key in _RELATIONSHIP_KEYS:
        if key not in relationship:
            raise ValueError(f'{where}: key "{key}" not found')
    if not isinstance(relationship["name"], str) or not relationship["name"]:
        raise ValueError(f"{where}: the name must be a non-empty string")
    if relationship["type"] not in ("object", "array"):
        raise ValueError(f'{where}: expected "object" or "array" for type, got {relationship["type"]!r}')
    mapping = relationship["field_mapping"]
    if not isinstance(mapping, dict) or not all(isinstance(v, str) for v in mapping.values()):
        raise ValueError(f"{where}: field_mapping must map fields to column names")


class ObjectType(Strict):
    name: str
    fields: list[ObjectField]
    description: str | None = None
    # Relationships point at tables of a Hasura source, which Switchboard does not serve: checked
    # as Hasura checks them against the object's own fields, kept verbatim and exported back.
    relationships: list[dict[str, Any]] | None = None

    def __post_init__(self) -> None:
        check_name(self.name)
        if not self.fields:
            raise ValueError(f'the object "{self.name}" needs at least one field')
        for i, relationship in enumerate(self.relationships or []):
            _check_relationship(self.name, i, relationship)

    def field_types(self) -> dict[str, str]:
        return {f.name: f.type for f in self.fields}


class ScalarType(Strict):
    name: str
    description: str | None = None

    def __post_init__(self) -> None:
        check_name(self.name)


class EnumValue(Strict):
    value: str
    description: str | None = None
    is_deprecated: bool | None = None

    def __post_init__(self) -> None:
        check_name(self.value)


class EnumType(Strict):
    name: str
    values: list[EnumValue]
    description: str | None = None

    def __post_init__(self) -> None:
        check_name(self.name)
        if not self.values:
            raise ValueError(f'the enum "{self.name}" needs at least one value')


class CustomTypes(Strict):
    input_objects: list[InputObjectType] | None = None
    objects: list[ObjectType] | None = None
    scalars: list[ScalarType] | None = None
    enums: list[EnumType] | None = None


CustomType = InputObjectType | ObjectType | ScalarType | EnumType

# Kind of stored object -> its Struct, in Hasura's export order of the sections.
TYPE_KINDS: dict[str, type[CustomType]] = {
    "input_object": InputObjectType,
    "object": ObjectType,
    "scalar": ScalarType,
    "enum": EnumType,
}
SECTION_OF_KIND = {"input_object": "input_objects", "object": "objects", "scalar": "scalars", "enum": "enums"}

INPUT_KINDS = frozenset({"scalar", "enum", "input_object"})
OUTPUT_KINDS = frozenset({"scalar", "enum", "object"})


def builtin_kind(name: str) -> str | None:
    return "scalar" if name in BUILTIN_SCALARS or name in POSTGRES_SCALARS else None


def by_kind(types: CustomTypes) -> list[tuple[str, str, list[CustomType]]]:
    """(kind, section name, declared types) for each section of the payload."""
    return [(kind, section, list(getattr(types, section) or [])) for kind, section in SECTION_OF_KIND.items()]


def _duplicates(names: list[str]) -> str:
    return ", ".join(f'"{name}"' for name, count in Counter(names).items() if count > 1)


def _refuse(reason: str, path: str) -> ValidationFailed:
    return ValidationFailed(f"validation for the given custom types failed because {reason}", path)


def _redeclares(kind: str, name: str) -> bool:
    """Whether a declaration may reuse a built-in name: Hasura allows a custom scalar named like a
    GraphQL or Postgres scalar (`scalar String`, `scalar timestamptz` in actions.graphql, as its CLI
    sends them), which stays that scalar."""
    return kind == "scalar" and (name in BUILTIN_SCALARS or name in POSTGRES_SCALARS)


def _relationship_problems(obj: ObjectType) -> list[str]:
    """Hasura's checks of an object's relationships against its own fields (the tables they point
    at belong to a database Switchboard does not serve)."""
    relationships = obj.relationships or []
    if not relationships:
        return []
    problems = []
    if dup := _duplicates([f.name for f in obj.fields] + [r["name"] for r in relationships]):
        problems.append(f'the object "{obj.name}" has duplicate fields: {dup}')
    if len({r.get("source", "default") for r in relationships}) > 1:
        return [*problems, f'the object "{obj.name}" has relationships refers to tables in multiple sources']
    fields = obj.field_types()
    for relationship in relationships:
        for field in relationship["field_mapping"]:
            which = f'for relationship "{relationship["name"]}" in object type "{obj.name}"'
            if field not in fields:
                problems.append(f'the field "{field}" {which} does not exist')
            elif parse_graphql_type(fields[field]).of_type is not None:
                problems.append(f'the type of the field "{field}" {which} is a list type')
    return problems


def custom_types_inconsistency(types: CustomTypes, problems: list[str]) -> InvalidConfiguration:
    """Hasura's answer for custom types its schema build refuses: every reason in one message,
    the custom types as the inconsistent object in `internal`."""
    if len(problems) == 1:
        reasons = f"because {problems[0]}"
    else:
        reasons = "for the following reasons:\n" + "".join(f"  • {p}\n" for p in problems)
    reason = f"Inconsistent object: validation for the given custom types failed {reasons}"
    entry = {"definition": msgspec.to_builtins(types), "name": "custom_types custom_types", "reason": reason}
    return InvalidConfiguration(reason, internal=[{**entry, "type": "custom_types"}])


def validate_custom_types(types: CustomTypes) -> dict[str, str]:
    """Check the payload on its own; return {type name: kind}. Paths are rooted at the payload."""
    kinds: dict[str, str] = {}
    for kind, section, declared in by_kind(types):
        for i, t in enumerate(declared):
            if t.name in kinds or (builtin_kind(t.name) and not _redeclares(kind, t.name)):
                raise _refuse(f'duplicate type names: "{t.name}"', f"$.{section}[{i}].name")
            kinds[t.name] = kind

    # (section, what Hasura calls its types, the kinds their fields may have)
    for section, label, allowed in (
        ("input_objects", "input object", INPUT_KINDS),
        ("objects", "object", OUTPUT_KINDS),
    ):
        owners: Sequence[InputObjectType | ObjectType] = getattr(types, section) or []
        for i, owner in enumerate(owners):
            where = f"$.{section}[{i}]"
            if dup := _duplicates([f.name for f in owner.fields]):
                raise _refuse(f'the {label} "{owner.name}" has duplicate fields: {dup}', f"{where}.fields")
            fields: Sequence[InputObjectField | ObjectField] = owner.fields
            for j, field in enumerate(fields):
                base = parse_graphql_type(field.type).base
                found = builtin_kind(base) or kinds.get(base)
                if found is None:
                    reason = "does not exist"
                elif found not in allowed:
                    reason = f"is an {found.replace('_', ' ')} type, which a field of an {label} cannot have"
                else:
                    continue
                raise _refuse(
                    f'the type "{base}" for field "{field.name}" in {label} type "{owner.name}" {reason}',
                    f"{where}.fields[{j}].type",
                )
    for i, enum in enumerate(types.enums or []):
        if dup := _duplicates([v.value for v in enum.values]):
            raise _refuse(f'the enum type "{enum.name}" has duplicate values: {dup}', f"$.enums[{i}].values")
    problems = [problem for obj in types.objects or [] for problem in _relationship_problems(obj)]
    if problems:
        raise custom_types_inconsistency(types, problems)
    return kinds
