"""The functions a Kriti template may call, as Hasura's transforms offer them: kriti-lang's
`basicFuncMap` (src/Kriti/CustomFunctions.hs) plus Hasura's `getSessionVariable`
(Data.Aeson.Kriti.Functions). Each takes exactly one value; a failure's message is kriti's own
(aeson's "parsing String failed, expected String, but encountered Number" for a wrong type).

Where kriti-lang crashes instead of answering (Haskell exceptions: `tail` of an empty array or
string, `inverse` of 0) these fail with a Function Error; `inverse` of a number whose reciprocal
has no finite decimal expansion (3) answers the nearest float where Haskell's Scientific throws.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any
from urllib.parse import quote

from metadata.kriti.values import is_space, kind, strip

Env = Mapping[str, Any]


class FunctionFailed(Exception):
    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


def _expect(value: Any, expected: str, context: str) -> Any:
    """Aeson's `withText` / `withArray` / ... check: `context` names the parser, as kriti does."""
    if kind(value) != expected:
        raise FunctionFailed(f"parsing {context} failed, expected {expected}, but encountered {kind(value)}")
    return value


def _empty(value: Any, env: Env) -> bool:
    if isinstance(value, bool):
        raise FunctionFailed("Cannot define emptiness for a boolean")
    if value is None:
        return True
    if isinstance(value, str):
        return strip(value) == ""
    if isinstance(value, int | float):
        return value == 0
    return len(value) == 0


def _size(value: Any, env: Env) -> Any:
    if isinstance(value, bool):
        return int(value)
    if value is None:
        return 0
    if isinstance(value, int | float):
        return value
    return len(value)


def _inverse(value: Any, env: Env) -> Any:
    if isinstance(value, bool):
        return not value
    if isinstance(value, int | float):
        if value == 0:
            raise FunctionFailed("Cannot invert 0")
        result = 1 / value
        return int(result) if result.is_integer() else result
    if isinstance(value, str | list):
        return value[::-1]
    return value  # an object or null stays as it is


def _head(value: Any, env: Env) -> Any:
    if not isinstance(value, str | list):
        raise FunctionFailed("Expected an array or string")
    if not value:
        raise FunctionFailed("Empty string" if isinstance(value, str) else "Empty array")
    return value[0]


def _tail(value: Any, env: Env) -> Any:
    if not isinstance(value, str | list):
        raise FunctionFailed("Expected an array or string")
    if not value:
        raise FunctionFailed("Empty string" if isinstance(value, str) else "Empty array")
    return value[1:]


def _text(convert: Callable[[str], str]) -> Callable[[Any, Env], Any]:
    return lambda value, env: convert(_expect(value, "String", "String"))


def _title(text: str) -> str:
    """Data.Text.toTitle: a letter after a letter lowers everything up to the next space; the first
    character after a space (or the start) is title-cased, unlike Python's `str.title`."""
    out, after_letter = [], False
    for c in text:
        if is_space(c):
            out.append(c)
            after_letter = False
        elif after_letter:
            out.append(c.lower())
        else:
            out.append(c.title())
            after_letter = c.isalpha()
    return "".join(out)


def _from_pairs(value: Any, env: Env) -> Any:
    out: dict[str, Any] = {}
    for pair in _expect(value, "Array", "Nested Arrays"):
        _expect(pair, "Array", "Array of Pair")
        if len(pair) != 2:
            raise FunctionFailed("Expected an array of shape [ [k1,v1], [k2,v2] ... ] - With String keys.")
        out[_expect(pair[0], "String", "Key")] = pair[1]
    return out


def _to_pairs(value: Any, env: Env) -> Any:
    obj = _expect(value, "Object", "Object")
    return [[key, obj[key]] for key in sorted(obj)]


def _remove_nulls(value: Any, env: Env) -> Any:
    return [item for item in _expect(value, "Array", "Array") if item is not None]


def _concat(value: Any, env: Env) -> Any:
    """Arrays of arrays, of strings or of objects (the rightmost key wins)."""
    items = _expect(value, "Array", "Array")
    if all(isinstance(i, list) for i in items):
        return [x for i in items for x in i]
    if all(isinstance(i, str) for i in items):
        return "".join(items)
    merged: dict[str, Any] = {}
    for item in items:  # kriti reports the last alternative's error: the first non-object
        merged.update(_expect(item, "Object", "Nested Object"))
    return merged


def _not(value: Any, env: Env) -> Any:
    return not _expect(value, "Boolean", "Bool")


def _session_variable(value: Any, env: Env) -> Any:
    """Hasura's: null stays null; names are matched without regard to case."""
    if value is None:
        return None
    if not isinstance(value, str):
        raise FunctionFailed("Session variable name should be a string")
    session = env.get("$session_variables") or {}
    wanted = value.casefold()
    for name, found in session.items():
        if name.casefold() == wanted:
            return found
    raise FunctionFailed(f'Session variable "{value}" not found')


FUNCTIONS: dict[str, Callable[[Any, Env], Any]] = {
    "empty": _empty,
    "size": _size,
    "inverse": _inverse,
    "head": _head,
    "tail": _tail,
    "toCaseFold": _text(str.casefold),
    "toLower": _text(str.lower),
    "toUpper": _text(str.upper),
    "toTitle": _text(_title),
    # RFC 3986 unreserved characters stay; everything else is %XX of its UTF-8 bytes.
    "escapeUri": _text(lambda text: quote(text, safe="")),
    "fromPairs": _from_pairs,
    "toPairs": _to_pairs,
    "removeNulls": _remove_nulls,
    "concat": _concat,
    "not": _not,
    "getSessionVariable": _session_variable,
}
