"""The one entry point below HTTP: envelope bytes and a session in, an answer (or an error) out.

Every modifying operation goes through the same steps: load (the in-memory view) ->
validate and modify (the handler, on a draft) -> check consistency (no action may be left
pointing at a type that does not fit) -> save (a compare-and-swap on the version row). A
change that changes nothing saves nothing. Without an explicit `resource_version`, losing the
swap to another process re-runs the handler once more, holding the store's write lock on the
latest version, so it applies however busy the other servers are; with one, it is a 409.

`"dry_run": true` in the envelope of a modifying operation (a bulk, replace_metadata) runs all of
that on a draft of the current version, refusing exactly what the real request would refuse,
and saves nothing: the answer is {dry_run: true, resource_version (the version it was built on:
send it back to apply exactly that), changes: {added, removed, changed} (as diff_metadata),
graphql: {breaking, dangerous} (handlers/graphql/changes.py), answer (what the operation itself
would answer, without a version)}. An operation that changes no metadata refuses `dry_run`
(parse-failed at $.dry_run): a read has nothing to preview, and one that acts outside the
metadata (run_action, API keys...) must never act when a dry run was asked for; run_action
previews a run with `dry_run` in its args. Inside a bulk, an envelope's own `dry_run` is refused:
it applies to the whole request.
"""

from __future__ import annotations

import difflib
from collections.abc import Awaitable, Callable
from typing import Any

import msgspec
from sqlalchemy.exc import DBAPIError
from sqlalchemy.ext.asyncio import AsyncConnection

from handlers.context import Answer, Changed, Context, Runtime, Session
from handlers.graphql.changes import graphql_changes
from handlers.registry import OPERATIONS, Operation
from handlers.telemetry import note_operation, note_role
from metadata.consistency import new_inconsistencies, refuse
from metadata.decoding import decode
from metadata.diff import describe
from metadata.errors import AccessDenied, Conflict, ParseFailed, SwitchboardError, rooted
from metadata.objects import Draft
from metadata.store import StaleVersion, Store, unreachable
from metadata.strict import Strict


class Envelope(Strict):
    type: str
    args: msgspec.Raw = msgspec.field(default_factory=lambda: msgspec.Raw(b"{}"))
    version: int = 1
    resource_version: int | None = None
    dry_run: bool = False

    def __post_init__(self) -> None:
        if self.version not in (1, 2):
            raise ValueError(f"unsupported version {self.version}; expected 1 or 2")


_envelope = msgspec.json.Decoder(Envelope)
# The operations anyone may call without credentials.
PUBLIC = frozenset({"run_public_action"})


class _Type(msgspec.Struct):
    type: str = ""


_type = msgspec.json.Decoder(_Type)


def is_public(body: bytes) -> bool:
    """Whether an envelope asks for an operation that needs no credentials."""
    try:
        return _type.decode(body).type in PUBLIC
    except (msgspec.DecodeError, RecursionError):
        return False


def _conflict(referenced: int) -> Conflict:
    return Conflict(f"metadata resource version referenced ({referenced}) did not match current version")


def _did_you_mean(type_: str) -> str:
    """Hasura's message names the unknown type only: ` (did you mean create_action?)` after it,
    when a registered type is close enough (never for a caller's long string: no work on it)."""
    if len(type_) > 64:
        return ""
    close = difflib.get_close_matches(type_.lower(), OPERATIONS, n=1)
    return f" (did you mean {close[0]}?)" if close else ""


def _no_dry_run(type_: str) -> str:
    if type_ == "run_action":
        return 'run_action previews a run with "dry_run" in its args, not in the envelope'
    return f'"{type_}" changes no metadata: a dry run is for the operations that do'


def _prepare(body: bytes | msgspec.Raw, session: Session) -> tuple[Envelope, Operation, Any]:
    try:
        envelope = decode(_envelope, body)
    except SwitchboardError:
        note_operation("invalid")
        raise
    op = OPERATIONS.get(envelope.type)
    note_operation("unknown" if op is None else envelope.type)  # never a caller's string in metrics
    if op is None:
        raise ParseFailed(f'unknown metadata command "{envelope.type}"' + _did_you_mean(envelope.type))
    if op.admin_only and not session.is_admin:
        raise AccessDenied("restricted access : admin only", "$.args")
    if envelope.dry_run and not op.modifies:
        raise ParseFailed(_no_dry_run(envelope.type), "$.dry_run")
    if op.args is msgspec.Raw:
        return envelope, op, envelope.args
    with rooted("$.args"):
        return envelope, op, decode(op.decoder, envelope.args)


async def _modify(op: Operation, ctx: Context, args: Any) -> Any:
    """Run one modifying operation on the context's draft and check what it changed."""
    draft = ctx.changing
    before = draft.copy()
    draft.allow_inconsistent = False
    with rooted("$.args"):
        result = await op.run(ctx, args)
    if not draft.allow_inconsistent and not ctx.deferred:  # a bulk_atomic checks once, at its end
        fresh = new_inconsistencies(before, draft, draft.changed_since(before))
        if fresh:
            raise refuse(fresh, "cannot continue due to new inconsistent metadata").within("$.args")
    return Changed() if result is None else result


