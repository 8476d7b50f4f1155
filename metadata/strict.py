"""The base of every payload Struct."""

from typing import Annotated

import msgspec


class Strict(msgspec.Struct, forbid_unknown_fields=True, omit_defaults=True, kw_only=True):
    """Unknown fields are refused; defaults are not written back; fields in any order."""


# Numbers the store keeps in 32-bit integer columns (versions) or passes to LIMIT/OFFSET: a
# larger value is refused as bad input (parse-failed, naming the field) before any database sees it.
StoredInt = Annotated[int, msgspec.Meta(ge=0, le=2**31 - 1)]
# Text the store keeps in, or looks up by, a column of its own (a name, an id): PostgreSQL's text
# cannot hold a NUL character, so one is refused as bad input, naming the field, on every backend.
NO_NUL = r"^[^\x00]*$"
StoredText = Annotated[str, msgspec.Meta(pattern=NO_NUL)]
# Names the store keys its rows by (actions, custom types, sources, API keys): PostgreSQL's index
# holds at most ~2.7 kB a row, so a longer name would fail the write.
MAX_NAME = 512
StoredName = Annotated[str, msgspec.Meta(pattern=NO_NUL, max_length=MAX_NAME)]
