"""The base of every payload Struct."""

import msgspec


class Strict(msgspec.Struct, forbid_unknown_fields=True, omit_defaults=True, kw_only=True):
    """Unknown fields are refused; defaults are not written back; fields in any order."""
