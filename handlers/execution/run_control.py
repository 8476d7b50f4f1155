"""replay_action_run, replay_action_runs, cancel_action_run, cancel_action_runs: runs run again, or
never (admin only; every replay and cancel is in the run log with who did it).

replay_action_run {id}: runs a logged run (an async run, or a sync run logged by
`audit_sync_runs`) again, with its original input and session variables (and the client headers
kept with an async run), as its role, under today's metadata and permissions: through the same
`runnable`, `prepare` and `run` as run_action, so the same permission check, input validation and
execution. It is a new run, linked to the original (`replay_of`, and `replayed_by`: who
replayed it), asynchronous if the action is asynchronous today; a replayed synchronous run is
logged whatever `audit_sync_runs` says. Answers the new run as get_action_result shows it: an
async one queued (`created`, or `processing` when a worker took it at once), a sync one finished
(`completed`, or `error` with the errors its caller would have had: the replay itself succeeded).
replay_action_runs {action?, status? ("error"; or "completed", "cancelled"), since?, until?,
limit (1..1000)}: replays, oldest first, the runs in that status created in [since, until)
(RFC 3339 times; UTC when no offset is given), at most `limit`, leaving out runs replayed
already (so replaying the failed runs twice delivers each once; a replay that failed is a failed
run of its own). Answers {replayed: [{id, replay_of}], refused: [{id, error, code}]}: a run refused
(its role lost the permission, ...) does not stop the others.
cancel_action_run {id}: a queued async run that has not started (status `created`: never taken
by a worker, or waiting for a retry) is never delivered: its status becomes `cancelled`, its
`errors` say so ({path, error, code: "cancelled"}), `cancelled_by` who did it; get_action_result,
the GraphQL query and its subscription answer so. A claim and a cancel of the same run cannot both
win (metadata/runs.py). Answers the run as get_action_result shows it.
cancel_action_runs {action?, since?, until?, limit? (1000, at most 10,000)}: cancels the waiting
runs a filter selects, oldest first; answers {cancelled: [ids]}.

Errors: not-exists (an unknown run; the action of the run to replay no longer exists),
access-denied (the run's role may no longer run the action), validation-failed (its input no
longer fits the action's arguments; `until` not after `since`), invalid-run-state (replaying a
run that has not finished; cancelling a run that has started, finished or was cancelled, or a
synchronous run), parse-failed.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated, Any, Literal

import msgspec

from handlers.context import Context, Replay, Session
from handlers.execution.run_action import InputInvalid, prepare, run, runnable
from handlers.telemetry import REQUEST_ID_HEADER
from metadata.errors import AccessDenied, NotExists, SwitchboardError, ValidationFailed
from metadata.runs import DONE, Run
from metadata.strict import StoredText, Strict

# A run's own bookkeeping among its stored headers (the queueing request's id, its trace):
# a replay has its own.
_BOOKKEEPING = frozenset({REQUEST_ID_HEADER.lower(), "traceparent", "tracestate"})


class InvalidRunState(SwitchboardError):
    """The run is not in a state that allows it: cancelling a started run, replaying a running one."""

    code, status = "invalid-run-state", 400


class RunId(Strict):
    id: StoredText


class ReplayRuns(Strict):
    limit: Annotated[int, msgspec.Meta(ge=1, le=1000)]
    action: StoredText | None = None
    status: Literal["error", "completed", "cancelled"] = "error"
    since: datetime | None = None
    until: datetime | None = None


class CancelRuns(Strict):
    action: StoredText | None = None
    since: datetime | None = None
    until: datetime | None = None
    limit: Annotated[int, msgspec.Meta(ge=1, le=10_000)] = 1000


def _epoch(moment: datetime | None) -> float | None:
    if moment is None:
        return None
    return (moment if moment.tzinfo is not None else moment.replace(tzinfo=UTC)).timestamp()


def _bounds(args: ReplayRuns | CancelRuns) -> tuple[float | None, float | None]:
    since, until = _epoch(args.since), _epoch(args.until)
    if since is not None and until is not None and until <= since:
        raise ValidationFailed('"until" must be after "since"', "$.until")
    return since, until


async def who(ctx: Context) -> dict[str, str]:
    """Who is acting, as the run log records it: the role, and the user id and API key (its name)
    the session came with."""
    session = ctx.session
    found = {"role": session.role}
    user = session.variables.get("x-hasura-user-id")
    if user is not None:
        found["user_id"] = user
    if session.api_key is not None:
        for key in await ctx.runtime.api_keys.all():
            if key.hash == session.api_key:
                found["api_key"] = key.name
    return found


async def _logged(ctx: Context, run_id: str) -> Run:
    found = await ctx.runtime.runs.get(run_id)
    if found is None:
        raise NotExists(f'action run with id "{run_id}" does not exist', "$.id")
    return found


async def _replay(ctx: Context, original: Run, by: dict[str, str]) -> Run:
    """Run `original` again as a new run, the way run_action runs a call; refusals as its."""
    runtime = ctx.runtime
    if original.status not in DONE:
        raise InvalidRunState(
            f'run "{original.id}" has not finished (status {original.status}): a run is replayed once it has', "$.id"
        )
    headers = {name: value for name, value in original.headers.items() if name.lower() not in _BOOKKEEPING}
    session = Session(role=original.role, variables=original.session, headers=headers)
    try:
        action = await runnable(runtime, session, original.action)
    except NotExists:
        if runtime.store.state.get("action", original.action) is None:
            raise NotExists(f'action "{original.action}" of run "{original.id}" no longer exists', "$.id") from None
        raise AccessDenied(f'role "{original.role}" may no longer run action "{original.action}"', "$.id") from None
    try:
        call = await prepare(runtime, session, action, original.input)
    except InputInvalid as exc:
        message = f'the run\'s input no longer fits action "{action.name}": {exc.message} (at {exc.path})'
        raise ValidationFailed(message, "$.id") from None
    call.replay = replay = Replay(original.id, by)
    try:
        await run(runtime, session, call)
    except SwitchboardError:
        if replay.run_id is None:  # refused before it became a run
            raise
    assert replay.run_id is not None
    replayed = await runtime.runs.get(replay.run_id)
    assert replayed is not None
    return replayed


async def replay_action_run(ctx: Context, args: RunId) -> dict[str, Any]:
    original = await _logged(ctx, args.id)
    return (await _replay(ctx, original, await who(ctx))).result()


async def replay_action_runs(ctx: Context, args: ReplayRuns) -> dict[str, Any]:
    since, until = _bounds(args)
    chosen = await ctx.runtime.runs.replayable(args.action, args.status, since, until, args.limit)
    by = await who(ctx)
    replayed: list[dict[str, str]] = []
    refused: list[dict[str, Any]] = []
    for original in chosen:
        try:
            replay = await _replay(ctx, original, by)
        except SwitchboardError as exc:
            refused.append({"id": original.id, "error": exc.message, "code": exc.code})
        else:
            replayed.append({"id": replay.id, "replay_of": original.id})
    return {"replayed": replayed, "refused": refused}


def _cancelled(by: dict[str, str]) -> dict[str, Any]:
    """The errors a cancelled run answers with, as a failed run's: what happened, and by whom."""
    return {"path": "$", "error": f"the run was cancelled by {by['role']} before it started", "code": "cancelled"}


async def cancel_action_run(ctx: Context, args: RunId) -> dict[str, Any]:
    runs = ctx.runtime.runs
    found = await _logged(ctx, args.id)
    if found.mode != "async":
        raise InvalidRunState(f'run "{args.id}" is a synchronous run: it ran when it was called', "$.id")
    by = await who(ctx)
    if not await runs.cancel(by, _cancelled(by), ids=[args.id], limit=1):
        found = await _logged(ctx, args.id)
        if found.status == "processing":
            why = "has started (status processing): a started run cannot be cancelled"
        elif found.status == "cancelled":
            why = "was cancelled already"
        else:
            why = f"has finished (status {found.status}): there is nothing to cancel"
        raise InvalidRunState(f'run "{args.id}" {why}', "$.id")
    return (await _logged(ctx, args.id)).result()


async def cancel_action_runs(ctx: Context, args: CancelRuns) -> dict[str, Any]:
    since, until = _bounds(args)
    by = await who(ctx)
    cancelled = await ctx.runtime.runs.cancel(
        by, _cancelled(by), action=args.action, since=since, until=until, limit=args.limit
    )
    return {"cancelled": cancelled}
