"""The base of every payload Struct."""

from typing import Annotated

import msgspec


class Strict(msgspec.Struct, forbid_unknown_fields=True, omit_defaults=True, kw_only=True):
    """Unknown fields are refused; defaults are not written back; fields in any order."""


# Numbers the store keeps in 32-bit integer columns (versions) or passes to LIMIT/OFFSET: a
# larger value is refused as bad input (parse-failed, naming the field) before any database sees it.
StoredInt = Annotated[int, msgspec.Meta(ge=0, le=2**31 - 1)]
