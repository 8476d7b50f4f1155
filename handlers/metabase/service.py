"""What Metabase's API keeps while the server runs, and who is calling.

A caller is a signed-in user (a session token) or an API key (Switchboard's own keys). A
superuser, or an admin key, is Switchboard's admin; any other user acts as its Switchboard role,
with its id as X-Hasura-User-Id, so the existing action permissions decide what it may run.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from handlers.context import ADMIN_ROLE, Runtime, Session
from handlers.metabase.errors import Forbidden, Unauthenticated
from handlers.metabase.throttle import Throttle
from metadata.metabase_ids import MetabaseIds
from metadata.users import Sessions, User

DEFAULT_ROLE = "user"  # of a user created without a switchboard_role


@dataclass(frozen=True)
class Caller:
    session: Session  # as Switchboard's run path sees the caller
    user: User | None  # None: an API key
    key_name: str | None = None

    @property
    def superuser(self) -> bool:
        return self.session.is_admin

    def must_be_superuser(self) -> None:
        if not self.superuser:
            raise Forbidden()


def session_of(user: User) -> Session:
    role = ADMIN_ROLE if user.is_superuser else user.role or DEFAULT_ROLE
    return Session(role=role, variables={"x-hasura-role": role, "x-hasura-user-id": str(user.id)})


def iso(moment: float | None) -> str | None:
    if moment is None:
        return None
    return datetime.fromtimestamp(moment, UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def now_iso() -> str:
    return iso(time.time()) or ""


class Metabase:
    def __init__(self, runtime: Runtime, max_session_minutes: float, public_sharing: bool) -> None:
        self.runtime = runtime
        self.users = runtime.users
        self.sessions = Sessions(runtime.store, max_session_minutes * 60)
        self.ids = MetabaseIds(runtime.store)
        self.public_sharing = public_sharing
        # Metabase's sign-in throttles: 10 failures per username, 50 per client address, an hour.
        self.by_username, self.by_address = Throttle(10), Throttle(50)

    async def caller(self, token: str | None, api_key: str | None) -> Caller:
        """The caller of a session token or an API key; 401 Unauthenticated for neither."""
        if token:
            user = await self.sessions.user(token)
            if user is not None:
                return Caller(session_of(user), user)
        if api_key:
            key = await self.runtime.api_keys.find(api_key)
            if key is not None and not key.expired(time.time()):
                session = Session(role=key.role, variables={"x-hasura-role": key.role}, api_key=key.hash)
                return Caller(session, None, key.name)
        raise Unauthenticated()


def user_json(user: User) -> dict[str, Any]:
    """A user as Metabase shows one (its admin-or-self columns), with its Switchboard role."""
    names = " ".join(n for n in (user.first_name, user.last_name) if n)
    return {
        "id": user.id,
        "email": user.email,
        "first_name": user.first_name,
        "last_name": user.last_name,
        "common_name": names or user.email,
        "date_joined": iso(user.created_at),
        "last_login": iso(user.last_login),
        "updated_at": iso(user.updated_at),
        "is_superuser": user.is_superuser,
        "is_active": user.is_active,
        "is_qbnewb": False,
        "sso_source": None,
        "login_attributes": None,
        "locale": None,
        "personal_collection_id": None,
        "group_ids": [1, 2] if user.is_superuser else [1],  # All Users, and Administrators
        "switchboard_role": ADMIN_ROLE if user.is_superuser else user.role or DEFAULT_ROLE,
    }


def key_user_json(caller: Caller) -> dict[str, Any]:
    """The user an API key acts as (Metabase gives each key a user of its own)."""
    return {
        "id": None,
        "email": None,
        "first_name": caller.key_name,
        "last_name": None,
        "common_name": f"API key {caller.key_name}",
        "is_superuser": caller.superuser,
        "is_active": True,
        "is_qbnewb": False,
        "group_ids": [1, 2] if caller.superuser else [1],
        "switchboard_role": caller.session.role,
    }
