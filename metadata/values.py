"""Values against GraphQL types: an action's input before its handler is called, and a
handler's output before the caller sees it.

Input follows GraphQL input coercion (a single value where a list is expected becomes a list of
one, an ID may be a number); output follows Hasura's response validation, and keeps only the
declared fields of objects. An input error carries two wordings: Switchboard's (run_action) and
Hasura's GraphQL parser's (/v1/graphql), each with its path.
"""

from __future__ import annotations

from typing import Any

from metadata.actions import Action
from metadata.custom_types import EnumType, InputObjectType, ObjectType
from metadata.graphql_types import BUILTIN_SCALARS, GraphQLType, parse_graphql_type
from metadata.json_kinds import json_kind
from metadata.objects import View

INT_RANGE = (-(2**31), 2**31 - 1)


def _kind_name(value: Any) -> str:
    """`a string`, `an object`, `null`: the kind of a JSON value in an input error."""
    kind = json_kind(value)
    return kind if kind == "null" else f"{'an' if kind[0] in 'ao' else 'a'} {kind}"


def _scalar_ok(name: str, value: Any) -> tuple[bool, Any]:
    """Whether `value` is a valid `name` (a built-in scalar), and its coerced form."""
    if name == "Int":
        ok = isinstance(value, int) and not isinstance(value, bool) and INT_RANGE[0] <= value <= INT_RANGE[1]
        return ok, value
    if name == "Float":
        return isinstance(value, int | float) and not isinstance(value, bool), value
    if name == "String":
        return isinstance(value, str), value
    if name == "Boolean":
        return isinstance(value, bool), value
    # ID: a string, or an integer sent as one.
    if isinstance(value, int) and not isinstance(value, bool):
        return True, str(value)
    return isinstance(value, str), value


# What Hasura's parser says it expected of a value of each built-in scalar.
HASURA_EXPECTED = {
    "Int": "a 32-bit integer",
    "Float": "a float",
    "String": "a string",
    "Boolean": "a boolean",
    "ID": "a String or a 32-bit integer",
}
_HASURA_FOUND: dict[str, str] = {"array": "a list", "object": "an object", "null": "null"}


def _hasura_found(value: Any) -> str:
    kind = json_kind(value)
    return _HASURA_FOUND.get(kind, f"a {kind}")


def _mismatch(expected: str, name: str, value: Any) -> str:
    return f"expected {expected} for type '{name}', but found {_hasura_found(value)}"


class InputError(ValueError):
    """`message` at `path` (run_action's words), `hasura` at `hasura_path` (Hasura's parser's)."""

    def __init__(self, message: str, path: str, hasura: str | None = None, hasura_path: str | None = None) -> None:
        super().__init__(message)
        self.message, self.path = message, path
        self.hasura = message if hasura is None else hasura
        self.hasura_path = path if hasura_path is None else hasura_path


def validate_input(action: Action, given: dict[str, Any], view: View) -> dict[str, Any]:
    """The coerced arguments; raises InputError with a path rooted at the input object."""
    declared = {arg.name: arg for arg in action.definition.arguments}
    for name in given:
        if name not in declared:
            raise InputError(
                f'unexpected argument "{name}" for action "{action.name}"',
                f"$.{name}",
                f"'{action.name}' has no argument named '{name}'",
                "$",
            )
    out: dict[str, Any] = {}
    for name, arg in declared.items():
        type_ = parse_graphql_type(arg.type)
        if name not in given:
            if not type_.nullable:
                raise InputError(
                    f'missing required argument "{name}" of type "{arg.type}"',
                    "$",
                    f"missing required field '{name}'",
                    f"$.{name}",
                )
            continue
        out[name] = _input_value(type_, given[name], f"$.{name}", view)
    return out


def _input_value(type_: GraphQLType, value: Any, path: str, view: View) -> Any:
    if value is None:
        if not type_.nullable:
            expected = "a list" if type_.of_type is not None else _expected(type_.base, view)
            raise InputError("expected a non-null value, got null", path, _mismatch(expected, type_.base, None))
        return None
    if type_.of_type is not None:
        items = value if isinstance(value, list) else [value]
        return [_input_value(type_.of_type, item, f"{path}[{i}]", view) for i, item in enumerate(items)]
    name = type_.base
    if name in BUILTIN_SCALARS:
        ok, coerced = _scalar_ok(name, value)
        if not ok:
            whole = isinstance(value, int) and not isinstance(value, bool)
            bounds = " (a 32-bit integer)" if name == "Int" and whole else ""
            raise InputError(
                f"expected a value of type {name}{bounds}, got {_kind_name(value)}",
                path,
                _mismatch(HASURA_EXPECTED[name], name, value),
            )
        return coerced
    enum = view.get("enum", name)
    if isinstance(enum, EnumType):
        if not isinstance(value, str) or value not in {v.value for v in enum.values}:
            hasura = (
                f"expected one of the values {_names(v.value for v in enum.values)} for type '{name}', "
                f"but found '{value}'"
                if isinstance(value, str)
                else _mismatch("an enum value", name, value)
            )
            raise InputError(f"expected a value of enum {name}, got {_shown(value)}", path, hasura)
        return value
    obj = view.get("input_object", name)
    if isinstance(obj, InputObjectType):
        if not isinstance(value, dict):
            raise InputError(
                f"expected an object of type {name}, got {_kind_name(value)}", path, _mismatch("an object", name, value)
            )
        fields = {f.name: f for f in obj.fields}
        for key in value:
            if key not in fields:
                raise InputError(
                    f'unexpected field "{key}" in type {name}',
                    f"{path}.{key}",
                    f"field '{key}' not found in type: '{name}'",
                )
        out = {}
        for fname, field in fields.items():
            ftype = parse_graphql_type(field.type)
            if fname not in value:
                if not ftype.nullable:
                    raise InputError(
                        f'missing required field "{fname}" of type {name}',
                        path,
                        f"missing required field '{fname}'",
                        f"{path}.{fname}",
                    )
                continue
            out[fname] = _input_value(ftype, value[fname], f"{path}.{fname}", view)
        return out
    return value  # a custom or Postgres scalar: passed through as given


