"""Kriti as Hasura runs it: the golden cases in tests/kriti/*.yaml (every syntax form, every
function, every kind of error with kriti's own position), evaluated with tests/kriti/source.json.

The expectations come from kriti-lang's sources and test suite and were checked against kriti-lang
itself; see the header of each YAML file for the format."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml

from metadata.kriti import KritiError, KritiEvalError, KritiParseError, parse, parse_text
from metadata.kriti import nodes as kriti_nodes
from metadata.kriti.functions import FUNCTIONS

CASES = Path(__file__).parent / "kriti"
BINDINGS: dict[str, Any] = json.loads((CASES / "source.json").read_text())
PARSE_CODES = {"Parse Error", "Lex Error"}


def _cases() -> Iterator[tuple[str, dict[str, Any]]]:
    for path in sorted(CASES.glob("*.yaml")):
        for case in yaml.safe_load(path.read_text()):
            yield path.stem, case


ALL = list(_cases())


def _json(value: Any) -> str:
    """Exact JSON, so that 1, 1.0 and true stay apart."""
    return json.dumps(value, sort_keys=True)


@pytest.mark.parametrize("case", [pytest.param(case, id=f"{file}: {case['name']}") for file, case in ALL])
def test_golden(case: dict[str, Any]) -> None:
    template = parse_text if case.get("text") else parse
    if "error" not in case:
        assert _json(template(case["template"]).render(BINDINGS)) == _json(case["output"])
        return
    expected = case["error"]
    with pytest.raises(KritiError) as caught:
        template(case["template"]).render(BINDINGS)
    start_line, start_column, end_line, end_column = expected["source_position"]
    assert caught.value.serialized() == {
        "error_code": expected["error_code"],
        "message": expected["message"],
        "source_position": {
            "start_line": start_line,
            "start_column": start_column,
            "end_line": end_line,
            "end_column": end_column,
        },
    }
    assert str(caught.value) == expected["shown"]
    phase = KritiParseError if expected["error_code"] in PARSE_CODES else KritiEvalError
    assert isinstance(caught.value, phase)


def test_a_template_that_parses_fails_only_when_rendered() -> None:
    """Hasura accepts a template whose functions or variables are unknown: they fail at run time."""
    template = parse("{{ nope($nope) }}")
    with pytest.raises(KritiEvalError):
        template.render({})


def test_every_function_is_in_the_golden_cases() -> None:
    templates = "\n".join(case["template"] for file, case in ALL if file == "functions")
    missing = [name for name in FUNCTIONS if not re.search(rf"\b{name}\b", templates)]
    assert missing == []


def _nodes(node: Any) -> Iterator[Any]:
    if isinstance(node, kriti_nodes.Node):
        yield node
        for value in vars(node).values():
            yield from _nodes(value)
    elif isinstance(node, list | tuple):
        for item in node:
            yield from _nodes(item)
    elif isinstance(node, dict):
        for item in node.values():
            yield from _nodes(item)


def test_every_syntax_form_is_in_the_golden_cases() -> None:
    """Each kind of node and each operator appears in a template that parses."""
    seen: list[Any] = []
    for _, case in ALL:
        try:
            root = (parse_text if case.get("text") else parse)(case["template"]).root
        except KritiParseError:
            continue
        seen.extend(_nodes(root))
    kinds = {type(node).__name__ for node in seen}
    forms = {cls.__name__ for cls in vars(kriti_nodes).values() if isinstance(cls, type)}
    forms = {name for name in forms if issubclass(getattr(kriti_nodes, name), kriti_nodes.Node)} - {"Node"}
    assert forms - kinds == set()
    operators = {node.op for node in seen if isinstance(node, kriti_nodes.BinOp)}
    assert operators == {"==", "!=", ">", "<", ">=", "<=", "&&", "||", "in", "??"}
    lookups = {(type(node).__name__, getattr(node, "dotted", None)) for node in seen}
    assert {("Field", True), ("Field", False), ("Optional", None)} <= lookups
