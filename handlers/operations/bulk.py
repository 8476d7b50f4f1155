"""bulk [envelope, ...]: runs the envelopes in order on one draft, atomically.

All of them apply as one new version, or none does. The answer is the list of their answers.
An error names its envelope: `$.args[i]` (`$.args[i].args.name` inside its args). A
`resource_version` on an inner envelope must match the version the bulk started from. Reads
inside a bulk (export_metadata, ...) see that version too, not the bulk's pending changes.
Operations acting outside the metadata (runs, API keys: `in_bulk=False` in the registry) are
refused with parse-failed at `$.args[i].type`, as a refused bulk could not undo them.
"""

from __future__ import annotations

from typing import Any

import msgspec

from handlers.context import Context
from metadata.errors import rooted


async def bulk(ctx: Context, args: list[msgspec.Raw]) -> list[Any]:
    assert ctx.nested is not None
    results = []
    for i, envelope in enumerate(args):
        with rooted(f"$[{i}]"):
            results.append(await ctx.nested(ctx, envelope))
    ctx.changing.allow_inconsistent = True  # each envelope was checked as it ran
    return results
