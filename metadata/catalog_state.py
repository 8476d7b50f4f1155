"""Hasura's catalog state in the store's database (metadata/tables.py `catalog_state`): the store's
id, made the first time it is asked for, and the `cli` and `console` states, each one JSON value
replaced whole by its writer. Every server on the store sees the same rows."""

from __future__ import annotations

import uuid

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql, sqlite

from metadata import tables
from metadata.store import Store

C = tables.catalog_state.c
ID = "id"
EMPTY = b"{}"  # a state never written, as Hasura's column default


class CatalogState:
    def __init__(self, store: Store) -> None:
        self.engine = store.engine
        self._upsert = (sqlite.insert if store.is_sqlite else postgresql.insert)(tables.catalog_state)

    async def read(self) -> tuple[str, dict[str, bytes]]:
        """The store's id, and the states written so far (JSON) by their type."""
        async with self.engine.connect() as conn:
            rows = {name: body for name, body in (await conn.execute(sa.select(C.name, C.body))).all()}
        if ID not in rows:  # the first ask: every server racing here keeps the first id written
            async with self.engine.begin() as conn:
                await conn.execute(self._upsert.values(name=ID, body=str(uuid.uuid4())).on_conflict_do_nothing())
            return await self.read()
        store_id = rows.pop(ID)
        return store_id, {name: body.encode() for name, body in rows.items()}

    async def write(self, type_: str, state: bytes) -> None:
        """Replace the state of `type_` (`cli` or `console`) with `state`, JSON text."""
        statement = self._upsert.values(name=type_, body=state.decode())
        async with self.engine.begin() as conn:
            await conn.execute(statement.on_conflict_do_update(index_elements=[C.name], set_={"body": state.decode()}))
