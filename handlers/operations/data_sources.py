"""add_source, drop_source: the databases that `sql` and `table` actions write to.

add_source {name, url | url_from_env}: url is a SQLAlchemy URL (`sqlite:///shop.db`,
`postgresql://user@host/db`); url_from_env names an environment variable holding one, read when
the source is first used. Nothing connects yet: pools open on first use.
update_source {name, url | url_from_env}: points an existing source at another database (as
Hasura's pg_update_source); the actions using it follow, and the old pool is closed. A URL
whose password is *** (as answered) keeps the stored password when the rest of it is the same.
drop_source {name, cascade? (false)}: refused while actions use the source, unless cascade,
which drops those actions (and their permissions, public links and runs) too.

Errors: parse-failed (no or both of url / url_from_env, an unparsable URL, a reserved variable, a
masked password that is not the stored one's),
already-exists, not-exists, dependency-error (actions still use the source).
"""

from __future__ import annotations

from handlers.context import Context
from handlers.operations.actions import remove_action
from metadata.actions import Action
from metadata.data_sources import DataSource, unmasked
from metadata.errors import AlreadyExists, DependencyError, NotExists
from metadata.strict import Strict


class DropSource(Strict):
    name: str
    cascade: bool = False


async def add_source(ctx: Context, args: DataSource) -> None:
    draft = ctx.changing
    if draft.get("source", args.name) is not None:
        raise AlreadyExists(f'source with name "{args.name}" already exists', "$.name")
    draft.put("source", args.name, unmasked(args, None))


async def update_source(ctx: Context, args: DataSource) -> None:
    draft = ctx.changing
    stored = draft.get("source", args.name)
    if stored is None:
        raise NotExists(f'source with name "{args.name}" does not exist', "$.name")
    draft.put("source", args.name, unmasked(args, stored))


async def drop_source(ctx: Context, args: DropSource) -> None:
    draft = ctx.changing
    if draft.get("source", args.name) is None:
        raise NotExists(f'source with name "{args.name}" does not exist', "$.name")
    users = sorted(
        name
        for name, item in draft.items("action")
        if isinstance(item.value, Action) and item.value.definition.source == args.name
    )
    if users and not args.cascade:
        listed = ", ".join(f"action {name}" for name in users)
        raise DependencyError(f"cannot drop due to the following dependent objects : {listed}", "$.name")
    for name in users:
        remove_action(draft, name, clear_data=True)
    draft.delete("source", args.name)
