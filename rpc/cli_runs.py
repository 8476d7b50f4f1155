"""`switchboard runs`: the run log, and runs replayed or cancelled (get_action_log,
get_action_result, replay_action_run(s), cancel_action_run(s)) on a running server, as an admin.

Only click is imported up front, as for every command (rpc/cli.py).
"""

from __future__ import annotations

import json
import sys
from typing import Any

import click

from rpc.cli_session import AdminGroup, Session, table

STATUSES = ["created", "processing", "completed", "error", "cancelled"]
COLUMNS = ["id", "action", "status", "mode", "role", "attempts", "created_at", "replay_of"]


@click.group(cls=AdminGroup)
def runs() -> None:
    """Action runs: list them, show one, replay them, cancel queued ones."""


def _window(options: dict[str, Any]) -> dict[str, Any]:
    """The filter options that were given, as the server's args."""
    return {key: value for key, value in options.items() if value is not None}


@runs.command("list")
@click.option("--action", help="Only the runs of this action.")
@click.option(
    "--status",
    type=click.Choice(STATUSES),
    help="Only the runs in this state: created (queued), processing, completed, error or cancelled.",
)
@click.option("--limit", type=click.IntRange(1, 1000), default=20, show_default=True)
@click.option("--before", metavar="ID", help="The page after this run (the `next` of the page before).")
@click.pass_obj
def list_(session: Session, action: str | None, status: str | None, limit: int, before: str | None) -> None:
    """List runs, newest first; a replay names the run it replays."""
    args = {"limit": limit, **_window({"action": action, "status": status, "before": before})}
    answer = session.call("get_action_log", args)
    text = table(answer["runs"], COLUMNS)
    if answer.get("next"):
        text += f"\n(more: --before {answer['next']})"
    session.emit(answer, text)


@runs.command()
@click.argument("run_id", metavar="ID")
@click.pass_obj
def show(session: Session, run_id: str) -> None:
    """Show a run: its status, output or errors, and who replayed or cancelled it."""
    answer = session.call("get_action_result", {"id": run_id})
    lines = [f"{k}: {answer[k]}" for k in answer if k not in ("output", "errors", "replayed_by", "cancelled_by")]
    for key in ("replayed_by", "cancelled_by"):
        if answer.get(key) is not None:
            lines.append(f"{key}: " + ", ".join(f"{k} {v}" for k, v in answer[key].items()))
    for key in ("output", "errors"):
        if answer.get(key) is not None:
            lines.append(f"{key}: {json.dumps(answer[key], indent=2)}")
    session.emit(answer, "\n".join(lines))


def _filter_options(command: Any) -> Any:
    for option in reversed(
        [
            click.option("--action", help="Only the runs of this action."),
            click.option(
                "--since", metavar="TIME", help="Only runs created at or after TIME (RFC 3339; UTC if no offset)."
            ),
            click.option("--until", metavar="TIME", help="Only runs created before TIME."),
        ]
    ):
        command = option(command)
    return command


@runs.command()
@click.argument("ids", metavar="[ID]...", nargs=-1)
@click.option("--all", "all_", is_flag=True, help="Replay every run the filter selects (failed ones by default).")
@_filter_options
@click.option(
    "--status",
    type=click.Choice(["error", "completed", "cancelled"]),
    default="error",
    show_default=True,
    help="With --all: the runs in this state.",
)
@click.option(
    "--limit", type=click.IntRange(1, 1000), default=100, show_default=True, help="With --all: at most this many."
)
@click.pass_obj
def replay(
    session: Session,
    ids: tuple[str, ...],
    all_: bool,
    action: str | None,
    since: str | None,
    until: str | None,
    status: str,
    limit: int,
) -> None:
    """Run the runs ID... again (or, with --all, the failed runs of a filter), each as a new run,
    as the role that started it, under today's metadata.

    A run replayed already is left out by --all, so running it twice replays each failure once.
    Exit status 1 when a run was refused (its role may no longer run the action, ...)."""
    if bool(ids) == all_:
        raise click.UsageError("give the ids of runs to replay, or --all (with its filter), not both")
    if ids:
        answers = [session.call("replay_action_run", {"id": run_id}) for run_id in ids]
        text = "\n".join(f"replayed {a['replay_of']} as {a['id']}: {a['status']}" for a in answers)
        session.emit(answers if len(answers) > 1 else answers[0], text)
        return
    args = {"status": status, "limit": limit, **_window({"action": action, "since": since, "until": until})}
    answer = session.call("replay_action_runs", args)
    lines = [f"replayed {r['replay_of']} as {r['id']}" for r in answer["replayed"]]
    lines += [f"refused {r['id']}: {r['error']} ({r['code']})" for r in answer["refused"]]
    lines.append(f"replayed {len(answer['replayed'])} run(s), refused {len(answer['refused'])}")
    session.emit(answer, "\n".join(lines))
    if answer["refused"]:
        sys.exit(1)


@runs.command()
@click.argument("ids", metavar="[ID]...", nargs=-1)
@click.option("--all", "all_", is_flag=True, help="Cancel every queued run the filter selects.")
@_filter_options
@click.option(
    "--limit", type=click.IntRange(1, 10_000), default=1000, show_default=True, help="With --all: at most this many."
)
@click.pass_obj
def cancel(
    session: Session,
    ids: tuple[str, ...],
    all_: bool,
    action: str | None,
    since: str | None,
    until: str | None,
    limit: int,
) -> None:
    """Cancel the queued runs ID... (or, with --all, the queued runs of a filter): they are never
    delivered. A run that has started cannot be cancelled (exit status 1, saying so)."""
    if bool(ids) == all_:
        raise click.UsageError("give the ids of runs to cancel, or --all (with its filter), not both")
    if ids:
        answers = [session.call("cancel_action_run", {"id": run_id}) for run_id in ids]
        session.emit(answers if len(answers) > 1 else answers[0], "\n".join(f"cancelled {a['id']}" for a in answers))
        return
    answer = session.call(
        "cancel_action_runs", {"limit": limit, **_window({"action": action, "since": since, "until": until})}
    )
    lines = [f"cancelled {run_id}" for run_id in answer["cancelled"]]
    lines.append(f"cancelled {len(answer['cancelled'])} run(s)")
    session.emit(answer, "\n".join(lines))
