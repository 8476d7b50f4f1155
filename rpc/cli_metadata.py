"""`switchboard metadata`: the server's metadata as Hasura project files (export, apply, diff),
and its versions (history, rollback, status, reload, clear), over the HTTP API as an admin.

Only click is imported up front, as for every command (rpc/cli.py).
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

import click

from rpc.cli_init import metadata_dir
from rpc.cli_session import AdminGroup, Session, fail, table


@click.group(cls=AdminGroup)
def metadata() -> None:
    """Export, apply, diff and version the server's metadata (Hasura project files)."""


# Switchboard's own Python packages. Run from a checkout, `metadata/` is the `metadata` package, not
# a Hasura project: exporting there would overwrite source files, and applying or diffing it would
# read an empty project (applying it would remove every action).
_OWN_PACKAGES = ("rpc", "handlers", "metadata")


def refuse_own_package(target: str, instead: str) -> None:
    """Exit 2 when TARGET is, or is inside, one of the installed Switchboard's own packages."""
    if target == "-":
        return
    import importlib.util

    resolved = Path(target).resolve()
    for name in _OWN_PACKAGES:
        spec = importlib.util.find_spec(name)
        for location in (spec.submodule_search_locations or []) if spec else []:
            package = Path(location).resolve()
            if resolved == package or package in resolved.parents:
                fail(
                    f"{target} is Switchboard's own Python package `{name}` ({package}), not a Hasura project; "
                    f"{instead}",
                    2,
                )


def load_source(source: str) -> dict[str, Any]:
    """The document of a project directory, or of a JSON/YAML file (`-`: stdin)."""
    from metadata.files import FileFormatError, parse_file

    refuse_own_package(source, "use a project directory of your own, e.g. my-project/metadata")
    path = metadata_dir(Path(source)) if source != "-" else Path(source)
    try:
        if source != "-" and path.is_dir():
            from metadata.project import ProjectError, read_project

            try:
                return read_project(path)
            except ProjectError as exc:
                fail(str(exc), 2)
        data = sys.stdin.buffer.read() if source == "-" else path.read_bytes()
        document = parse_file(data, path.suffix)
    except OSError as exc:
        fail(f"{source}: {exc.strerror}", 2)
    except FileFormatError as exc:
        fail(f"{source}: {exc}", 2)
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
@click.option(
    "--reveal-secrets",
    is_flag=True,
    help="Write passwords in data source URLs as they are (a backup); by default they are written as ***, "
    "which applying the files back to this server keeps.",
)
@click.pass_obj
def export(session: Session, target: str, format_: str | None, reveal_secrets: bool) -> None:
    """Write the server's metadata to TARGET."""
    format_ = _format_of(target, format_)
    if format_ == "project" and target == "-":
        raise click.UsageError("a project is a directory; use --format json or yaml for stdout")
    refuse_own_package(target, "export to a directory of your own, e.g. my-project/metadata")
    if format_ == "project":
        target = str(metadata_dir(Path(target)))
    answer = session.call("export_metadata", {"reveal_secrets": True} if reveal_secrets else {}, version=2)
    document, version = answer["metadata"], answer["resource_version"]
    if format_ == "project":
        from metadata.project import ProjectError, write_project

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
        import yaml

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
                import difflib

                before = json.dumps(item["from"], indent=2, sort_keys=True).splitlines()
                after = json.dumps(item["to"], indent=2, sort_keys=True).splitlines()
                diff = difflib.unified_diff(before, after, "server", "files", lineterm="", n=2)
                lines += [f"    {line}" for line in list(diff)[2:]]
    return lines


def _schema_changes(preview: dict[str, Any]) -> tuple[list[str], int]:
    """(a line per change to a role's GraphQL schema, how many would break its clients)."""
    graphql = preview.get("graphql") or {}
    breaking = [f"! breaking for role {c['role']}: {c['description']}" for c in graphql.get("breaking") or []]
    dangerous = [f"? dangerous for role {c['role']}: {c['description']}" for c in graphql.get("dangerous") or []]
    return breaking + dangerous, len(breaking)


def _inconsistencies(answer: dict[str, Any]) -> list[str]:
    return [
        f"! inconsistent {o.get('type')} {o.get('name')}: {o.get('reason')}"
        for o in answer.get("inconsistent_objects") or []
    ]


