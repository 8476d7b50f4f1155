"""The `switchboard` command: `serve` runs the server; `metadata` and `actions` administer a running
one over its HTTP API (`--endpoint`, `--admin-secret`).

Exit status: 0 success; 1 a request the server refused (its `error` and `path` are printed), a
server that cannot be reached, or `metadata diff` finding differences; 2 usage errors and
project files that cannot be read.
"""

from __future__ import annotations

import difflib
import json
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any, NoReturn

import click
import yaml

from metadata.project import ProjectError, read_project, write_project
from rpc.client import Client, ConnectionFailed, ServerError

DEFAULT_ENDPOINT = "http://127.0.0.1:8080"


@dataclass
class Session:
    client: Client
    output: str

    @property
    def json(self) -> bool:
        return self.output == "json"

    def call(self, type_: str, args: Any = None, **extra: Any) -> Any:
        """The server's answer, or exit 1 with its error and path (never a traceback)."""
        try:
            return self.client.query(type_, args, **extra)
        except ServerError as exc:
            if self.json:
                click.echo(json.dumps(exc.body), err=True)
            else:
                click.echo(f"error: {exc.body.get('error')}", err=True)
                for key in ("path", "code"):
                    if exc.body.get(key) is not None:
                        click.echo(f"  {key}: {exc.body[key]}", err=True)
                if exc.body.get("internal") is not None:
                    click.echo(f"  internal: {json.dumps(exc.body['internal'])}", err=True)
            sys.exit(1)
        except ConnectionFailed as exc:
            fail(str(exc), 1)

    def emit(self, answer: Any, text: str | None = None) -> None:
        """`answer` as JSON with `-o json`, else `text` (or the answer, indented)."""
        if self.json or text is None:
            click.echo(json.dumps(answer, indent=None if self.json else 2))
        else:
            click.echo(text)


def fail(message: str, code: int) -> NoReturn:
    click.echo(f"error: {message}", err=True)
    sys.exit(code)


def table(rows: list[dict[str, Any]], columns: list[str]) -> str:
    cells = [columns] + [["" if r.get(c) is None else str(r.get(c)) for c in columns] for r in rows]
    widths = [max(len(row[i]) for row in cells) for i in range(len(columns))]
    return "\n".join("  ".join(v.ljust(w) for v, w in zip(row, widths, strict=True)).rstrip() for row in cells)


@click.group()
@click.version_option(package_name="switchboard", message="%(prog)s %(version)s")
@click.option(
    "--endpoint",
    envvar="SWITCHBOARD_ENDPOINT",
    default=DEFAULT_ENDPOINT,
    show_default=True,
    help="URL of the server to administer (env SWITCHBOARD_ENDPOINT).",
)
@click.option("--admin-secret", envvar="SWITCHBOARD_ADMIN_SECRET", help="Admin secret (env SWITCHBOARD_ADMIN_SECRET).")
@click.option(
    "--api-key", envvar="SWITCHBOARD_API_KEY", help="API key, instead of the secret (env SWITCHBOARD_API_KEY)."
)
@click.option(
    "-o", "--output", type=click.Choice(["table", "json"]), default="table", show_default=True, help="Output format."
)
@click.pass_context
def main(ctx: click.Context, endpoint: str, admin_secret: str | None, api_key: str | None, output: str) -> None:
    """Switchboard: a declarative actions service."""
    ctx.obj = Session(Client(endpoint, admin_secret, api_key), output)


@main.command()
@click.option("--config", "config_path", type=click.Path(dir_okay=False), help="YAML settings file.")
@click.option("--host", help="Overrides the `host` setting.")
@click.option("--port", type=int, help="Overrides the `port` setting.")
def serve(config_path: str | None, host: str | None, port: int | None) -> None:
    """Start the server."""
    # Imported here so that the admin commands start fast.
    from rpc.config import ConfigError, load_config
    from rpc.server import StartupFailed, serve

    try:
        serve(load_config(config_path), host, port)
    except (ConfigError, StartupFailed) as exc:
        fail(str(exc), 1)


# --- metadata ------------------------------------------------------------------------------------


@main.group()
def metadata() -> None:
    """Export, apply, diff and version the server's metadata (Hasura project files)."""


