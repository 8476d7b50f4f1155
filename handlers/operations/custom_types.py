"""set_custom_types {objects?, input_objects?, scalars?, enums?}: replaces all custom types.

Refused: duplicate type names, unknown field types, object types as input object fields (and
input objects as object fields), duplicate fields or enum values (validation-failed, with the
path of the offending entry); and any change that would leave an action referring to a type
that no longer fits (400 unexpected, "cannot continue due to new inconsistent metadata", the
actions listed in `internal`).
"""

from __future__ import annotations

from handlers.context import Context
from metadata.custom_types import TYPE_KINDS, CustomTypes
from metadata.document import custom_type_items

__all__ = ["CustomTypes", "set_custom_types"]


async def set_custom_types(ctx: Context, args: CustomTypes) -> None:
    draft = ctx.changing
    items = custom_type_items(args)
    for kind in TYPE_KINDS:
        for name, _ in list(draft.items(kind)):
            draft.delete(kind, name)
    draft.update(items)
