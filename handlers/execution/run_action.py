"""run_action, get_action_result, get_action_log: running actions and reading their runs.

run_action {name, input?, dry_run?}: any role holding a permission on the action, an inherited
role one of whose parents does (metadata/roles.py), or admin. To
any other role the action does not exist: the same answer as an unknown name, so names do not
leak. `input` is validated against the arguments (declared, or a table action's derived ones)
before anything runs. A synchronous action answers {"output": ...} (with the Set-Cookie headers
of the handler's answer); an asynchronous one {"action_id": "<uuid>"} as soon as the run is
durably queued. The action runs by its kind (handlers/execution/executors.py): a webhook, sql
statements, or one table row. /v1/graphql runs its fields through the same `runnable`, `prepare`
and `run`.
`dry_run: true` (admin only: it shows statements and requests) answers {dry_run, kind, ...} with what
would happen, and does nothing: the HTTP request after transforms, the statements with their
parameters, or a table statement with the rows it would touch.
get_action_result {id}: {id, action, status, output, errors, created_at, updated_at, attempts};
visible to admin, and to the role and x-hasura-user-id that created the run. `errors` holds the
error as a sync caller would get it, its `internal` (Hasura's details of the call) for admins only.
A replay (handlers/execution/run_control.py) adds `replay_of` and `replayed_by`; a cancelled run
(status `cancelled`, its errors saying so) adds `cancelled_by`.
get_action_log {action?, status?, limit?, offset?, before?} (admin): {runs: [...], next}, newest
first: every async run, sync runs when `audit_sync_runs` is on, and every replay; each run as get_action_result
shows it, with its `input`, `mode` (sync or async) and `role`. `next` (null on the last page) is
the `before` of the next page: paging by key costs the same on any page.

Errors: not-exists (unknown or not permitted action, unknown run; a table row that is not
there), validation-failed (input, with its path under $.args.input), invalid-configuration (an
unset environment variable), access-denied (dry_run by a non-admin), the handler's own 4xx error,
constraint-violation / data-exception (a statement the database refused), 502 (handler failed,
bad output, source unreachable), 504 (timeout).
"""

from __future__ import annotations

import logging
import time
from typing import Annotated, Any, Literal

import msgspec

from handlers.context import Answer, Call, Context, Replay, Runtime, Session
from handlers.execution.executors import executor
from handlers.execution.webhook import forwardable
from handlers.telemetry import current, outcome, with_request_id
from handlers.tracing import send_trace
from metadata.actions import Action
from metadata.errors import AccessDenied, NotExists, SwitchboardError, ValidationFailed
from metadata.objects import View
from metadata.roles import may_run
from metadata.runs import Run
from metadata.strict import StoredInt, StoredText, Strict
from metadata.values import InputError, validate_input

log = logging.getLogger("switchboard.runs")


class RunAction(Strict):
    name: str
    input: dict[str, Any] = {}
    dry_run: bool = False


class GetActionResult(Strict):
    id: StoredText


class GetActionLog(Strict):
    action: StoredText | None = None
    status: Literal["created", "processing", "completed", "error", "cancelled"] | None = None
    limit: Annotated[int, msgspec.Meta(ge=1, le=1000)] = 100
    offset: StoredInt = 0
    before: StoredText | None = None  # a run's id: the page after it (`next` of the page before)


class InputInvalid(ValidationFailed):
    """The input does not fit the action's arguments; `error` has both wordings of why."""

    def __init__(self, error: InputError) -> None:
        super().__init__(error.message, "$.input" + error.path[1:])
        self.error = error


def permitted(action: object, session: Session, view: View) -> bool:
    """The one permission check of every front door (run_action, /v1/graphql's schemas and
    fields, public links): admin, a permission of the role's own, or (an inherited role) one of
    its parents' (metadata/roles.py)."""
    return isinstance(action, Action) and (session.is_admin or may_run(view, session.role, action))


