"""API keys in the store's database: created (the key is answered once), listed, revoked, and
looked up by the hash of the key a caller sends.

A key is `sb_` and 43 URL-safe characters (256 random bits). Only its SHA-256 is stored: a key
that long needs no slow hash to resist guessing, and one indexed lookup keeps authentication
cheap. The first characters are kept too, so a person can tell keys apart in a list.
"""

from __future__ import annotations

import hashlib
import secrets
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import sqlalchemy as sa

from metadata import tables
from metadata.store import Store

PREFIX = "sb_"
SHOWN = 10  # characters of a key kept to tell it apart
TOUCH_EVERY_SECONDS = 60.0  # how stale `last_used_at` may be (a write per use would be too many)
K = tables.api_keys.c


def _hash(key: str) -> str:
    return hashlib.sha256(key.encode()).hexdigest()


def _iso(ts: float | None) -> str | None:
    if ts is None:
        return None
    return datetime.fromtimestamp(ts, UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


@dataclass(frozen=True)
class ApiKey:
    name: str
    role: str
    prefix: str
    created_at: float
    expires_at: float | None
    last_used_at: float | None
    hash: str = ""  # the key's SHA-256: what tells one key from another made later with its name

    def expired(self, now: float) -> bool:
        return self.expires_at is not None and self.expires_at <= now

    def listing(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "role": self.role,
            "key_prefix": self.prefix,
            "created_at": _iso(self.created_at),
            "expires_at": _iso(self.expires_at),
            "last_used_at": _iso(self.last_used_at),
            "expired": self.expired(time.time()),
        }


def _key(row: Any) -> ApiKey:
    return ApiKey(row.name, row.role, row.prefix, row.created_at, row.expires_at, row.last_used_at, row.key_hash)


class ApiKeys:
    def __init__(self, store: Store) -> None:
        self.engine = store.engine
        self._touched: dict[str, float] = {}  # name -> when this process last recorded a use

    async def create(self, name: str, role: str, expires_at: float | None) -> tuple[str, ApiKey] | None:
        """A new key and its record, or None when the name is taken."""
        key = PREFIX + secrets.token_urlsafe(32)
        record = ApiKey(name, role, key[:SHOWN], time.time(), expires_at, None)
        row: dict[str, Any] = {"name": name, "role": role, "key_hash": _hash(key), "prefix": record.prefix}
        row |= {"created_at": record.created_at, "expires_at": expires_at, "last_used_at": None}
        try:
            async with self.engine.begin() as conn:
                await conn.execute(tables.api_keys.insert().values(**row))
        except sa.exc.IntegrityError:  # the name is taken (the key's hash cannot collide)
            return None
        return key, record

    async def all(self) -> list[ApiKey]:
        async with self.engine.connect() as conn:
            rows = (await conn.execute(sa.select(tables.api_keys).order_by(K.name))).all()
        return [_key(row) for row in rows]

    async def revoke(self, name: str) -> bool:
        async with self.engine.begin() as conn:
            done = await conn.execute(tables.api_keys.delete().where(K.name == name))
        self._touched.pop(name, None)
        return bool(done.rowcount)

    async def existing(self, hashes: set[str]) -> set[str]:
        """Those of the keys (by hash) that have not been revoked, on any server."""
        async with self.engine.connect() as conn:
            found = await conn.execute(sa.select(K.key_hash).where(K.key_hash.in_(sorted(hashes))))
        return set(found.scalars())

    async def find(self, key: str) -> ApiKey | None:
        """The key's record (expired or not), recording its use at most once a minute."""
        if not key.startswith(PREFIX):
            return None
        async with self.engine.connect() as conn:
            row = (await conn.execute(sa.select(tables.api_keys).where(K.key_hash == _hash(key)))).first()
        if row is None:
            return None
        record = _key(row)
        now = time.time()
        # The row just read says when any process last recorded a use: the workers of one server,
        # and servers sharing the store, write at most about once a minute between them, and
        # never move the time back (a slower writer's older `now` does not replace a newer one).
        last = max(self._touched.get(record.name, 0.0), record.last_used_at or 0.0)
        if now - last >= TOUCH_EVERY_SECONDS:
            self._touched[record.name] = now
            used = sa.or_(K.last_used_at.is_(None), K.last_used_at < now)
            async with self.engine.begin() as conn:
                await conn.execute(
                    sa.update(tables.api_keys).where(K.name == record.name, used).values(last_used_at=now)
                )
        return record
