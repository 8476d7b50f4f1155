"""What changed between two versions, object by object."""

from __future__ import annotations

from typing import Any

import msgspec

from metadata.data_sources import masked_body
from metadata.objects import Changes, Draft, Item, State


def describe(base: State, changes: Changes) -> dict[str, list[dict[str, Any]]]:
    """`changes` (effective, over `base`) as added / removed / changed objects, sorted; passwords in
    data source URLs shown as ***."""
    out: dict[str, list[dict[str, Any]]] = {"added": [], "removed": [], "changed": []}
    for key in sorted(changes):
        kind, name = key
        before, after = base.item(key), changes[key]
        if after is None:
            assert before is not None
            out["removed"].append({"type": kind, "name": name, "definition": _shown(kind, before)})
        elif before is None:
            out["added"].append({"type": kind, "name": name, "definition": _shown(kind, after)})
        else:
            out["changed"].append({"type": kind, "name": name, "from": _shown(kind, before), "to": _shown(kind, after)})
    return out


def _shown(kind: str, item: Item) -> msgspec.Raw:
    return msgspec.Raw(masked_body(item.body) if kind == "source" else item.body)


def between(old: State, new: State) -> dict[str, list[dict[str, Any]]]:
    draft = Draft(old)
    draft.replace(new.all_items())
    return describe(old, draft.effective())
