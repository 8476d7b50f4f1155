"""Decode JSON into typed Structs, turning msgspec's complaints into `parse-failed` errors with a path."""

from __future__ import annotations

import re
from typing import Any, TypeVar

import msgspec

from metadata.errors import InvalidJson, ParseFailed
from metadata.strict import NO_NUL

T = TypeVar("T")

_AT = re.compile(r"(.*) - at `(\$.*)`\Z", re.DOTALL)
_WORDING = [
    (re.compile(r"Object missing required field `(.*)`\Z"), r'key "\1" not found'),
    (re.compile(r"Object contains unknown field `(.*)`\Z"), r'unknown field "\1"'),
    (re.compile(r"Expected `str` of length >= 1\Z"), "empty string not allowed"),
    (re.compile(f"Expected `str` matching regex {re.escape(repr(NO_NUL))}\\Z"), "NUL characters are not allowed"),
]


def parse_error(exc: msgspec.MsgspecError) -> ParseFailed:
    text = str(exc)
    match = _AT.match(text)
    message, path = (match.group(1), match.group(2)) if match else (text, "$")
    for pattern, wording in _WORDING:
        message = pattern.sub(wording, message)
    return ParseFailed(message, path)


TOO_DEEP = "JSON nested too deeply"


def decode(decoder: msgspec.json.Decoder[T], raw: bytes | msgspec.Raw) -> T:
    try:
        return decoder.decode(raw)
    except msgspec.ValidationError as exc:
        raise parse_error(exc) from None
    except msgspec.DecodeError as exc:
        raise InvalidJson(str(exc)) from None
    except RecursionError:
        # msgspec decodes nested arrays and objects recursively: a body of a few kB of `[` reaches
        # the interpreter's recursion limit. That is bad input, whoever sends it.
        raise InvalidJson(TOO_DEEP) from None


def convert(value: Any, type_: type[T]) -> T:
    """Typed conversion of already-decoded data (YAML, env vars), with the same error wording."""
    try:
        return msgspec.convert(value, type_, strict=False)
    except msgspec.ValidationError as exc:
        raise parse_error(exc) from None
