"""What changed between two versions, object by object."""

from __future__ import annotations

from typing import Any

import msgspec

from metadata.objects import Changes, Draft, State


def describe(base: State, changes: Changes) -> dict[str, list[dict[str, Any]]]:
    """`changes` (effective, over `base`) as added / removed / changed objects, sorted."""
    out: dict[str, list[dict[str, Any]]] = {"added": [], "removed": [], "changed": []}
    for key in sorted(changes):
        kind, name = key
        before, after = base.item(key), changes[key]
        if after is None:
            assert before is not None
            out["removed"].append({"type": kind, "name": name, "definition": msgspec.Raw(before.body)})
        elif before is None:
            out["added"].append({"type": kind, "name": name, "definition": msgspec.Raw(after.body)})
        else:
            out["changed"].append(
                {"type": kind, "name": name, "from": msgspec.Raw(before.body), "to": msgspec.Raw(after.body)}
            )
    return out


def between(old: State, new: State) -> dict[str, list[dict[str, Any]]]:
    draft = Draft(old)
    draft.replace(new.all_items())
    return describe(old, draft.effective())