def _expected(name: str, view: View) -> str:
    """What Hasura's parser expected of a value of the named type."""
    if name in HASURA_EXPECTED:
        return HASURA_EXPECTED[name]
    if isinstance(view.get("enum", name), EnumType):
        return "an enum value"
    if isinstance(view.get("input_object", name), InputObjectType):
        return "an object"
    return "a value"


def _names(values: Any) -> str:
    return "[" + ", ".join(f"'{v}'" for v in values) + "]"


def _shown(value: Any) -> str:
    return f'"{value}"' if isinstance(value, str) else _kind_name(value)


class OutputError(ValueError):
    pass


_WHOLE = "the action webhook response"


def validate_output(output_type: str, value: Any, view: View) -> Any:
    """The handler's 2xx body checked against `output_type`, as Hasura's validateResponse words
    it; objects keep their declared fields, an omitted nullable field being null (GraphQL's
    answer for it). Beyond Hasura, the values of nested fields are checked against their types
    too (a GraphQL client could not read a mistyped one), with messages naming the field."""
    return _response(parse_graphql_type(output_type), value, view)


def _response(type_: GraphQLType, value: Any, view: View) -> Any:
    """Hasura's checks of the response (and of each element of a list response)."""
    if value is None:
        if not type_.nullable:
            raise OutputError(f"got null for {_WHOLE}")
        return None
    if type_.of_type is not None:
        if not isinstance(value, list):
            raise OutputError(f"expecting array for {_WHOLE}")
        return [_response(type_.of_type, item, view) for item in value]
    name = type_.base
    obj = view.get("object", name)
    if not isinstance(obj, ObjectType) and name not in BUILTIN_SCALARS:
        return _named(name, value, f" for {_WHOLE}", view)  # a custom or Postgres scalar, an enum
    if isinstance(value, list):
        raise OutputError(f"got array for {_WHOLE}, expecting {name}")
    if isinstance(value, dict):
        if not isinstance(obj, ObjectType):
            raise OutputError(f"got object for {_WHOLE}, expecting {name}")
        return _object(obj, value, view)
    if isinstance(value, bool):
        ok = name == "Boolean"
    elif isinstance(value, int | float):
        ok = name in ("Int", "Float", "ID")
    else:
        ok = name in ("String", "ID")
    if not ok:
        kind = "Boolean" if isinstance(value, bool) else "String"  # Hasura says String for a number too
        raise OutputError(f"got scalar {kind} for {_WHOLE}, expecting {name}")
    return _named(name, value, f" for {_WHOLE}", view)


def _object(obj: ObjectType, value: dict[str, Any], view: View, fill: bool = True) -> dict[str, Any]:
    """The object's declared fields; an omitted nullable one is null, unless the object is an
    element of a list inside the answer (`fill` false): Hasura leaves those as the handler sent
    them (its query_action_recursive_output test)."""
    out = {}
    for f in obj.fields:
        ftype = parse_graphql_type(f.type)
        if not ftype.nullable:
            if f.name not in value:
                raise OutputError(f'field "{f.name}" expected in webhook response, but not found')
            if value[f.name] is None:
                raise OutputError(f'expecting not null value for field "{f.name}"')
        if fill or f.name in value:
            out[f.name] = _field(ftype, value.get(f.name), f.name, view)
    return out


def _json_kind(value: Any) -> str:
    """Hasura's name for the kind of a webhook's value: `scalar String`, `array`, `object`."""
    kind = json_kind(value)
    return kind if kind in ("array", "object") else f"scalar {kind.capitalize()}"


def _field(type_: GraphQLType, value: Any, field: str, view: View, in_list: bool = False) -> Any:
    """A nested value (beyond Hasura, which passes these through unchecked)."""
    where = f' for field "{field}"'
    if value is None:
        if not type_.nullable:
            if field is None:  # an item of a list answered at the top
                raise OutputError("got null for the action webhook response")
            raise OutputError(f'expecting not null value for field "{field}"')
        return None
    if type_.of_type is not None:
        if not isinstance(value, list):
            raise OutputError(f"expecting array{where}")
        return [_field(type_.of_type, item, field, view, in_list=True) for item in value]
    name = type_.base
    obj = view.get("object", name)
    if isinstance(obj, ObjectType):
        if not isinstance(value, dict):
            raise OutputError(f"got {_json_kind(value)}{where}, expecting {name}")
        return _object(obj, value, view, fill=not in_list)
    return _named(name, value, where, view)


def _named(name: str, value: Any, where: str, view: View) -> Any:
    """A value of a built-in scalar, an enum, or a custom or Postgres scalar (any JSON)."""
    if name in BUILTIN_SCALARS:
        if not _scalar_ok(name, value)[0]:
            raise OutputError(f"got {_json_kind(value)}{where}, expecting {name}")
        return value
    enum = view.get("enum", name)
    if isinstance(enum, EnumType) and value not in {v.value for v in enum.values}:
        if not isinstance(value, str):
            raise OutputError(f"got {_json_kind(value)}{where}, expecting {name}")
        raise OutputError(f'got "{value}"{where}, expecting a value of enum {name}')
    return value
