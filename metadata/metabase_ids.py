"""The integer ids Metabase's API names objects by, for Switchboard's named objects.

An object (kind, name) gets an id the first time Metabase's API shows it: a row of the store,
kept for good, so an id is stable, the same on every server sharing the store, and never reused
(an object dropped and made again under its name gets its id back). Ids are kept in memory once
read; an id this server has not seen yet is looked up in the store (another server may have
assigned it).
"""

from __future__ import annotations

from collections.abc import Iterable

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql, sqlite

from metadata import tables
from metadata.store import Store

M = tables.metabase_ids.c
MAX_ID = 2**31 - 1


class MetabaseIds:
    def __init__(self, store: Store) -> None:
        self.store = store
        self._ids: dict[tuple[str, str], int] = {}
        self._names: dict[int, tuple[str, str]] = {}

    def _keep(self, kind: str, name: str, ident: int) -> None:
        self._ids[(kind, name)] = ident
        self._names[ident] = (kind, name)

    async def ids(self, kind: str, names: Iterable[str]) -> dict[str, int]:
        """The id of each named object of `kind`, made for those that have none yet."""
        wanted = list(dict.fromkeys(names))
        missing = [name for name in wanted if (kind, name) not in self._ids]
        if missing:
            insert = (sqlite.insert if self.store.is_sqlite else postgresql.insert)(tables.metabase_ids)
            async with self.store.engine.begin() as conn:
                for start in range(0, len(missing), 500):
                    chunk = missing[start : start + 500]
                    await conn.execute(insert.on_conflict_do_nothing(), [{"kind": kind, "name": n} for n in chunk])
                    rows = await conn.execute(sa.select(M.id, M.name).where(M.kind == kind, M.name.in_(chunk)))
                    for ident, name in rows.all():
                        self._keep(kind, name, ident)
        return {name: self._ids[(kind, name)] for name in wanted}

    async def id(self, kind: str, name: str) -> int:
        return (await self.ids(kind, [name]))[name]

    async def name(self, kind: str, ident: int) -> str | None:
        """The name of the object of `kind` with this id, or None."""
        if not 0 < ident <= MAX_ID:  # the store's ids are 32-bit: no query for what names nothing
            return None
        found = self._names.get(ident)
        if found is None:
            async with self.store.engine.connect() as conn:
                row = (await conn.execute(sa.select(M.kind, M.name).where(M.id == ident))).first()
            if row is None:
                return None
            self._keep(row.kind, row.name, ident)
            found = (row.kind, row.name)
        return found[1] if found[0] == kind else None