async def runnable(runtime: Runtime, session: Session, name: str) -> Action:
    """The action, from the in-memory view; on a miss, another server may just have defined it
    (or granted the permission), so catch up once before saying it does not exist."""
    action = runtime.store.state.get("action", name)
    if not permitted(action, session, runtime.store.state):
        await runtime.store.sync()
        action = runtime.store.state.get("action", name)
    if not permitted(action, session, runtime.store.state):
        raise NotExists(f'action with name "{name}" does not exist', "$.name")
    assert isinstance(action, Action)
    return action


def error_body(exc: SwitchboardError) -> dict[str, Any]:
    """How a failed run records its error (the shape of an error answer); `internal` is kept,
    and shown to admins only (get_action_result strips it for anyone else)."""
    body: dict[str, Any] = {"path": exc.path, "error": exc.message, "code": exc.code}
    if exc.extensions is not None:
        body["extensions"] = exc.extensions
    if exc.internal is not None:
        body["internal"] = exc.internal
    return body


def errors_for(errors: Any, session: Session) -> Any:
    """A run's recorded errors as `session` may see them: `internal` is for admins only."""
    if session.is_admin or not isinstance(errors, dict) or "internal" not in errors:
        return errors
    return {key: value for key, value in errors.items() if key != "internal"}


async def run_action(ctx: Context, args: RunAction) -> Any:
    runtime, session = ctx.runtime, ctx.session
    action = await runnable(runtime, session, args.name)
    if args.dry_run and not session.is_admin:
        # A preview shows the statements and requests behind an action: an admin's view.
        raise AccessDenied("dry_run is restricted to admin", "$.dry_run")
    return await start(runtime, session, action, args.input, args.dry_run)


async def start(
    runtime: Runtime, session: Session, action: Action, input: dict[str, Any], dry_run: bool = False
) -> Any:
    """Check the input, then run the action (or queue it, or preview it) as `session`."""
    call = await prepare(runtime, session, action, input)
    if dry_run:
        preview = await executor(action).preview(runtime, call, runtime.store.state)
        return {"dry_run": True, "kind": action.definition.handler_kind, **preview}
    return await run(runtime, session, call)


async def prepare(
    runtime: Runtime, session: Session, action: Action, input: dict[str, Any], request_query: str | None = None
) -> Call:
    """The call of `action` with `input` checked against its arguments (InputInvalid if not)."""
    view = runtime.store.state
    runner = executor(action)
    signed = action if runner.signature is None else await runner.signature(runtime, action, view)
    try:
        given = validate_input(signed, input, view)
    except InputError as exc:
        raise InputInvalid(exc) from None
    forwarded = forwardable(session.headers) if action.definition.forward_client_headers else {}
    return Call(action, given, session.variables, forwarded, request_query)


async def run(runtime: Runtime, session: Session, call: Call) -> Any:
    """Run a prepared call: {"output"} (an Answer when the handler set cookies), or {"action_id"}."""
    since = time.time()
    action = call.action
    if action.definition.is_async:
        return {"action_id": await _queue(runtime, session, action, call.input, call.forwarded, call.replay)}
    try:
        output = await run_call(runtime, call, runtime.store.state, "sync", since)
    except SwitchboardError as exc:
        if runtime.audit_sync_runs or call.replay is not None:  # a replay is always logged
            await _audit(runtime, call, session, errors=error_body(exc))
        raise
    if runtime.audit_sync_runs or call.replay is not None:
        await _audit(runtime, call, session, output=output)
    return Answer({"output": output}, call.cookies) if call.cookies else {"output": output}


