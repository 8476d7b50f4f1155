"""get_action_signature: what a caller needs to build an action's input, and its GraphQL form.

get_action_signature {name}: {name, type, kind, arguments, output_type, types, sdl} for any role
that may run the action (run_action's check: to others it does not exist). `arguments` are those
run_action checks input against: the declared ones, or a table action's derived from its table.
`types` holds the custom types the arguments and the output type use, directly or through
fields ({input_objects?, objects?, scalars?, enums?}, export's shape); `sdl` is the action as a
field of `type Mutation` or `type Query`, followed by those types, as actions.graphql writes them.
An action without an output type (a sql or table action may have none) is no GraphQL field:
its `sdl` holds only the types.

Errors: not-exists (unknown or not permitted action); for a table action whose arguments are
derived, those of reading its table (not-exists, 502 when its source cannot be reached).
"""

from __future__ import annotations

from typing import Any

import msgspec

from handlers.context import Context
from handlers.execution.executors import executor
from handlers.execution.run_action import runnable
from metadata.custom_types import SECTION_OF_KIND, TYPE_KINDS
from metadata.graphql_types import parse_graphql_type
from metadata.objects import View
from metadata.sdl import ROOTS, field_node, print_sdl
from metadata.strict import Strict

_ROOT_OF = {action_type: root for root, action_type in ROOTS.items()}


class GetActionSignature(Strict):
    name: str


def used_types(view: View, roots: list[str]) -> dict[str, list[Any]]:
    """The custom types `roots` (type strings) reach, in export's shape, each section by name."""
    found: dict[str, tuple[str, Any]] = {}
    pending = [parse_graphql_type(text).base for text in roots]
    while pending:
        name = pending.pop()
        if name in found:
            continue
        for kind in TYPE_KINDS:
            declared = view.get(kind, name)
            if declared is not None:
                found[name] = (kind, declared)
                pending.extend(parse_graphql_type(f.type).base for f in getattr(declared, "fields", ()))
                break
    types: dict[str, list[Any]] = {}
    for name in sorted(found):
        kind, declared = found[name]
        types.setdefault(SECTION_OF_KIND[kind], []).append(msgspec.to_builtins(declared))
    return {section: types[section] for section in SECTION_OF_KIND.values() if section in types}


async def get_action_signature(ctx: Context, args: GetActionSignature) -> dict[str, Any]:
    runtime = ctx.runtime
    declared = await runnable(runtime, ctx.session, args.name)
    view = runtime.store.state
    runner = executor(declared)
    action = declared if runner.signature is None else await runner.signature(runtime, declared, view)
    definition = action.definition
    arguments = msgspec.to_builtins(definition.arguments)
    output = definition.output_type
    types = used_types(view, [a.type for a in definition.arguments] + ([output] if output else []))
    roots: dict[str, list[Any]] = {root: [] for root in ROOTS}
    if output is not None:
        roots[_ROOT_OF[definition.type]].append(field_node({"name": action.name, "type": output}, arguments))
    return {
        "name": action.name,
        "type": definition.type,
        "kind": definition.kind,
        "arguments": arguments,
        "output_type": output,
        "types": types,
        "sdl": print_sdl(roots, types),
    }
