"""create_action_public_link, drop_action_public_link, run_public_action: Metabase's public
actions, where a link lets anyone run one action.

create_action_public_link {action} (admin): {uuid}; the same uuid when the action has a link.
drop_action_public_link {action} (admin): the link stops working at once (a link left without
its action by replace_metadata can be dropped too).
run_public_action {uuid, input?}: needs no credentials. The action runs as the public role
(setting `public_role`, "public" by default) with no user session variables, whatever the
caller sent, and no client headers are forwarded; its input is checked as run_action checks it.
Each link may run `public_rate_limit` times per second in each server process (default 10);
beyond that, 429 with Retry-After. Errors carry no internals, whoever calls. With the setting
`enable_public_sharing` off, no link is made and none runs (as Metabase's setting).

Errors: not-exists (unknown action; a link that does not exist, was dropped, or whose action
was dropped; public sharing off), access-denied (making a link with public sharing off),
rate-limited (429), and every error of run_action.
"""

from __future__ import annotations

import math
import uuid
from typing import Any

from handlers.context import Changed, Context, Runtime, Session
from handlers.execution.run_action import start
from handlers.operations.actions import existing_action
from metadata.actions import Action
from metadata.errors import AccessDenied, NotExists, RateLimited, SwitchboardError
from metadata.public_links import PublicLink
from metadata.strict import Strict


class ActionLink(Strict):
    action: str


class RunPublicAction(Strict):
    uuid: str
    input: dict[str, Any] = {}


async def create_action_public_link(ctx: Context, args: ActionLink) -> Changed:
    if not ctx.runtime.public_sharing:
        raise AccessDenied("public sharing is not enabled (setting enable_public_sharing)", "$.action")
    draft = ctx.changing
    existing_action(draft, args.action)
    link = draft.get("public_link", args.action)
    if not isinstance(link, PublicLink):
        link = PublicLink(action=args.action, uuid=str(uuid.uuid4()))
        draft.put("public_link", args.action, link)
    return Changed({"uuid": link.uuid})


async def drop_action_public_link(ctx: Context, args: ActionLink) -> None:
    """A link whose action is gone (a replace_metadata can leave one) can be dropped too: it is
    the only way, short of another replace, to get rid of it."""
    draft = ctx.changing
    if draft.get("public_link", args.action) is None:
        existing_action(draft, args.action)
        raise NotExists(f'action "{args.action}" has no public link', "$.action")
    draft.delete("public_link", args.action)


def _linked(runtime: Runtime, key: str) -> Action | None:
    view = runtime.store.state
    for name, item in view.items("public_link"):
        if item.value.uuid == key:
            action = view.get("action", name)
            return action if isinstance(action, Action) else None
    return None


async def linked_action(runtime: Runtime, given: str) -> Action:
    """The action of a public link (not-exists: none, or public sharing is off)."""
    if not runtime.public_sharing:
        raise NotExists("public sharing is not enabled", "$.uuid")
    try:
        key = str(uuid.UUID(given))
    except ValueError:
        # Not a UUID, so no link: answered without the catch-up below, which would otherwise
        # cost a database round trip (under the store's sync lock) per anonymous request.
        raise NotExists(f'public link "{given}" does not exist', "$.uuid") from None
    action = _linked(runtime, key)
    if action is None:
        await runtime.store.sync()  # another server may just have created it
        action = _linked(runtime, key)
    if action is None:
        raise NotExists(f'public link "{given}" does not exist', "$.uuid")
    return action


async def public_action(runtime: Runtime, given: str) -> Action:
    """The action a public link runs, counted against the link's rate limit (every front door's
    public runs go through here)."""
    action = await linked_action(runtime, given)
    key = str(uuid.UUID(given))
    wait = runtime.public_limiter.take(key)
    if wait:
        raise RateLimited(f"too many runs of this public link; try again in {wait:.2f} seconds", math.ceil(wait))
    return action


def public_session(runtime: Runtime) -> Session:
    role = runtime.public_role
    return Session(role=role, variables={"x-hasura-role": role})


async def run_public_action(ctx: Context, args: RunPublicAction) -> Any:
    runtime = ctx.runtime
    action = await public_action(runtime, args.uuid)
    try:
        return await start(runtime, public_session(runtime), action, args.input)
    except SwitchboardError as exc:
        # The run is the public role's, and so is its answer, whoever calls: an admin's session
        # (any caller's, when no admin secret is set) must not show a link's callers the
        # handler's URL, headers or upstream answer.
        exc.internal = None
        raise