def load_source(source: str) -> dict[str, Any]:
    """The document of a project directory, or of a JSON/YAML file (`-`: stdin)."""
    path = Path(source)
    try:
        if source != "-" and path.is_dir():
            return read_project(path)
        text = sys.stdin.read() if source == "-" else path.read_text(encoding="utf-8")
        document = yaml.safe_load(text)  # JSON is YAML
    except ProjectError as exc:
        fail(str(exc), 2)
    except OSError as exc:
        fail(f"{source}: {exc.strerror}", 2)
    except yaml.YAMLError as exc:
        fail(f"{source}: invalid JSON/YAML: {exc}", 2)
    if not isinstance(document, dict):
        fail(f"{source}: not a metadata document", 2)
    if set(document) == {"resource_version", "metadata"}:  # export_metadata's v2 answer
        document = document["metadata"]
    if not isinstance(document, dict):
        fail(f"{source}: not a metadata document", 2)
    return document


def _format_of(target: str, format_: str | None) -> str:
    if format_:
        return format_
    suffix = Path(target).suffix.lower()
    return {".json": "json", ".yaml": "yaml", ".yml": "yaml"}.get(suffix, "json" if target == "-" else "project")


@metadata.command("export")
@click.argument("target")
@click.option(
    "--format",
    "format_",
    type=click.Choice(["project", "json", "yaml"]),
    help="project: a Hasura project directory; json/yaml: one file (`-`: stdout). "
    "Default: from the target's suffix, else project.",
)
@click.pass_obj
def export(session: Session, target: str, format_: str | None) -> None:
    """Write the server's metadata to TARGET."""
    format_ = _format_of(target, format_)
    if format_ == "project" and target == "-":
        raise click.UsageError("a project is a directory; use --format json or yaml for stdout")
    answer = session.call("export_metadata", {}, version=2)
    document, version = answer["metadata"], answer["resource_version"]
    if format_ == "project":
        try:
            files = write_project(document, target)
        except (ProjectError, OSError) as exc:
            fail(str(exc), 2)
        session.emit(
            {"resource_version": version, "directory": target, "files": files},
            f"exported resource version {version} to {target}: {', '.join(files)}",
        )
        return
    if format_ == "json":
        text = json.dumps(document, indent=2, ensure_ascii=False) + "\n"
    else:
        text = yaml.safe_dump(document, sort_keys=False, allow_unicode=True, default_flow_style=False, width=1000)
    if target == "-":
        click.echo(text, nl=False)
        return
    try:
        Path(target).write_text(text, encoding="utf-8")
    except OSError as exc:
        fail(f"{target}: {exc.strerror}", 2)
    session.emit({"resource_version": version, "file": target}, f"exported resource version {version} to {target}")


def _preview(session: Session, document: dict[str, Any], allow_inconsistent: bool) -> tuple[int, dict[str, Any]]:
    """(current resource version, the dry run's answer) of replacing the metadata by `document`."""
    current = session.call("export_metadata", {}, version=2)["resource_version"]
    args = {"metadata": document, "dry_run": True, "allow_inconsistent_metadata": allow_inconsistent}
    return current, session.call("replace_metadata", args, version=2, resource_version=current)


def _count(changes: dict[str, Any]) -> int:
    return sum(len(changes.get(k) or []) for k in ("added", "removed", "changed"))


def _describe(changes: dict[str, Any], details: bool) -> list[str]:
    lines = []
    for mark, key in (("+", "added"), ("-", "removed"), ("~", "changed")):
        for item in changes.get(key) or []:
            lines.append(f"{mark} {item['type']} {item['name']}")
            if details and key == "changed":
                before = json.dumps(item["from"], indent=2, sort_keys=True).splitlines()
                after = json.dumps(item["to"], indent=2, sort_keys=True).splitlines()
                diff = difflib.unified_diff(before, after, "server", "files", lineterm="", n=2)
                lines += [f"    {line}" for line in list(diff)[2:]]
    return lines


def _inconsistencies(answer: dict[str, Any]) -> list[str]:
    return [
        f"! inconsistent {o.get('type')} {o.get('name')}: {o.get('reason')}"
        for o in answer.get("inconsistent_objects") or []
    ]