async def run_call(runtime: Runtime, call: Call, view: View, kind: str, since: float) -> Any:
    """Run a call by its executor: the one place where runs, sync and async, are timed, counted
    and traced (`since`: when the run was accepted or queued, time.time())."""
    begun = time.time()
    action = call.action
    tracing = runtime.tracing
    span = None if tracing is None else tracing.run(action.name, kind, action.definition.handler_kind, call.run_id)
    try:
        output = await executor(action).run(runtime, call, view)
    except Exception as exc:
        if span is not None:
            span.end(exc)
        runtime.metrics.ran(action.name, kind, action.definition.handler_kind, since, begun, exc)
        if isinstance(exc, SwitchboardError) and outcome(exc) in ("failed", "timeout"):
            # The operator's concern too (a handler or source down or slow), not only the caller's.
            log.warning(
                'action "%s" %s (%s run, %d %s): %s', action.name, outcome(exc), kind, exc.status, exc.code, exc.message
            )
        raise
    except BaseException as exc:  # cancelled: the span still ends
        if span is not None:
            span.end(exc)
        raise
    if span is not None:
        span.set("switchboard.outcome", "completed")
        span.end()
    runtime.metrics.ran(action.name, kind, action.definition.handler_kind, since, begun, None)
    return output


async def _queue(
    runtime: Runtime,
    session: Session,
    action: Action,
    given: dict[str, Any],
    forwarded: dict[str, str],
    replay: Replay | None = None,
) -> str:
    """Write the run (committed before its id is returned). When a worker of this server is free
    and no other run waits, the run is written already leased to it and starts at once: no claim,
    no notification. Otherwise it waits for any server's workers, woken by the write."""
    workers = runtime.workers
    # Stored with the run: the request's id and its trace context, for the worker to carry on.
    stored = with_request_id(forwarded)
    tracing = runtime.tracing
    span = None
    if tracing is None:
        send_trace(current(), stored)
    else:
        span = tracing.queue(action.name)
        tracing.inject(stored)  # the worker's span is this one's child
    held = workers.reserve()
    try:
        run = await runtime.runs.add(
            action=action.name,
            mode="async",
            input=given,
            session=session.variables,
            headers=stored,
            role=session.role,
            lease_seconds=action.definition.timeout + runtime.lease_margin,
            held_by=workers.token if held else None,
            replay_of=None if replay is None else replay.of,
            replayed_by=None if replay is None else replay.by,
        )
    except BaseException as exc:
        if held:
            workers.unreserve()
        if span is not None:
            span.end(exc)
        raise
    if span is not None:
        span.set("switchboard.run.id", run.id)
        span.end()
    if replay is not None:
        replay.run_id = run.id
    if held:
        workers.hand_over(run)
    else:
        workers.wake()
    return run.id


async def _audit(runtime: Runtime, call: Call, session: Session, output: Any = None, errors: Any = None) -> None:
    replay = call.replay
    logged = await runtime.runs.add(
        action=call.action.name,
        mode="sync",
        input=call.input,
        session=session.variables,
        headers={},
        role=session.role,
        lease_seconds=0,
        status="error" if errors is not None else "completed",
        output=output,
        errors=errors,
        replay_of=None if replay is None else replay.of,
        replayed_by=None if replay is None else replay.by,
    )
    if replay is not None:
        replay.run_id = logged.id


def visible(run: Run | None, session: Session) -> bool:
    """Whether `session` may read `run`: admins, and the role and user that created it."""
    return run is not None and (
        session.is_admin or (run.role == session.role and run.user_id == session.variables.get("x-hasura-user-id"))
    )


async def get_action_result(ctx: Context, args: GetActionResult) -> dict[str, Any]:
    run = await ctx.runtime.runs.get(args.id)
    if run is None or not visible(run, ctx.session):
        raise NotExists(f'action result with id "{args.id}" does not exist', "$.id")
    return {**run.result(), "errors": errors_for(run.errors, ctx.session)}


async def get_action_log(ctx: Context, args: GetActionLog) -> dict[str, Any]:
    runs = await ctx.runtime.runs.log(args.action, args.status, args.limit, args.offset, args.before)
    return {
        "runs": [{**run.result(), "input": run.input, "mode": run.mode, "role": run.role} for run in runs],
        # Where the next page starts (`before`), while this one was full.
        "next": runs[-1].id if len(runs) == args.limit else None,
    }
