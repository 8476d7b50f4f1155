"""bulk_keep_going [envelope, ...]: runs the envelopes in order, each on its own; one that fails
does not stop the others.

As Hasura's: the answer is the list of the envelopes' answers, a failed envelope's answer being
its error, `{path, error, code}` (and `internal` where there is detail), in its place; the request
itself succeeds (200) however many envelopes failed. A failed envelope changes nothing: whatever
it had changed is undone before the next one runs. The changes of those that succeeded apply as
one new version (none when nothing changed), which their answers carry. An error's path names
its envelope (`$.args[i]`, `$.args[i].type`, `$.args[i].args.name`), as inside `bulk`.
Each envelope is checked for consistency as it runs; a `resource_version` on one must match the
version the request started from (else that envelope's answer is the 409 conflict). Operations
acting outside the metadata (runs, API keys, the catalog state) are refused, envelope by envelope,
with parse-failed at `$.args[i].type`, as in `bulk`. Errors of the request as a whole (args
that are not a list, a non-admin caller) are its own 400, as for `bulk`.
"""

from __future__ import annotations

from typing import Any

import msgspec

from handlers.context import Context
from metadata.errors import SwitchboardError


def _answer(exc: SwitchboardError) -> dict[str, Any]:
    """A failed envelope's answer: the error as it would be rendered on its own (an admin's)."""
    body: dict[str, Any] = {"path": exc.path, "error": exc.message, "code": exc.code}
    if exc.extensions is not None:
        body["extensions"] = exc.extensions
    if exc.internal is not None:
        body["internal"] = exc.internal
    return body


async def bulk_keep_going(ctx: Context, args: list[msgspec.Raw]) -> list[Any]:
    assert ctx.nested is not None
    draft = ctx.changing
    results: list[Any] = []
    for i, envelope in enumerate(args):
        before = draft.copy()
        try:
            results.append(await ctx.nested(ctx, envelope))
        except SwitchboardError as exc:
            draft.changes, draft.cleared_actions = before.changes, before.cleared_actions  # undo it
            results.append(_answer(exc.within(f"$.args[{i}]")))
    draft.allow_inconsistent = True  # each envelope was checked as it ran
    return results
