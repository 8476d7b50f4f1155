"""run_action, get_action_result, get_action_log: running actions and reading their runs.

run_action {name, input?, dry_run?}: any role holding a permission on the action (or admin). To
any other role the action does not exist: the same answer as an unknown name, so names do not
leak. `input` is validated against the arguments (declared, or a table action's derived ones)
before anything runs. A synchronous action answers {"output": ...}; an asynchronous one
{"action_id": "<uuid>"} as soon as the run is durably queued. The action runs by its kind
(handlers/execution/executors.py): a webhook, sql statements, or one table row.
`dry_run: true` (admin only: it shows statements and requests) answers {dry_run, kind, ...} with what
would happen, and does nothing: the HTTP request after transforms, the statements with their
parameters, or a table statement with the rows it would touch.
get_action_result {id}: {id, action, status, output, errors, created_at, updated_at, attempts};
visible to admin, and to the role and x-hasura-user-id that created the run.
get_action_log {action?, status?, limit?, offset?} (admin): {runs: [...]}, newest first: every
async run, and sync runs when `audit_sync_runs` is on; each run as get_action_result shows it,
with its `input`, `mode` (sync or async) and `role`.

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

from handlers.context import Call, Context, Runtime, Session
from handlers.execution.executors import executor
from handlers.execution.webhook import forwardable
from handlers.telemetry import outcome, with_request_id
from metadata.actions import Action
from metadata.errors import AccessDenied, NotExists, SwitchboardError, ValidationFailed
from metadata.objects import View
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
    status: Literal["created", "processing", "completed", "error"] | None = None
    limit: Annotated[int, msgspec.Meta(ge=1, le=1000)] = 100
    offset: StoredInt = 0


def _permitted(action: object, session: Session) -> bool:
    return isinstance(action, Action) and (session.is_admin or any(p.role == session.role for p in action.permissions))


async def runnable(runtime: Runtime, session: Session, name: str) -> Action:
    """The action, from the in-memory view; on a miss, another server may just have defined it
    (or granted the permission), so catch up once before saying it does not exist."""
    action = runtime.store.state.get("action", name)
    if not _permitted(action, session):
        await runtime.store.sync()
        action = runtime.store.state.get("action", name)
    if not _permitted(action, session):
        raise NotExists(f'action with name "{name}" does not exist', "$.name")
    assert isinstance(action, Action)
    return action


def error_body(exc: SwitchboardError) -> dict[str, Any]:
    """How a failed run records its error (the shape of an error answer)."""
    body: dict[str, Any] = {"path": exc.path, "error": exc.message, "code": exc.code}
    if exc.extensions is not None:
        body["extensions"] = exc.extensions
    return body


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
    since = time.time()
    view = runtime.store.state
    runner = executor(action)
    signed = action if runner.signature is None else await runner.signature(runtime, action, view)
    try:
        given = validate_input(signed, input, view)
    except InputError as exc:
        raise ValidationFailed(exc.message, "$.input" + exc.path[1:]) from None
    forwarded = forwardable(session.headers) if action.definition.forward_client_headers else {}
    if dry_run:
        preview = await runner.preview(runtime, Call(action, given, session.variables, forwarded), view)
        return {"dry_run": True, "kind": action.definition.handler_kind, **preview}
    if action.definition.is_async:
        run_id = await runtime.runs.add(
            action=action.name,
            mode="async",
            input=given,
            session=session.variables,
            headers=with_request_id(forwarded),
            role=session.role,
            lease_seconds=action.definition.timeout + runtime.lease_margin,
        )
        runtime.wake()
        return {"action_id": run_id}
    call = Call(action, given, session.variables, forwarded)
    try:
        output = await run_call(runtime, call, view, "sync", since)
    except SwitchboardError as exc:
        if runtime.audit_sync_runs:
            await _audit(runtime, call, session, errors=error_body(exc))
        raise
    if runtime.audit_sync_runs:
        await _audit(runtime, call, session, output=output)
    return {"output": output}


async def run_call(runtime: Runtime, call: Call, view: View, kind: str, since: float) -> Any:
    """Run a call by its executor: the one place where runs, sync and async, are timed and counted
    (`since`: when the run was accepted or queued, time.time())."""
    begun = time.time()
    action = call.action
    try:
        output = await executor(action).run(runtime, call, view)
    except Exception as exc:
        runtime.metrics.ran(action.name, kind, action.definition.handler_kind, since, begun, exc)
        if isinstance(exc, SwitchboardError) and outcome(exc) in ("failed", "timeout"):
            # The operator's concern too (a handler or source down or slow), not only the caller's.
            log.warning(
                'action "%s" %s (%s run, %d %s): %s', action.name, outcome(exc), kind, exc.status, exc.code, exc.message
            )
        raise
    runtime.metrics.ran(action.name, kind, action.definition.handler_kind, since, begun, None)
    return output


async def _audit(runtime: Runtime, call: Call, session: Session, output: Any = None, errors: Any = None) -> None:
    await runtime.runs.add(
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
    )


async def get_action_result(ctx: Context, args: GetActionResult) -> dict[str, Any]:
    run = await ctx.runtime.runs.get(args.id)
    session = ctx.session
    if run is None or not (
        session.is_admin or (run.role == session.role and run.user_id == session.variables.get("x-hasura-user-id"))
    ):
        raise NotExists(f'action result with id "{args.id}" does not exist', "$.id")
    return run.result()


async def get_action_log(ctx: Context, args: GetActionLog) -> dict[str, Any]:
    runs = await ctx.runtime.runs.log(args.action, args.status, args.limit, args.offset)
    return {"runs": [{**run.result(), "input": run.input, "mode": run.mode, "role": run.role} for run in runs]}
