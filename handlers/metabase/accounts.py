"""Sessions and users: POST/DELETE /api/session, GET /api/user/current, /api/user[/:id].

POST /api/session {username, password}: {"id": <token>}; wrong credentials 401
{"errors": {"password": "did not match stored password"}}, a deactivated user 401
{"errors": {"_error": "Your account is disabled."}}; after 10 failures for one username or 50
from one client address within an hour, 401 {"errors": {"username": "Too many attempts! ..."}}.
DELETE /api/session: 204, or 404 without a session. Users (superusers only, but for reading and
changing one's own): POST /api/user {email, password, first_name?, last_name?, is_superuser?,
switchboard_role?}, GET /api/user {data, total, limit, offset} (?status=active|deactivated|all),
GET/PUT /api/user/:id, DELETE /api/user/:id (deactivates: {"success": true}).
"""

from __future__ import annotations

import re
from typing import Any

from handlers.metabase.errors import Forbidden, Invalid, NotFound
from handlers.metabase.payloads import Login, NewUser, UserChange, decode, non_blank
from handlers.metabase.service import Caller, Metabase, key_user_json, user_json
from handlers.operations.users import password_problem
from metadata.users import User

_EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")


async def login(mb: Metabase, body: bytes, address: str) -> tuple[dict[str, Any], str]:
    """The answer and the new session's token."""
    given = decode(Login, body)
    non_blank(username=given.username, password=given.password)
    username = given.username.strip().lower()
    for throttle, key in ((mb.by_address, address), (mb.by_username, username)):
        refused = throttle.refusal(key)
        if refused is not None:
            raise Invalid({"username": refused}, status=401)
    user = await mb.users.signed_in(username, given.password)
    if user is None:
        mb.by_address.failed(address)
        mb.by_username.failed(username)
        raise Invalid({"password": "did not match stored password"}, status=401)
    if not user.is_active:
        raise Invalid({"_error": "Your account is disabled."}, status=401)
    token = await mb.sessions.create(user)
    return {"id": token}, token


async def logout(mb: Metabase, token: str | None) -> None:
    if not token or not await mb.sessions.end(token):
        raise NotFound()


def current(caller: Caller) -> dict[str, Any]:
    return user_json(caller.user) if caller.user is not None else key_user_json(caller)


def _role(role: str | None) -> str | None:
    if role is not None and (not role.strip() or len(role) > 512 or "\x00" in role):
        raise Invalid({"switchboard_role": "value must be a non-blank string."})
    return role


async def create_user(mb: Metabase, caller: Caller, body: bytes) -> dict[str, Any]:
    caller.must_be_superuser()
    given = decode(NewUser, body)
    non_blank(first_name=given.first_name, last_name=given.last_name)
    if not _EMAIL.match(given.email) or len(given.email) > 254:
        raise Invalid({"email": "value must be a valid email address."})
    if given.password is None:  # Metabase would email an invitation; Switchboard sends no mail
        raise Invalid({"password": "value must be a non-blank string."})
    problem = password_problem(given.password)
    if problem:
        raise Invalid({"password": problem})
    role = _role(given.switchboard_role)
    made = await mb.users.create(
        given.email, given.password, given.first_name, given.last_name, role, given.is_superuser
    )
    if made is None:
        raise Invalid({"email": "Email address already in use."})
    return {**user_json(made), "user_group_memberships": _groups(made)}


def _groups(user: User) -> list[dict[str, int]]:
    return [{"id": 1}, {"id": 2}] if user.is_superuser else [{"id": 1}]


async def list_users(mb: Metabase, caller: Caller, query: dict[str, str]) -> dict[str, Any]:
    caller.must_be_superuser()
    status = query.get("status") or ("all" if query.get("include_deactivated") == "true" else "active")
    users = await mb.users.all(include_inactive=status != "active")
    if status == "deactivated":
        users = [u for u in users if not u.is_active]
    users.sort(key=lambda u: ((u.first_name or "").lower(), (u.last_name or "").lower(), u.id))
    total = len(users)
    limit, offset = _int(query.get("limit")), _int(query.get("offset"))
    if offset is not None:
        users = users[offset:]
    if limit is not None:
        users = users[:limit]
    return {"data": [user_json(u) for u in users], "total": total, "limit": limit, "offset": offset}


def _int(text: str | None) -> int | None:
    if text is None:
        return None
    if not text.isdigit():
        raise Invalid({"limit": "value must be an integer greater than zero."})
    return int(text)


async def _visible(mb: Metabase, caller: Caller, user_id: int) -> User:
    """The user, to a superuser or to itself."""
    if not caller.superuser and (caller.user is None or caller.user.id != user_id):
        raise Forbidden()
    user = await mb.users.get(user_id)
    if user is None:
        raise NotFound()
    return user


async def get_user(mb: Metabase, caller: Caller, user_id: int) -> dict[str, Any]:
    user = await _visible(mb, caller, user_id)
    return {**user_json(user), "user_group_memberships": _groups(user)}


async def update_user(mb: Metabase, caller: Caller, user_id: int, body: bytes) -> dict[str, Any]:
    user = await _visible(mb, caller, user_id)
    if not user.is_active:
        raise NotFound()
    given = decode(UserChange, body)
    non_blank(first_name=given.first_name, last_name=given.last_name)
    changes: dict[str, Any] = {
        name: getattr(given, name) for name in ("email", "first_name", "last_name") if getattr(given, name) is not None
    }
    if "email" in changes and not _EMAIL.match(changes["email"]):
        raise Invalid({"email": "value must be a valid email address."})
    if given.is_superuser is not None or given.switchboard_role is not None:
        if not caller.superuser:
            raise Forbidden()
        if given.is_superuser is not None:
            changes["is_superuser"] = given.is_superuser
        if given.switchboard_role is not None:
            changes["role"] = _role(given.switchboard_role)
    if given.password is not None:
        problem = password_problem(given.password)
        if problem:
            raise Invalid({"password": problem})
    changed = await mb.users.update(user_id, given.password, **changes)
    if changed is None:
        raise Invalid({"email": "Email address already associated to another user."})
    mb.sessions.forget(user_id)
    return {**user_json(changed), "user_group_memberships": _groups(changed)}


async def deactivate_user(mb: Metabase, caller: Caller, user_id: int) -> dict[str, Any]:
    caller.must_be_superuser()
    if await mb.users.update(user_id, is_active=False) is None:
        raise NotFound()
    await mb.sessions.end_all(user_id)
    return {"success": True}
