"""JSON values as kriti-lang (aeson, Haskell) sees them: type names, equality, ordering, the
text of a value inserted into a string, number literals, and Haskell's idea of whitespace.

Python's own operators would get these wrong: `True == 1`, `[1] < "a"` raising, floats printed as
`1e-05` where aeson prints `1.0e-5`, object keys in insertion order where aeson sorts them.
"""

from __future__ import annotations

import unicodedata
from decimal import Decimal
from typing import Any

_TYPES: dict[type, str] = {dict: "Object", list: "Array", str: "String", bool: "Boolean", int: "Number"}
# Aeson's Value constructors in declaration order: its derived Ord compares these first.
_RANK = {"Object": 0, "Array": 1, "String": 2, "Number": 3, "Boolean": 4, "Null": 5}


def kind(value: Any) -> str:
    """Kriti's name for the type of a value (Object, Array, String, Number, Boolean, Null)."""
    if value is None:
        return "Null"
    return _TYPES.get(type(value), "Number")


def equal(a: Any, b: Any) -> bool:
    ka = kind(a)
    if ka != kind(b):
        return False
    if ka == "Array":
        return len(a) == len(b) and all(equal(x, y) for x, y in zip(a, b, strict=True))
    if ka == "Object":
        return a.keys() == b.keys() and all(equal(a[k], b[k]) for k in a)
    return bool(a == b)


def compare(a: Any, b: Any) -> int:
    """-1, 0 or 1, as aeson's derived `Ord Value`: by type first (Object < Array < String < Number
    < Boolean < Null), then by value; objects as their (key, value) lists in key order."""
    ka, kb = kind(a), kind(b)
    if ka != kb:
        return -1 if _RANK[ka] < _RANK[kb] else 1
    if ka in ("Array", "Object"):
        xs = a if ka == "Array" else sorted(a.items())
        ys = b if ka == "Array" else sorted(b.items())
        for x, y in zip(xs, ys, strict=False):
            order = _compare_item(x, y) if ka == "Object" else compare(x, y)
            if order:
                return order
        return (len(xs) > len(ys)) - (len(xs) < len(ys))
    return (a > b) - (a < b) if a is not None else 0


def _compare_item(x: tuple[str, Any], y: tuple[str, Any]) -> int:
    if x[0] != y[0]:
        return -1 if x[0] < y[0] else 1
    return compare(x[1], y[1])


def number(text: str) -> int | float:
    """A number literal as kriti reads it: integral unless written with digits after the point
    (`1e2` is 100, `2.50e1` is 25.0), as Haskell's Scientific keeps it."""
    value = Decimal(text)
    exponent = value.as_tuple().exponent
    return int(value) if isinstance(exponent, int) and exponent >= 0 else float(value)


def encode(value: Any) -> str:
    """Compact JSON as aeson writes it (keys sorted, only `"`, `\\` and control characters escaped)."""
    if isinstance(value, str):
        return _string(value)
    if isinstance(value, dict):
        return "{" + ",".join(f"{_string(k)}:{encode(value[k])}" for k in sorted(value)) + "}"
    if isinstance(value, list):
        return "[" + ",".join(encode(v) for v in value) + "]"
    if value is None or isinstance(value, bool):
        return {None: "null", True: "true", False: "false"}[value]
    if isinstance(value, float):
        return _float(value)
    return str(value)


_ESCAPES = {'"': '\\"', "\\": "\\\\", "\n": "\\n", "\r": "\\r", "\t": "\\t"}


def _string(text: str) -> str:
    out = ['"']
    for c in text:
        if c in _ESCAPES:
            out.append(_ESCAPES[c])
        elif c < " ":
            out.append(f"\\u{ord(c):04x}")
        else:
            out.append(c)
    out.append('"')
    return "".join(out)


def _float(x: float) -> str:
    """Scientific's `Generic` format: fixed for 0.1 <= |x| < 10^7, else `d.ddde<n>`."""
    if x != x or x in (float("inf"), float("-inf")):
        return "null"
    _, digits, exponent = Decimal(repr(abs(x))).normalize().as_tuple()
    text = "".join(map(str, digits)) or "0"
    assert isinstance(exponent, int)
    e = len(text) + exponent  # x = 0.<text> * 10^e
    if text == "0":
        body = "0.0"
    elif e < 0 or e > 7:
        body = f"{text[0]}.{text[1:] or '0'}e{e - 1}"
    elif e == 0:
        body = f"0.{text}"
    else:
        whole, frac = text[:e].ljust(e, "0"), text[e:]
        body = f"{whole}.{frac or '0'}"
    return ("-" if x < 0 else "") + body


def is_space(c: str) -> bool:
    """Haskell's `isSpace`: Latin-1 blanks, then Unicode's space separators (not Python's set)."""
    if c <= "\xff":
        return c in " \t\n\r\f\v\xa0"
    return unicodedata.category(c) == "Zs"


def strip(text: str) -> str:
    start, end = 0, len(text)
    while start < end and is_space(text[start]):
        start += 1
    while end > start and is_space(text[end - 1]):
        end -= 1
    return text[start:end]
