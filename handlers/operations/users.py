"""create_user: a person who signs in to Metabase's REST API (/api/session), admin only.

create_user {email, password, first_name?, last_name?, superuser? (false), role?}: {id, email,
superuser, role}. A superuser is Switchboard's admin; anyone else acts as `role` ("user" when
absent), whose action permissions decide what it may run. The password is hashed (Argon2id) and
never shown again. Users are not metadata: no version is made, exports never hold them. The way
to make the first superuser (`switchboard users create --superuser`); after that, Metabase's
POST /api/user serves too.

Errors: parse-failed (a malformed field), validation-failed (an email that is no email address, a
password of fewer than 6 characters or without a digit), already-exists (the email is taken).
"""

from __future__ import annotations

import re
from typing import Annotated, Any

import msgspec

from handlers.context import Context
from metadata.actions import RoleName
from metadata.errors import AlreadyExists, ValidationFailed
from metadata.strict import Strict

_EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")


class CreateUser(Strict):
    email: Annotated[str, msgspec.Meta(max_length=254)]
    password: str
    first_name: str | None = None
    last_name: str | None = None
    superuser: bool = False
    role: RoleName | None = None


def password_problem(password: str) -> str | None:
    """Metabase's default password rule ("normal": six characters, one of them a digit)."""
    if len(password) < 6 or not any(c.isdigit() for c in password):
        return "password is too common."
    return None


async def create_user(ctx: Context, args: CreateUser) -> dict[str, Any]:
    if not _EMAIL.match(args.email):
        raise ValidationFailed("not an email address", "$.email")
    problem = password_problem(args.password)
    if problem is not None:
        raise ValidationFailed(f"{problem} (at least 6 characters, one of them a digit)", "$.password")
    users = ctx.runtime.users
    made = await users.create(args.email, args.password, args.first_name, args.last_name, args.role, args.superuser)
    if made is None:
        raise AlreadyExists(f'a user with email "{args.email.lower()}" already exists', "$.email")
    return {"id": made.id, "email": made.email, "superuser": made.is_superuser, "role": made.role}