@metadata.command()
@click.argument("source")
@click.option("--dry-run", is_flag=True, help="Show what would change; change nothing.")
@click.option("--allow-inconsistent", is_flag=True, help="Store the metadata even where it is inconsistent.")
@click.option(
    "--fail-on-breaking",
    is_flag=True,
    help="Apply nothing and exit 3 when the change would break a role's GraphQL schema (for CI).",
)
@click.pass_obj
def apply(session: Session, source: str, dry_run: bool, allow_inconsistent: bool, fail_on_breaking: bool) -> None:
    """Replace the server's metadata by SOURCE (a project directory, or a JSON/YAML file)."""
    document = load_source(source)
    current, preview = _preview(session, document, allow_inconsistent)
    changes = preview.get("changes") or {"added": [], "removed": [], "changed": []}
    answer: dict[str, Any] = {"applied": False, "dry_run": dry_run, "changes": changes, **preview}
    schema_lines, breaking = _schema_changes(preview)
    if fail_on_breaking and breaking:
        lines = [*_describe(changes, details=False), *schema_lines]
        lines.append(f"refused: {breaking} breaking change(s) to GraphQL schemas (--fail-on-breaking); nothing applied")
        session.emit(answer, "\n".join(lines))
        sys.exit(3)
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
    session.emit(answer, "\n".join(lines + schema_lines + _inconsistencies(answer)))


@metadata.command()
@click.argument("source")
@click.pass_obj
def diff(session: Session, source: str) -> None:
    """Compare SOURCE with the server: what `apply SOURCE` would change. Exit 1 when they differ."""
    _, preview = _preview(session, load_source(source), allow_inconsistent=True)
    changes = preview.get("changes") or {}
    count = _count(changes)
    schema_lines, _ = _schema_changes(preview)
    session.emit(
        {"differs": bool(count), "changes": changes, "graphql": preview.get("graphql")},
        "\n".join(
            [*_describe(changes, details=True), *schema_lines, f"{count} difference(s)" if count else "no differences"]
        ),
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


# What `clear` names, kind by kind: (key in its -o json answer, singular, plural).
_KINDS = (
    ("actions", "action", "actions"),
    ("permissions", "permission", "permissions"),
    ("custom_types", "custom type", "custom types"),
    ("data_sources", "data source", "data sources"),
    ("public_links", "public link", "public links"),
    ("metabase_models", "Metabase model", "Metabase models"),
    ("metabase_settings", "Metabase database setting", "Metabase database settings"),
    ("kept_sections", "kept Hasura section", "kept Hasura sections"),
)


def contents(document: dict[str, Any]) -> dict[str, list[str]]:
    """Everything a document holds, by kind (the kinds it has none of left out): what `clear`
    removes."""
    actions = document.get("actions") or []
    # Metabase's fields of an action go with the action (it is named among them).
    own = (
        "version", "actions", "custom_types", "data_sources", "public_links",
        "metabase_actions", "metabase_models", "metabase_databases",
    )  # fmt: skip
    found = {
        "actions": [str(a.get("name")) for a in actions],
        "permissions": [f"{p.get('role')} on {a.get('name')}" for a in actions for p in a.get("permissions") or []],
        "custom_types": [
            str(t.get("name")) for section in (document.get("custom_types") or {}).values() for t in section or []
        ],
        "data_sources": [str(s.get("name")) for s in document.get("data_sources") or []],
        "public_links": [f"on {link.get('action')}" for link in document.get("public_links") or []],
        "metabase_models": [str(m.get("name")) for m in document.get("metabase_models") or []],
        "metabase_settings": [f"of {d.get('source')}" for d in document.get("metabase_databases") or []],
        "kept_sections": [key for key, value in document.items() if key not in own and value not in ([], {}, None)],
    }
    return {kind: names for kind, names in found.items() if names}


def _described(removed: dict[str, list[str]]) -> list[str]:
    """`6 actions: a, b, ...` per kind (ten names at most)."""
    lines = []
    for key, one, many in _KINDS:
        names = removed.get(key)
        if names:
            shown = ", ".join(names[:10]) + (f", and {len(names) - 10} more" if len(names) > 10 else "")
            lines.append(f"{len(names)} {one if len(names) == 1 else many}: {shown}")
    return lines


@metadata.command()
@click.option("--yes", is_flag=True, help="Do not ask for confirmation.")
@click.pass_obj
def clear(session: Session, yes: bool) -> None:
    """Remove all metadata (a new, empty version; roll back to undo). Names what it removes, and
    asks first unless --yes."""
    before = session.call("export_metadata", {}, version=2)
    version, removed = before["resource_version"], contents(before["metadata"])
    if not removed:
        session.emit({"message": "success", "resource_version": version, "removed": {}}, "nothing to clear")
        return
    if not yes:
        # On stderr, so that `-o json` output stays one JSON document.
        click.echo("This removes:\n" + "".join(f"  {line}\n" for line in _described(removed)), nl=False, err=True)
        click.echo("Action runs and API keys are kept.", err=True)
        click.confirm("Remove all of it?", abort=True, err=True)
    # At the version just read: if the metadata changed since, the server refuses (409) rather than
    # remove something that was not named.
    answer = session.call("clear_metadata", {}, resource_version=version)
    text = [f"removed {line}" for line in _described(removed)]
    text.append(
        f"cleared: resource version {answer.get('resource_version')} "
        f"(`switchboard metadata rollback {version}` undoes it)"
    )
    session.emit({**answer, "removed": removed}, "\n".join(text))