async def _nested(ctx: Context, body: msgspec.Raw) -> Any:
    """One envelope of a bulk, on the bulk's draft."""
    envelope, op, args = _prepare(body, ctx.session)
    if not op.in_bulk:
        raise ParseFailed(f'"{envelope.type}" cannot run inside bulk: a refused bulk could not undo it', "$.type")
    if envelope.dry_run:
        raise ParseFailed("dry_run applies to a whole request: set it on the bulk's envelope", "$.dry_run")
    if envelope.resource_version not in (None, ctx.store.resource_version):
        raise _conflict(envelope.resource_version)
    if op.modifies:
        inner = Context(ctx.runtime, ctx.session, envelope.version, ctx.draft, _nested, ctx.deferred)
        return await _modify(op, inner, args)
    with rooted("$.args"):
        return await op.run(Context(ctx.runtime, ctx.session, envelope.version, None, _nested, ctx.deferred), args)


def _finish(result: Any, version: int) -> Any:
    if isinstance(result, Answer):  # inside a bulk, a run's cookies have no caller to reach
        return result.body
    if isinstance(result, Changed):
        return {**result.body, "resource_version": version}
    if isinstance(result, list):
        return [_finish(item, version) for item in result]
    return result


async def _moved_on(store: Store, base: int) -> bool:
    """Whether the store is past `base` once caught up (by us, or by a catch-up under way)."""
    await store.sync()
    return store.resource_version != base


async def execute(runtime: Runtime, body: bytes, session: Session) -> Any:
    note_role(session.role)
    envelope, op, args = _prepare(body, session)
    return await _reachable(runtime, _execute(runtime, envelope, op, args, session))


async def change(
    runtime: Runtime, session: Session, operation: str, modify: Callable[[Context], Awaitable[Any]]
) -> Any:
    """A change that `modify` makes on the context's draft, run as every modifying operation is
    (checked, saved as one version named `operation` in the history, or nothing): for a front door
    whose requests are no envelope (Metabase's REST API). Answers what `modify` returns."""
    note_role(session.role)
    op = Operation(lambda ctx, _: modify(ctx), msgspec.Raw, modifies=True)
    return await _reachable(runtime, _execute(runtime, Envelope(type=operation), op, None, session))


async def _reachable(runtime: Runtime, work: Awaitable[Any]) -> Any:
    """`work`'s answer, a store that cannot be reached answered as the service being unavailable."""
    try:
        return await work
    except (OSError, DBAPIError) as exc:
        unavailable = unreachable(exc)
        if unavailable is None:
            raise
        runtime.metrics.store_errors.inc()
        raise unavailable from None


async def _execute(runtime: Runtime, envelope: Envelope, op: Operation, args: Any, session: Session) -> Any:
    store = runtime.store
    if not op.modifies:
        if op.fresh:
            await store.sync()
        with rooted("$.args"):
            return await op.run(Context(runtime, session, envelope.version, None, _nested), args)
    if envelope.dry_run:
        return await _dry_run(runtime, envelope, op, args, session)

    async with store.write_lock:
        if envelope.resource_version not in (None, store.resource_version):
            await store.sync()  # the caller may have seen a version this server has not yet
        # Optimistic: the in-memory view is usually current. When it was not, the swap fails (or
        # the handler refuses, or finds nothing to do, on stale grounds); then the change is built
        # again holding the store's write lock, on the latest version, where it cannot lose.
        result = await _attempt(runtime, envelope, op, args, session, None)
        if result is _STALE:
            if envelope.resource_version is not None:
                raise _conflict(envelope.resource_version)
            async with store.exclusive() as conn:
                result = await _attempt(runtime, envelope, op, args, session, conn)
        return result


_STALE = object()  # the attempt was built on a version another server has moved past


async def _attempt(
    runtime: Runtime, envelope: Envelope, op: Operation, args: Any, session: Session, conn: AsyncConnection | None
) -> Any:
    """Build the change on the current view and commit it: its answer, or _STALE (only without
    `conn`, the exclusive transaction, in which nothing can be stale)."""
    store = runtime.store
    base = store.resource_version
    if envelope.resource_version not in (None, base):
        raise _conflict(envelope.resource_version)
    draft = Draft(store.state)
    try:
        result = await _modify(op, Context(runtime, session, envelope.version, draft, _nested), args)
    except SwitchboardError:
        if conn is not None or not await _moved_on(store, base):
            raise
        return _STALE
    changes = draft.effective()
    if not changes:
        # "Nothing to change" must not be judged on a stale view either.
        if conn is None and await _moved_on(store, base):
            return _STALE
        return _finish(result, base)
    try:
        version = await store.commit(base, changes, envelope.type, session.role, draft.cleared_actions, conn)
    except StaleVersion:
        return _STALE
    if any(kind == "source" for kind, _ in changes):
        await runtime.engines.prune(store.state)
    return _finish(result, version)


async def _dry_run(runtime: Runtime, envelope: Envelope, op: Operation, args: Any, session: Session) -> dict[str, Any]:
    """Everything a modifying request does but the save, on the latest version (caught up
    first, so nothing is judged on a stale view): what it would change, or its refusal."""
    store = runtime.store
    await store.sync()
    base = store.resource_version
    if envelope.resource_version not in (None, base):
        raise _conflict(envelope.resource_version)
    draft = Draft(store.state)
    result = await _modify(op, Context(runtime, session, envelope.version, draft, _nested), args)
    changes = describe(draft.base, draft.effective())
    return {
        "dry_run": True,
        "resource_version": base,
        "changes": changes,
        "graphql": await graphql_changes(runtime, draft.base, draft, changes),
        "answer": _unversioned(result),
    }


def _unversioned(result: Any) -> Any:
    """An operation's answer as `_finish` makes it, without the version it did not make."""
    if isinstance(result, Answer | Changed):
        return result.body
    if isinstance(result, list):
        return [_unversioned(item) for item in result]
    return result
