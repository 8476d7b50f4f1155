"""The kind of a decoded JSON value, as error messages name it."""

from typing import Any

_NAMES: dict[type, str] = {str: "string", list: "array", dict: "object"}


def json_kind(value: Any) -> str:
    """null, boolean, number, string, array or object (bool is not a number here)."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, int | float):
        return "number"
    return _NAMES.get(type(value), type(value).__name__)
