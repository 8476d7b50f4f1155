"""The `switchboard` command: `serve` runs the server; `metadata` (rpc/cli_metadata.py), `actions`,
`runs` (rpc/cli_runs.py) and `users` administer a running one over its HTTP API (`--endpoint`,
`--admin-secret`, `--api-key`, `-o`: before or after the command).

Exit status: 0 success; 1 a request the server refused (its `error` and `path` are printed), a
server that cannot be reached, or `metadata diff` finding differences; 2 usage errors and
project files that cannot be read or written; 3 `metadata apply --fail-on-breaking` refusing a
change that breaks a role's GraphQL schema.

Start-up time matters for scripts that call it in a loop: only click is imported up front; the HTTP
client, YAML, msgspec and the project reader (GraphQL) are imported by the commands that use them.
"""

from __future__ import annotations

import json
import sys
from typing import Any

import click

from rpc.cli_init import init
from rpc.cli_metadata import metadata
from rpc.cli_runs import runs
from rpc.cli_session import AdminGroup, Session, fail, session_options, table


@click.group(params=session_options(first=True))
@click.version_option(package_name="switchboard", message="%(prog)s %(version)s")
@click.pass_context
def main(ctx: click.Context, endpoint: str, admin_secret: str | None, api_key: str | None, output: str) -> None:
    """Switchboard: a declarative actions service."""
    from rpc.packages import foreign_package

    problem = foreign_package()
    if problem is not None:
        raise SystemExit(problem)  # printed on stderr, exit status 1
    ctx.obj = Session(endpoint, admin_secret, api_key, output)


class _Workers(click.ParamType):  # type: ignore[type-arg]
    name = "N|auto"

    def convert(self, value: Any, param: click.Parameter | None, ctx: click.Context | None) -> int | str:
        if value == "auto" or (isinstance(value, int) and value >= 1):
            return value  # type: ignore[no-any-return]
        if isinstance(value, str) and value.isdigit() and int(value) >= 1:
            return int(value)
        self.fail(f"{value!r} is not a number of processes (1 or more) or auto", param, ctx)


@main.command()
@click.option("--config", "config_path", type=click.Path(dir_okay=False), help="YAML settings file.")
@click.option("--host", help="Overrides the `host` setting.")
@click.option("--port", type=int, help="Overrides the `port` setting.")
@click.option(
    "--workers",
    type=_Workers(),
    help="Server processes sharing the port and the store; auto: one per core. Overrides the `workers` setting.",
)
def serve(config_path: str | None, host: str | None, port: int | None, workers: int | str | None) -> None:
    """Start the server."""
    from rpc.config import ConfigError, load_config
    from rpc.server import StartupFailed, serve

    try:
        serve(load_config(config_path), host, port, workers)
    except (ConfigError, StartupFailed) as exc:
        fail(str(exc), 1)


# --- actions -------------------------------------------------------------------------------------


@main.group(cls=AdminGroup)
def actions() -> None:
    """Run actions and read their runs."""


@actions.command("run")
@click.argument("name")
@click.option("--input", "input_", default="{}", show_default=True, help="The action's arguments, as JSON.")
@click.option("--role", help="Run as this role (X-Hasura-Role).")
@click.option("--dry-run", is_flag=True, help="Show what the run would do (request, statements, row); do nothing.")
@click.pass_obj
def run(session: Session, name: str, input_: str, role: str | None, dry_run: bool) -> None:
    """Run the action NAME; prints its output, or the id of an asynchronous run."""
    try:
        arguments = json.loads(input_)
    except ValueError as exc:
        raise click.BadParameter(f"not JSON: {exc}", param_hint="--input") from None
    args = {"name": name, "input": arguments, **({"dry_run": True} if dry_run else {})}
    answer = session.call("run_action", args, role=role)
    if dry_run:
        session.emit(answer, json.dumps(answer, indent=2))
    elif "action_id" in answer:
        session.emit(answer, f"action_id: {answer['action_id']}")
    else:
        session.emit(answer, json.dumps(answer.get("output"), indent=2))


@actions.command()
@click.argument("run_id", metavar="ID")
@click.pass_obj
def result(session: Session, run_id: str) -> None:
    """Show an asynchronous run's status and result.

    ID is the run's id: the action_id that `actions run` printed."""
    answer = session.call("get_action_result", {"id": run_id})
    lines = [f"{k}: {answer[k]}" for k in answer if k not in ("output", "errors")]
    for key in ("output", "errors"):
        if answer.get(key) is not None:
            lines.append(f"{key}: {json.dumps(answer[key], indent=2)}")
    session.emit(answer, "\n".join(lines))


@actions.command()
@click.option("--action", help="Only the runs of this action.")
@click.option(
    "--status",
    type=click.Choice(["created", "processing", "completed", "error"]),
    help="Only the runs in this state: created (queued), processing, completed or error.",
)
@click.option("--limit", type=click.IntRange(min=1), default=20, show_default=True)
@click.option("--offset", type=click.IntRange(min=0), default=0)
@click.pass_obj
def log(session: Session, action: str | None, status: str | None, limit: int, offset: int) -> None:
    """List action runs, newest first."""
    args: dict[str, Any] = {"limit": limit, "offset": offset}
    args |= {k: v for k, v in (("action", action), ("status", status)) if v is not None}
    answer = session.call("get_action_log", args)
    columns = ["id", "action", "status", "mode", "role", "attempts", "created_at", "updated_at"]
    session.emit(answer, table(answer["runs"], columns))


# --- users ---------------------------------------------------------------------------------------


@main.group(cls=AdminGroup)
def users() -> None:
    """People who sign in to Metabase's REST API (/api/session)."""


@users.command("create")
@click.argument("email")
@click.option("--superuser", is_flag=True, help="Switchboard's admin in Metabase's API.")
@click.option("--role", help='The role a non-superuser acts as (default "user").')
@click.option("--first-name")
@click.option("--last-name")
@click.option("--password-stdin", is_flag=True, help="Read the password from stdin (else it is asked for).")
@click.pass_obj
def create_user(
    session: Session,
    email: str,
    superuser: bool,
    role: str | None,
    first_name: str | None,
    last_name: str | None,
    password_stdin: bool,
) -> None:
    """Make a user who signs in with EMAIL and a password (asked for, never echoed)."""
    if password_stdin:
        password = sys.stdin.readline().rstrip("\n")
    else:
        password = click.prompt("Password", hide_input=True, confirmation_prompt=True, err=True)
    args: dict[str, Any] = {"email": email, "password": password, "superuser": superuser}
    args |= {k: v for k, v in (("role", role), ("first_name", first_name), ("last_name", last_name)) if v}
    answer = session.call("create_user", args)
    kind = "superuser" if answer["superuser"] else f"user acting as {answer['role'] or 'user'}"
    session.emit(answer, f"created {kind} {answer['email']} (id {answer['id']})")


main.add_command(init)
main.add_command(metadata)
main.add_command(runs)
