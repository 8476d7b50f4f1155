"""Reading metadata files: JSON with msgspec, YAML with libyaml's parser.

Both are several times faster than PyYAML's pure-Python loader (which also reads JSON, JSON being
YAML) on a project of thousands of actions, and this module imports neither GraphQL nor the store,
so a command that only sends a file to the server starts fast.
"""

from __future__ import annotations

from typing import Any

import msgspec
import yaml

# PyYAML's wheels carry libyaml; a build without it falls back to the pure-Python loader.
_YAML_LOADER = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


class FileFormatError(ValueError):
    """Text that is not valid JSON or YAML; the message says where."""


def parse_json(data: bytes | str) -> Any:
    try:
        return msgspec.json.decode(data)
    except msgspec.DecodeError as exc:
        raise FileFormatError(f"invalid JSON: {exc}") from None


def parse_yaml(text: bytes | str) -> Any:
    try:
        return yaml.load(text, Loader=_YAML_LOADER)
    except yaml.YAMLError as exc:
        raise FileFormatError(f"invalid YAML: {exc}") from None


def parse_file(data: bytes, suffix: str) -> Any:
    """A `.json` file as JSON, a `.yaml`/`.yml` file as YAML; anything else (stdin) as JSON when it
    is, else as YAML."""
    if suffix.lower() == ".json":
        return parse_json(data)
    if suffix.lower() not in (".yaml", ".yml"):
        try:
            return parse_json(data)
        except FileFormatError:
            pass
    return parse_yaml(data)
