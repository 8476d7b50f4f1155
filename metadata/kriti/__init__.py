"""Hasura's Kriti template language, as kriti-lang parses and evaluates it: the lexer
(lexer.py), the parser (parser.py) into nodes (nodes.py) evaluated over JSON values
(values.py) with kriti's functions (functions.py), and kriti's errors (errors.py).
Request and response transforms use it through `parse`, `parse_text` and `render_text`."""

from metadata.kriti.errors import KritiError, KritiEvalError, KritiParseError
from metadata.kriti.parser import Template, parse, parse_text, render_text

__all__ = ["KritiError", "KritiEvalError", "KritiParseError", "Template", "parse", "parse_text", "render_text"]