@metadata.command()
@click.argument("source")
@click.option("--dry-run", is_flag=True, help="Show what would change; change nothing.")
@click.option("--allow-inconsistent", is_flag=True, help="Store the metadata even where it is inconsistent.")
@click.pass_obj
def apply(session: Session, source: str, dry_run: bool, allow_inconsistent: bool) -> None:
    """Replace the server's metadata by SOURCE (a project directory, or a JSON/YAML file)."""
    document = load_source(source)
    current, preview = _preview(session, document, allow_inconsistent)
    changes = preview.get("changes") or {"added": [], "removed": [], "changed": []}
    answer: dict[str, Any] = {"applied": False, "dry_run": dry_run, "changes": changes, **preview}
    if not dry_run and _count(changes):
        args = {"metadata": document, "dry_run": False, "allow_inconsistent_metadata": allow_inconsistent}
        result = session.call("replace_metadata", args, version=2, resource_version=current)
        answer |= {**result, "applied": True}
    lines = _describe(changes, details=False)
    if not _count(changes):
        lines.append(f"no changes (resource version {current})")
    elif dry_run:
        lines.append(f"dry run: {_count(changes)} change(s) not applied (resource version {current})")
    else:
        lines.append(f"applied {_count(changes)} change(s): resource version {answer.get('resource_version')}")
    session.emit(answer, "\n".join(lines + _inconsistencies(answer)))


@metadata.command()
@click.argument("source")
@click.pass_obj
def diff(session: Session, source: str) -> None:
    """Compare SOURCE with the server: what `apply SOURCE` would change. Exit 1 when they differ."""
    _, preview = _preview(session, load_source(source), allow_inconsistent=True)
    changes = preview.get("changes") or {}
    count = _count(changes)
    session.emit(
        {"differs": bool(count), "changes": changes},
        "\n".join([*_describe(changes, details=True), f"{count} difference(s)" if count else "no differences"]),
    )
    sys.exit(1 if count else 0)


@metadata.command()
@click.option("--limit", type=click.IntRange(min=1), default=20, show_default=True)
@click.option("--before", type=int, help="List the versions before this one.")
@click.pass_obj
def history(session: Session, limit: int, before: int | None) -> None:
    """List the metadata versions, newest first."""
    args: dict[str, Any] = {"limit": limit} | ({"before": before} if before is not None else {})
    answer = session.call("get_metadata_history", args)
    session.emit(answer, table(answer["versions"], ["resource_version", "created_at", "operation", "role"]))


@metadata.command()
@click.argument("version", type=int)
@click.pass_obj
def rollback(session: Session, version: int) -> None:
    """Make the metadata what it was at VERSION (as a new version)."""
    answer = session.call("rollback_metadata", {"to_version": version})
    session.emit(answer, f"rolled back to version {version}: resource version {answer.get('resource_version')}")


@metadata.command()
@click.pass_obj
def status(session: Session) -> None:
    """Show the inconsistent objects of the current metadata."""
    answer = session.call("get_inconsistent_metadata", {})
    text = "consistent" if answer.get("is_consistent") else "\n".join(_inconsistencies(answer))
    session.emit(answer, text)


@metadata.command()
@click.pass_obj
def reload(session: Session) -> None:
    """Re-read the current version from the store."""
    answer = session.call("reload_metadata", {})
    session.emit(answer, "reloaded: " + ("consistent" if answer.get("is_consistent") else "inconsistent"))


@metadata.command()
@click.option("--yes", is_flag=True, help="Do not ask for confirmation.")
@click.pass_obj
def clear(session: Session, yes: bool) -> None:
    """Remove all metadata (a new, empty version; roll back to undo)."""
    if not yes:
        click.confirm("Remove all actions, permissions and custom types?", abort=True, err=True)
    answer = session.call("clear_metadata", {})
    session.emit(answer, f"cleared: resource version {answer.get('resource_version')}")


# --- actions -------------------------------------------------------------------------------------


@main.group()
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
    """Show the run ID of an asynchronous action."""
    answer = session.call("get_action_result", {"id": run_id})
    lines = [f"{k}: {answer[k]}" for k in answer if k not in ("output", "errors")]
    for key in ("output", "errors"):
        if answer.get(key) is not None:
            lines.append(f"{key}: {json.dumps(answer[key], indent=2)}")
    session.emit(answer, "\n".join(lines))


@actions.command()
@click.option("--action", help="Only the runs of this action.")
@click.option("--status", type=click.Choice(["created", "processing", "completed", "error"]))
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
