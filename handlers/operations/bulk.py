"""bulk and bulk_atomic [envelope, ...]: run the envelopes in order on one draft, atomically.

All of them apply as one new version, or none does. An error names its envelope: `$.args[i]`
(`$.args[i].args.name` inside its args). A `resource_version` on an inner envelope must match the
version the bulk started from. Reads inside a bulk (export_metadata, ...) see that version too,
not the bulk's pending changes. Operations acting outside the metadata (runs, API keys, catalog
state: `in_bulk=False` in the registry) are refused with parse-failed at `$.args[i].type`, as a
refused bulk could not undo them.

bulk answers the list of the envelopes' answers, each envelope's changes checked as it runs.
bulk_atomic (Hasura's name for it) answers Hasura's one `{"message": "success"}` (with the
resource_version), and checks consistency once, when every envelope has run: an envelope may
leave an object inconsistent for a later one to mend (drop a type and add its replacement, retype
an action), as long as the end result is consistent; else 400 unexpected, "cannot continue due to
new inconsistent metadata", with the objects in `internal`. An envelope's own refusals (an
unknown name, a type that does not resolve in a create_action) still fail the whole bulk.
"""

from __future__ import annotations

from dataclasses import replace
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


async def bulk_atomic(ctx: Context, args: list[msgspec.Raw]) -> None:
    assert ctx.nested is not None
    deferred = replace(ctx, deferred=True)
    for i, envelope in enumerate(args):
        with rooted(f"$[{i}]"):
            await ctx.nested(deferred, envelope)
    # Checked now, all envelopes together, by the runner (an inner replace_metadata may have
    # allowed its own inconsistencies: not those of an atomic whole).
    ctx.changing.allow_inconsistent = False
