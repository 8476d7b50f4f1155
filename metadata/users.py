"""Users and their sessions, for Metabase's REST API, in the store's database.

Passwords are hashed with Argon2id (argon2-cffi, its default parameters); hashing and checking
run on a thread (~0.1 s of CPU each, by design) so the event loop never waits for them. An
unknown email is checked against a dummy hash, so a wrong email takes as long as a wrong
password. Session tokens are random UUIDs, as Metabase's; only their SHA-256 is stored. A known
session is checked from memory: the store is asked again after `RECHECK_SECONDS`, so a session
ended (or a user deactivated) on another server stops working there within that time, and at
once on the server that ended it.
"""

from __future__ import annotations

import asyncio
import hashlib
import time
import uuid
from dataclasses import dataclass, replace
from typing import Any

import argon2
import sqlalchemy as sa

from metadata import tables
from metadata.store import Store

RECHECK_SECONDS = 10.0
CACHED_SESSIONS = 100_000
U, S = tables.users.c, tables.sessions.c
_hasher = argon2.PasswordHasher()


def _digest(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


@dataclass(frozen=True)
class User:
    id: int
    email: str
    first_name: str | None
    last_name: str | None
    role: str | None  # None for a superuser
    is_superuser: bool
    is_active: bool
    created_at: float
    updated_at: float
    last_login: float | None


def _user(row: Any) -> User:
    return User(
        row.id, row.email, row.first_name, row.last_name, row.role, bool(row.is_superuser), bool(row.is_active),
        row.created_at, row.updated_at, row.last_login,
    )  # fmt: skip


_USER_COLUMNS = [U[name] for name in User.__dataclass_fields__]


class Users:
    def __init__(self, store: Store) -> None:
        self.engine = store.engine
        self._dummy: str | None = None

    async def create(
        self,
        email: str,
        password: str,
        first_name: str | None,
        last_name: str | None,
        role: str | None,
        is_superuser: bool,
    ) -> User | None:
        """The new user, or None when the email is taken."""
        hashed = await asyncio.to_thread(_hasher.hash, password)
        now = time.time()
        row: dict[str, Any] = {"email": email.lower(), "first_name": first_name, "last_name": last_name}
        row["password_hash"] = hashed
        row |= {"role": None if is_superuser else role, "is_superuser": is_superuser, "is_active": True}
        row |= {"created_at": now, "updated_at": now, "last_login": None}
        try:
            async with self.engine.begin() as conn:
                made = await conn.execute(tables.users.insert().values(**row).returning(*_USER_COLUMNS))
                return _user(made.one())
        except sa.exc.IntegrityError:
            return None

    async def get(self, user_id: int) -> User | None:
        async with self.engine.connect() as conn:
            row = (await conn.execute(sa.select(*_USER_COLUMNS).where(U.id == user_id))).first()
        return None if row is None else _user(row)

    async def all(self, include_inactive: bool = False) -> list[User]:
        query = sa.select(*_USER_COLUMNS).order_by(U.id)
        if not include_inactive:
            query = query.where(U.is_active.is_(True))
        async with self.engine.connect() as conn:
            return [_user(row) for row in (await conn.execute(query)).all()]

    async def update(self, user_id: int, password: str | None = None, **fields: Any) -> User | None:
        """The user with `fields` (and the password) changed; None when there is no such user, or
        the email is taken."""
        values = dict(fields)
        if password is not None:
            values["password_hash"] = await asyncio.to_thread(_hasher.hash, password)
        if "email" in values:
            values["email"] = values["email"].lower()
        values["updated_at"] = time.time()
        try:
            async with self.engine.begin() as conn:
                changed = await conn.execute(
                    sa.update(tables.users).where(U.id == user_id).values(**values).returning(*_USER_COLUMNS)
                )
                row = changed.first()
        except sa.exc.IntegrityError:
            return None
        return None if row is None else _user(row)

    async def signed_in(self, email: str, password: str) -> User | None:
        """The user with this email and password (an active one's last_login recorded), or None."""
        async with self.engine.connect() as conn:
            found = (
                await conn.execute(sa.select(*_USER_COLUMNS, U.password_hash).where(U.email == email.lower()))
            ).first()
        if found is None:
            # As long as a wrong password takes: no telling which emails have an account.
            if self._dummy is None:
                self._dummy = await asyncio.to_thread(_hasher.hash, uuid.uuid4().hex)
            await asyncio.to_thread(_verifies, self._dummy, password)
            return None
        if not await asyncio.to_thread(_verifies, found.password_hash, password):
            return None
        if not found.is_active:
            return _user(found)
        now = time.time()
        async with self.engine.begin() as conn:
            await conn.execute(sa.update(tables.users).where(U.id == found.id).values(last_login=now))
        return replace(_user(found), last_login=now)


def _verifies(hashed: str, password: str) -> bool:
    try:
        return _hasher.verify(hashed, password)
    except (argon2.exceptions.VerificationError, argon2.exceptions.InvalidHashError):
        return False


@dataclass
class _Known:
    user: User
    expires_at: float
    checked_at: float


class Sessions:
    def __init__(self, store: Store, max_age_seconds: float) -> None:
        self.engine = store.engine
        self.max_age = max_age_seconds
        self._known: dict[str, _Known] = {}

    async def create(self, user: User) -> str:
        token = str(uuid.uuid4())
        now = time.time()
        row = {"key_hash": _digest(token), "user_id": user.id, "created_at": now, "expires_at": now + self.max_age}
        async with self.engine.begin() as conn:
            await conn.execute(tables.sessions.insert().values(**row))
        return token

    async def user(self, token: str) -> User | None:
        """The active user whose unexpired session `token` is, or None."""
        digest = _digest(token)
        now = time.time()
        known = self._known.get(digest)
        if known is None or now - known.checked_at >= RECHECK_SECONDS:
            known = await self._check(digest, now)
        if known is None or known.expires_at <= now:
            return None
        return known.user

    async def _check(self, digest: str, now: float) -> _Known | None:
        query = (
            sa.select(*_USER_COLUMNS, S.expires_at)
            .select_from(tables.sessions.join(tables.users, U.id == S.user_id))
            .where(S.key_hash == digest, U.is_active.is_(True))
        )
        async with self.engine.connect() as conn:
            row = (await conn.execute(query)).first()
        if row is None:
            self._known.pop(digest, None)
            return None
        if len(self._known) >= CACHED_SESSIONS:
            del self._known[next(iter(self._known))]
        known = self._known[digest] = _Known(_user(row), row.expires_at, now)
        return known

    async def end(self, token: str) -> bool:
        digest = _digest(token)
        self._known.pop(digest, None)
        async with self.engine.begin() as conn:
            done = await conn.execute(tables.sessions.delete().where(S.key_hash == digest))
        return bool(done.rowcount)

    async def end_all(self, user_id: int) -> None:
        """End every session of a user (deactivated)."""
        for digest in [d for d, known in self._known.items() if known.user.id == user_id]:
            del self._known[digest]
        async with self.engine.begin() as conn:
            await conn.execute(tables.sessions.delete().where(S.user_id == user_id))

    def forget(self, user_id: int) -> None:
        """Check this user's sessions against the store again (the user was changed)."""
        for known in self._known.values():
            if known.user.id == user_id:
                known.checked_at = 0.0

    async def delete_expired(self) -> int:
        async with self.engine.begin() as conn:
            done = await conn.execute(tables.sessions.delete().where(S.expires_at < time.time()))
        return int(done.rowcount)
