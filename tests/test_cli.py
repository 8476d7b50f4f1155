"""The `switchboard` CLI as a subprocess against a real server process, and Hasura project
directories (metadata/project.py) on their own."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx2 as httpx
import pytest

from metadata.project import read_project, write_project
from tests.processes import ServerProcess, free_port
from tests.webhook import Webhook

SWITCHBOARD = str(Path(sys.executable).with_name("switchboard"))
# Real Hasura projects, copied with their licenses (tests/projects/README.txt).
REAL_PROJECTS = Path(__file__).parent / "projects"
PROJECTS = sorted(p.name for p in REAL_PROJECTS.iterdir() if (p / "metadata").is_dir())


@pytest.fixture
def server(tmp_path: Path) -> Iterator[ServerProcess]:
    process = ServerProcess(tmp_path, database_url=f"sqlite:///{tmp_path}/sb.db")
    try:
        yield process
    finally:
        process.stop()


def cli(server: ServerProcess, *args: str, input: str | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [SWITCHBOARD, "--endpoint", server.url, *args], capture_output=True, text=True, timeout=60, input=input
    )


def ok(server: ServerProcess, *args: str) -> str:
    done = cli(server, *args)
    assert done.returncode == 0, (done.stdout, done.stderr)
    return done.stdout


def current_version(server: ServerProcess) -> int:
    return int(server.query("export_metadata", {}, version=2)["resource_version"])


def files(directory: Path) -> dict[str, bytes]:
    return {str(p.relative_to(directory)): p.read_bytes() for p in sorted(directory.rglob("*")) if p.is_file()}


SAMPLE: dict[str, Any] = {
    "version": 3,
    "sources": [],
    "actions": [
        {
            "name": "create_user",
            "definition": {
                "handler": "{{ACTIONS_BASE_URL}}/create-user",
                "output_type": "UserOutput",
                "headers": [{"name": "X-Api-Key", "value_from_env": "USERS_API_KEY"}],
                "arguments": [
                    {"name": "user", "type": "UserInput!", "description": 'the "new" user'},
                    {"name": "plan", "type": "Plan"},
                ],
                "type": "mutation",
                "kind": "synchronous",
            },
            "comment": "signs a user up",
            "permissions": [{"role": "user", "comment": "self sign-up"}],
        },
        {
            "name": "me",
            "definition": {"handler": "http://localhost:3000/me", "output_type": "[UserOutput!]!", "type": "query"},
        },
    ],
    "custom_types": {
        "input_objects": [{"name": "UserInput", "fields": [{"name": "email", "type": "String!"}]}],
        "objects": [
            {
                "name": "UserOutput",
                "description": "A user.\n\nWith a second paragraph.",
                "fields": [
                    {"name": "id", "type": "Int!", "description": "its id"},
                    {"name": "email", "type": "String"},
                ],
            }
        ],
        "scalars": [{"name": "Date", "description": "ISO 8601"}],
        "enums": [
            {
                "name": "Plan",
                "values": [{"value": "FREE", "description": "no charge"}, {"value": "PRO", "is_deprecated": True}],
            }
        ],
    },
}


# --- project files, without a server -------------------------------------------------------------


@pytest.mark.parametrize("project", PROJECTS)
def test_shared_project_round_trips_through_files(project: str, tmp_path: Path) -> None:
    document = read_project(REAL_PROJECTS / project / "metadata")
    assert document["actions"]
    write_project(document, tmp_path / "out")
    assert read_project(tmp_path / "out") == document
    # Writing what was read back gives the same bytes.
    write_project(read_project(tmp_path / "out"), tmp_path / "again")
    assert files(tmp_path / "out") == files(tmp_path / "again")


def test_sample_round_trips_with_descriptions_and_templates(tmp_path: Path) -> None:
    write_project(SAMPLE, tmp_path)
    assert read_project(tmp_path) == SAMPLE
    listed = (tmp_path / "actions.yaml").read_text()
    assert "'{{ACTIONS_BASE_URL}}/create-user'" in listed
    assert "value_from_env: USERS_API_KEY" in listed
    assert "arguments" not in listed and "output_type" not in listed
    sdl = (tmp_path / "actions.graphql").read_text()
    assert "type Mutation {" in sdl and "type Query {" in sdl
    assert '"the \\"new\\" user"' in sdl and '"""\nA user.\n\nWith a second paragraph.\n"""' in sdl
    assert "PRO @deprecated" in sdl


def test_kept_sections_go_to_their_own_files_and_stale_ones_are_removed(tmp_path: Path) -> None:
    document = {**SAMPLE, "remote_schemas": [{"name": "legacy", "definition": {"url": "http://legacy"}}]}
    write_project(document, tmp_path)
    assert (tmp_path / "remote_schemas.yaml").exists()
    assert read_project(tmp_path) == document
    write_project(SAMPLE, tmp_path)
    assert not (tmp_path / "remote_schemas.yaml").exists()
    assert read_project(tmp_path) == SAMPLE


def test_hasura_kind_empty_and_includes_are_read(tmp_path: Path) -> None:
    (tmp_path / "databases").mkdir()
    (tmp_path / "databases" / "databases.yaml").write_text(
        '- name: default\n  kind: postgres\n  tables: "!include default/tables.yaml"\n'
    )
    (tmp_path / "databases" / "default").mkdir()
    (tmp_path / "databases" / "default" / "tables.yaml").write_text("- table: {schema: public, name: users}\n")
    (tmp_path / "actions.yaml").write_text(
        "actions:\n- name: q\n  definition:\n    kind: \"\"\n    handler: '{{BASE}}/q'\ncustom_types: {}\n"
    )
    (tmp_path / "actions.graphql").write_text("type Query {\n  q (\n    id: uuid!\n  ): String\n}\n")
    document = read_project(tmp_path)
    assert document["sources"][0]["tables"] == [{"table": {"schema": "public", "name": "users"}}]
    assert document["actions"] == [
        {
            "name": "q",
            "definition": {
                "kind": "",
                "handler": "{{BASE}}/q",
                "arguments": [{"name": "id", "type": "uuid!"}],
                "output_type": "String",
                "type": "query",
            },
        }
    ]


# --- the CLI against a server --------------------------------------------------------------------


def test_session_export_edit_diff_apply_history_rollback(server: ServerProcess, tmp_path: Path) -> None:
    source = tmp_path / "source"
    write_project(SAMPLE, source)
    assert "+ action create_user" in ok(server, "metadata", "apply", str(source))
    applied = current_version(server)

    project = tmp_path / "project"
    ok(server, "metadata", "export", str(project))
    assert read_project(project)["actions"] == read_project(source)["actions"]
    assert "no differences" in ok(server, "metadata", "diff", str(project))

    listed = project / "actions.yaml"
    listed.write_text(listed.read_text().replace("/create-user", "/sign-up"))
    done = cli(server, "metadata", "diff", str(project))
    assert done.returncode == 1
    assert "~ action create_user" in done.stdout and "/sign-up" in done.stdout

    dry = ok(server, "metadata", "apply", str(project), "--dry-run")
    assert "~ action create_user" in dry and current_version(server) == applied

    assert "~ action create_user" in ok(server, "metadata", "apply", str(project))
    assert current_version(server) == applied + 1
    assert cli(server, "metadata", "diff", str(project)).returncode == 0
    assert cli(server, "metadata", "diff", str(source)).returncode == 1

    history = json.loads(ok(server, "-o", "json", "metadata", "history"))["versions"]
    assert [v["resource_version"] for v in history][:2] == [applied + 1, applied]
    assert "replace_metadata" in ok(server, "metadata", "history")

    assert "rolled back" in ok(server, "metadata", "rollback", str(applied))
    assert cli(server, "metadata", "diff", str(source)).returncode == 0
    assert cli(server, "metadata", "diff", str(project)).returncode == 1


def test_export_apply_export_is_byte_identical(server: ServerProcess, tmp_path: Path) -> None:
    write_project(SAMPLE, tmp_path / "source")
    ok(server, "metadata", "apply", str(tmp_path / "source"))
    ok(server, "metadata", "export", str(tmp_path / "first"))
    version = current_version(server)
    assert "no changes" in ok(server, "metadata", "apply", str(tmp_path / "first"))
    assert current_version(server) == version
    ok(server, "metadata", "export", str(tmp_path / "second"))
    assert files(tmp_path / "first") == files(tmp_path / "second")

    # One file, JSON or YAML, or stdout.
    ok(server, "metadata", "export", str(tmp_path / "m.json"))
    ok(server, "metadata", "export", str(tmp_path / "m.yaml"))
    stdout = json.loads(ok(server, "metadata", "export", "--format", "json", "-"))
    assert stdout == json.loads((tmp_path / "m.json").read_text()) == server.query("export_metadata", {})
    for file in ("m.json", "m.yaml"):
        assert "no changes" in ok(server, "metadata", "apply", str(tmp_path / file))
    assert current_version(server) == version


@pytest.mark.parametrize("project", PROJECTS)
def test_shared_project_applies_and_exports_back(project: str, server: ServerProcess, tmp_path: Path) -> None:
    source = REAL_PROJECTS / project / "metadata"
    done = cli(server, "metadata", "apply", str(source))
    if done.returncode != 0:  # only for what Switchboard does not serve
        assert "inconsistent" in done.stderr, done.stderr
        ok(server, "metadata", "apply", "--allow-inconsistent", str(source))
    ok(server, "metadata", "export", str(tmp_path / "out"))
    assert cli(server, "metadata", "diff", str(source)).returncode == 0
    assert "no changes" in ok(server, "metadata", "apply", str(tmp_path / "out"))

    expected, exported = read_project(source), read_project(tmp_path / "out")
    for section in ("input_objects", "objects", "scalars", "enums"):  # the server sorts types by name
        want = sorted(expected["custom_types"].get(section, []), key=lambda t: str(t["name"]))
        assert exported["custom_types"].get(section, []) == want, section
    assert [a["name"] for a in exported["actions"]] == sorted(a["name"] for a in expected["actions"])
    by_name = {a["name"]: a for a in expected["actions"]}
    for action in exported["actions"]:
        want = by_name[action["name"]]
        for key in ("handler", "output_type", "type", "arguments", "headers"):
            assert action["definition"].get(key) == want["definition"].get(key), (action["name"], key)
        assert action.get("permissions") == want.get("permissions")
        assert action.get("comment") == want.get("comment")
        if action["definition"]["type"] == "mutation":
            assert action["definition"]["kind"] == (want["definition"].get("kind") or "synchronous")
    # Handler and header templates stay templates in the files.
    templates = {line.strip() for line in (source / "actions.yaml").read_text().splitlines() if "{{" in line}
    written = {line.strip() for line in (tmp_path / "out" / "actions.yaml").read_text().splitlines()}
    assert {t.replace("- ", "", 1) for t in templates} <= {w.replace("- ", "", 1) for w in written}


def test_errors_print_the_server_message_and_path(server: ServerProcess, tmp_path: Path) -> None:
    broken = {
        "version": 3,
        "actions": [{"name": "x", "definition": {"handler": "http://h/x", "output_type": "Missing", "type": "query"}}],
    }
    write_project(broken, tmp_path / "broken")
    done = cli(server, "metadata", "apply", str(tmp_path / "broken"))
    assert done.returncode == 1
    assert done.stderr.startswith("error: ") and "Traceback" not in done.stderr
    assert current_version(server) == 1
    ok(server, "metadata", "apply", "--allow-inconsistent", str(tmp_path / "broken"))
    assert "! inconsistent action" in ok(server, "metadata", "status")
    assert json.loads(ok(server, "-o", "json", "metadata", "status"))["is_consistent"] is False

    done = cli(server, "metadata", "rollback", "99")
    assert done.returncode == 1
    assert "error: " in done.stderr and "path: $.args.to_version" in done.stderr and "Traceback" not in done.stderr

    (tmp_path / "bad").mkdir()
    (tmp_path / "bad" / "actions.graphql").write_text("type Mutation {")
    done = cli(server, "metadata", "apply", str(tmp_path / "bad"))
    assert done.returncode == 2 and "actions.graphql" in done.stderr and "Traceback" not in done.stderr

    assert cli(server, "metadata", "rollback", "not-a-number").returncode == 2
    assert cli(server, "metadata", "export", "-", "--format", "project").returncode == 2
    unreachable = subprocess.run(
        [SWITCHBOARD, "--endpoint", "http://127.0.0.1:9", "metadata", "status"], capture_output=True, text=True
    )
    assert unreachable.returncode == 1 and "cannot reach" in unreachable.stderr


def test_reload_and_clear_naming_what_it_removes(server: ServerProcess, tmp_path: Path) -> None:
    document = SAMPLE | {
        "remote_schemas": [{"name": "legacy", "definition": {"url": "http://legacy"}}],
        "data_sources": [{"name": "shop", "url": "sqlite:///shop.db"}],
    }
    (tmp_path / "m.yaml").write_text(json.dumps(document))  # JSON is YAML too
    ok(server, "metadata", "apply", "--allow-inconsistent", str(tmp_path / "m.yaml"))
    link = server.query("create_action_public_link", {"action": "me"})["uuid"]
    assert "consistent" in ok(server, "metadata", "reload")
    version = current_version(server)
    named = [
        "2 actions: create_user, me",
        "1 permission: user on create_user",
        "4 custom types: UserInput, UserOutput, Date, Plan",
        "1 data source: shop",
        "1 public link: on me",
        "1 kept Hasura section: remote_schemas",
    ]
    refused = cli(server, "metadata", "clear", input="n\n")
    assert refused.returncode == 1 and current_version(server) == version
    assert refused.stderr.startswith("This removes:\n" + "".join(f"  {n}\n" for n in named)), refused.stderr
    assert "Action runs and API keys are kept." in refused.stderr

    done = ok(server, "metadata", "clear", "--yes")
    assert done == "".join(f"removed {n}\n" for n in named) + (
        f"cleared: resource version {version + 1} (`switchboard metadata rollback {version}` undoes it)\n"
    )
    assert server.query("export_metadata", {}) == {"version": 3, "sources": []}
    assert cli(server, "metadata", "diff", str(tmp_path / "m.yaml")).returncode == 1
    assert ok(server, "metadata", "clear") == "nothing to clear\n"  # asks nothing when there is nothing
    assert current_version(server) == version + 1

    ok(server, "metadata", "rollback", str(version))
    assert server.query("export_metadata", {})["public_links"] == [{"action": "me", "uuid": link}]
    answer = json.loads(ok(server, "metadata", "clear", "--yes", "-o", "json"))
    assert answer["resource_version"] == version + 3
    assert answer["removed"] == {
        "actions": ["create_user", "me"],
        "permissions": ["user on create_user"],
        "custom_types": ["UserInput", "UserOutput", "Date", "Plan"],
        "data_sources": ["shop"],
        "public_links": ["on me"],
        "kept_sections": ["remote_schemas"],
    }
    # Many objects: ten names per kind, and how many more.
    many = {
        "version": 3,
        "actions": [
            {"name": f"a{i:02}", "definition": {"sql": {"source": "shop", "statement": "SELECT 1"}}} for i in range(12)
        ],
        "data_sources": [{"name": "shop", "url": "sqlite:///shop.db"}],
    }
    (tmp_path / "many.json").write_text(json.dumps(many))
    ok(server, "metadata", "apply", str(tmp_path / "many.json"))
    assert ok(server, "metadata", "clear", "--yes").startswith(
        "removed 12 actions: a00, a01, a02, a03, a04, a05, a06, a07, a08, a09, and 2 more\n"
    )


def test_session_options_are_accepted_after_the_command_too(server: ServerProcess) -> None:
    def run(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run([SWITCHBOARD, *args], capture_output=True, text=True, timeout=60)

    for args in (
        ["--endpoint", server.url, "-o", "json", "metadata", "history"],
        ["--endpoint", server.url, "metadata", "history", "-o", "json"],
        ["metadata", "--endpoint", server.url, "history", "--output", "json"],
        ["metadata", "history", "--endpoint", server.url, "-o", "json", "--limit", "1"],
        [
            "-o",
            "table",
            "--endpoint",
            "http://127.0.0.1:9",
            "metadata",
            "history",
            "--endpoint",
            server.url,
            "-o",
            "json",
        ],
    ):
        done = run(*args)
        assert done.returncode == 0, (args, done.stderr)
        assert json.loads(done.stdout)["versions"][0]["operation"] == "init", args
    done = run("actions", "log", "--endpoint", server.url, "-o", "json")
    assert done.returncode == 0 and json.loads(done.stdout)["runs"] == []
    # The later option wins; the global one still applies when the command does not repeat it.
    assert run("-o", "json", "--endpoint", server.url, "metadata", "status").stdout.startswith("{")
    assert run("--endpoint", server.url, "metadata", "status", "-o", "table").stdout == "consistent\n"
    assert "-o, --output" in run("metadata", "history", "--help").stdout
    assert run("serve", "-o", "json").returncode == 2  # serve's options are the server's settings


def test_refused_without_credentials_says_how_to_pass_them(tmp_path: Path) -> None:
    secured = ServerProcess(tmp_path, database_url=f"sqlite:///{tmp_path}/sb.db", admin_secret="s3cret")
    env = {k: v for k, v in os.environ.items() if not k.startswith("SWITCHBOARD_")}

    def run(*args: str, **variables: str) -> subprocess.CompletedProcess[str]:
        command = [SWITCHBOARD, "--endpoint", secured.url, *args]
        return subprocess.run(command, capture_output=True, text=True, timeout=60, env={**env, **variables})

    try:
        hint = (
            "  hint: no credentials were given: pass --admin-secret (or set SWITCHBOARD_ADMIN_SECRET), "
            "or an API key with --api-key (or SWITCHBOARD_API_KEY)"
        )
        refused = run("actions", "log")
        assert refused.returncode == 1
        assert refused.stderr.splitlines() == [
            "error: x-hasura-admin-secret/x-hasura-access-key required, but not found",
            "  path: $",
            "  code: access-denied",
            hint,
        ]
        # Credentials that were given but refused need no hint; -o json prints the server's body only.
        wrong = run("actions", "log", "--admin-secret", "nope")
        assert wrong.returncode == 1 and "hint" not in wrong.stderr
        assert json.loads(run("-o", "json", "actions", "log").stderr)["code"] == "access-denied"
        assert run("actions", "log", SWITCHBOARD_ADMIN_SECRET="s3cret").returncode == 0
        key = secured.query("create_api_key", {"name": "ci", "role": "user"})["key"]
        as_user = run("metadata", "history", SWITCHBOARD_API_KEY=key)
        assert as_user.returncode == 1 and "hint" not in as_user.stderr, as_user.stderr
    finally:
        secured.stop()


def test_help_says_what_commands_and_options_do() -> None:
    def shown(*args: str) -> str:
        done = subprocess.run([SWITCHBOARD, *args, "--help"], capture_output=True, text=True, timeout=60)
        assert done.returncode == 0, done.stderr
        return " ".join(done.stdout.split())

    assert "result Show an asynchronous run's status and result." in shown("actions")
    assert "ID is the run's id: the action_id that `actions run` printed." in shown("actions", "result")
    assert "--status [created|processing|completed|error] Only the runs in this state" in shown("actions", "log")


def test_own_source_packages_are_never_a_project(server: ServerProcess, tmp_path: Path) -> None:
    """Run from a checkout, `metadata/` is Switchboard's `metadata` package, not a Hasura project."""
    import metadata as own_package

    package = Path(own_package.__file__).resolve().parent
    checkout = package.parent
    before = files(package)
    ok(server, "metadata", "apply", str(_sample(tmp_path)))
    version = current_version(server)

    def run(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [SWITCHBOARD, "--endpoint", server.url, *args], capture_output=True, text=True, timeout=60, cwd=checkout
        )

    for args in (
        ["metadata", "export", "metadata/"],
        ["metadata", "export", "metadata"],
        ["metadata", "export", str(package / "exported")],
        ["metadata", "export", "metadata/m.json"],
        ["metadata", "export", "rpc/console_assets"],
        ["metadata", "export", "handlers/../handlers/operations"],
        ["metadata", "apply", "metadata/"],
        ["metadata", "diff", "metadata"],
    ):
        done = run(*args)
        assert done.returncode == 2, (args, done.stdout, done.stderr)
        assert "is Switchboard's own Python package" in done.stderr and "Traceback" not in done.stderr, done.stderr
        assert "my-project/metadata" in done.stderr
    assert files(package) == before  # nothing was written
    assert not (package / "exported").exists()
    assert current_version(server) == version  # nothing was applied

    # A project directory of the user's own named metadata/ is of course fine.
    user = tmp_path / "project"
    user.mkdir()
    done = subprocess.run(
        [SWITCHBOARD, "--endpoint", server.url, "metadata", "export", "metadata/"],
        capture_output=True,
        text=True,
        timeout=60,
        cwd=user,
    )
    assert done.returncode == 0, done.stderr
    assert read_project(user / "metadata")["actions"] == read_project(_sample(tmp_path))["actions"]


def _sample(tmp_path: Path) -> Path:
    if not (tmp_path / "sample").exists():
        write_project(SAMPLE, tmp_path / "sample")
    return tmp_path / "sample"


def test_apply_reads_json_and_yaml_from_stdin(server: ServerProcess) -> None:
    import yaml

    assert "+ action create_user" in cli(server, "metadata", "apply", "-", input=json.dumps(SAMPLE)).stdout
    assert "no changes" in cli(server, "metadata", "apply", "-", input=yaml.safe_dump(SAMPLE)).stdout
    bad = cli(server, "metadata", "apply", "-", input="{actions: [")
    assert bad.returncode == 2 and bad.stderr.startswith("error: -: invalid YAML") and "Traceback" not in bad.stderr


def test_actions_run_result_log(server: ServerProcess, tmp_path: Path) -> None:
    webhook = Webhook()
    try:
        document = {
            "version": 3,
            "actions": [
                {
                    "name": "echo",
                    "definition": {"handler": webhook.respond("/echo", body="hi"), "output_type": "String"},
                    "permissions": [{"role": "user"}],
                },
                {
                    "name": "later",
                    "definition": {
                        "handler": webhook.respond("/later", body="done"),
                        "output_type": "String",
                        "kind": "asynchronous",
                    },
                },
            ],
        }
        (tmp_path / "m.json").write_text(json.dumps(document))
        ok(server, "metadata", "apply", str(tmp_path / "m.json"))
        assert json.loads(ok(server, "actions", "run", "echo", "--input", "{}", "--role", "user")) == "hi"
        assert webhook.calls("/echo")[-1].body["session_variables"]["x-hasura-role"] == "user"
        hidden = cli(server, "actions", "run", "later", "--role", "user")
        assert hidden.returncode == 1 and "error: " in hidden.stderr

        run_id = json.loads(ok(server, "-o", "json", "actions", "run", "later"))["action_id"]
        for _ in range(100):
            result = json.loads(ok(server, "-o", "json", "actions", "result", run_id))
            if result["status"] == "completed":
                break
        assert result["output"] == "done"
        assert "status: completed" in ok(server, "actions", "result", run_id)
        assert run_id in ok(server, "actions", "log", "--action", "later")
        assert cli(server, "actions", "run", "echo", "--input", "{not json").returncode == 2
        calls = len(webhook.calls("/echo"))
        preview = json.loads(ok(server, "actions", "run", "echo", "--dry-run"))
        assert preview["request"]["url"] == webhook.url("/echo") and preview["request"]["method"] == "POST"
        assert len(webhook.calls("/echo")) == calls  # nothing was sent
    finally:
        webhook.close()


# --- Hasura CLI projects as the Hasura CLI builds them (issue 10) ---------------------------------

HASURA_SDL = """scalar timestamptz
scalar uuid

type Query {
  me (since: timestamptz): Me
}

type Mutation {
  sign_up (id: uuid!): Me
  leak: Me
  shaped: Me
}

type Me {
  id: uuid!
  at: timestamptz
}
"""
HASURA_ACTIONS = """actions:
- name: me
  definition:
    kind: ""
    handler: '{{BASE}}/me'
    type: mutation          # the CLI takes type, arguments and output_type from actions.graphql
    output_type: Nope
  permissions:
  - role: user
- name: sign_up
  definition:
    kind: ""
    handler: '{{BASE}}/sign-up'
    arguments: null
  permissions:
  - role: user
    definition: {select: {filter: {}}}
  comment: signs up
- name: leak
  definition:
    kind: synchronous
    handler: '{{BASE}}/leak'
    headers:
    - name: x-client
      value_from_env: HASURA_GRAPHQL_CLIENT_NAME
- name: shaped
  definition:
    kind: synchronous
    handler: '{{BASE}}/shaped'
    request_transform:
      url: '{{ $base_url '
custom_types:
  enums: []
  input_objects: []
  objects:
  - name: Me
  scalars:
  - name: timestamptz
  - name: uuid
"""


def test_a_hasura_cli_project_applies_as_the_hasura_cli_builds_it(server: ServerProcess, tmp_path: Path) -> None:
    """kind "" (a mutation's is synchronous), type/arguments/output_type of actions.yaml ignored,
    Postgres scalars redeclared, inherited_roles.yaml, a permission's definition; a reserved
    variable needs --allow-inconsistent; a template that does not parse applies and is reported."""
    source = tmp_path / "source"
    source.mkdir()
    (source / "version.yaml").write_text("version: 3\n")
    (source / "actions.graphql").write_text(HASURA_SDL)
    (source / "actions.yaml").write_text(HASURA_ACTIONS)
    (source / "inherited_roles.yaml").write_text("- role_name: staff\n  role_set:\n  - user\n  - admin_like\n")
    refused = cli(server, "metadata", "apply", str(source))
    assert refused.returncode == 1
    assert 'env variables starting with "HASURA_GRAPHQL_" are not allowed in value_from_env' in refused.stderr
    assert "$.args.metadata.actions[2].definition.headers[0]" in refused.stderr
    applied = ok(server, "metadata", "apply", "--allow-inconsistent", str(source))
    assert "+ inherited_role staff" in applied and "! inconsistent action action leak: " in applied
    assert "! inconsistent action action shaped: " in applied and "request_transform.url: Parse Error" in applied
    assert "! inconsistent inherited_role inherited_role inherited role staff: " in applied  # admin_like: unknown

    document = server.query("export_metadata", {})
    actions = {a["name"]: a for a in document["actions"]}
    since = [{"name": "since", "type": "timestamptz"}]
    assert actions["me"]["definition"] == {
        "handler": "{{BASE}}/me",
        "output_type": "Me",
        "arguments": since,
        "type": "query",
    }
    assert actions["sign_up"]["definition"]["kind"] == "synchronous"
    assert actions["sign_up"]["permissions"] == [{"role": "user", "definition": {"select": {"filter": {}}}}]
    assert document["inherited_roles"] == [{"role_name": "staff", "role_set": ["user", "admin_like"]}]
    assert document["custom_types"]["scalars"] == [{"name": "timestamptz"}, {"name": "uuid"}]
    staff = server.query("get_action_signature", {"name": "me"}, headers={"X-Hasura-Role": "staff"})
    assert staff["name"] == "me"

    out = tmp_path / "out"
    ok(server, "metadata", "export", str(out))
    assert (out / "inherited_roles.yaml").read_text() == "- role_name: staff\n  role_set:\n  - user\n  - admin_like\n"
    assert "no changes" in ok(server, "metadata", "apply", "--allow-inconsistent", str(out))
    ok(server, "metadata", "export", str(tmp_path / "again"))
    assert files(out) == files(tmp_path / "again")
    assert "inconsistent" in ok(server, "metadata", "status")


def test_users_create_makes_the_first_superuser(server: ServerProcess) -> None:
    made = cli(server, "users", "create", "Ann@Example.com", "--superuser", "--password-stdin", input="secret123\n")
    assert made.returncode == 0, made.stderr
    assert made.stdout.strip() == "created superuser ann@example.com (id 1)"
    again = cli(server, "users", "create", "ann@example.com", "--password-stdin", input="secret123\n")
    assert again.returncode == 1 and "already exists" in again.stderr
    weak = cli(server, "users", "create", "bo@example.com", "--role", "editor", "--password-stdin", input="abc\n")
    assert weak.returncode == 1 and "password is too common" in weak.stderr
    signed_in = httpx.post(f"{server.url}/api/session", json={"username": "ann@example.com", "password": "secret123"})
    assert signed_in.status_code == 200 and "id" in signed_in.json()


def test_a_built_in_scalar_declared_in_actions_graphql_stays_the_built_in(
    server: ServerProcess, tmp_path: Path
) -> None:
    """Hasura's CLI sends `scalar String` when actions.graphql declares it, and Hasura takes it as
    the built-in; a real project failed to apply here because of it."""
    project = tmp_path / "metadata"
    project.mkdir()
    (project / "actions.yaml").write_text(
        "actions:\n- name: hello\n  definition:\n    kind: synchronous\n    handler: http://127.0.0.1:9/hello\n"
        "custom_types:\n  scalars:\n  - name: String\n  - name: Int\n"
    )
    (project / "actions.graphql").write_text(
        "scalar String\nscalar Int\n\ntype Mutation {\n  hello (\n    n: Int\n  ): String\n}\n"
    )
    applied = cli(server, "metadata", "apply", str(project))
    assert applied.returncode == 0, applied.stderr
    schema = httpx.post(f"{server.url}/v1/graphql", json={"query": '{ __type(name: "String") { kind } }'}).json()
    assert schema == {"data": {"__type": {"kind": "SCALAR"}}}
    signature = server.query("get_action_signature", {"name": "hello"})
    assert signature["arguments"] == [{"name": "n", "type": "Int"}]


def test_a_foreign_package_in_switchboards_place_is_refused_in_one_line(tmp_path: Path) -> None:
    """Another distribution's `handlers` found first: one line, exit 1, nothing started."""
    (tmp_path / "handlers").mkdir()
    (tmp_path / "handlers" / "__init__.py").write_text("HANDLERS = []\n")
    done = subprocess.run(
        [SWITCHBOARD, "serve", "--port", "1"], capture_output=True, text=True, timeout=60,
        env={**os.environ, "PYTHONPATH": str(tmp_path)},
    )  # fmt: skip
    assert done.returncode == 1
    assert done.stderr.splitlines() == [
        f"switchboard: the package 'handlers' here is not Switchboard's ({tmp_path}/handlers/__init__.py); "
        "install Switchboard as an application, on its own: pipx install, uv tool install, or the container"
    ]


def test_init_makes_a_project_that_applies_and_runs(tmp_path: Path) -> None:
    """`switchboard init` lays a project out as `hasura init` does; applied as it is, its example
    action runs against the webhook it wrote."""
    made = subprocess.run([SWITCHBOARD, "init", "my-app"], capture_output=True, text=True, timeout=60, cwd=tmp_path)
    assert made.returncode == 0, made.stderr
    root = tmp_path / "my-app"
    assert sorted(str(p.relative_to(root)) for p in root.rglob("*") if p.is_file()) == [
        "config.yaml", "metadata/actions.graphql", "metadata/actions.yaml", "metadata/version.yaml", "webhook.py",
    ]  # fmt: skip
    again = subprocess.run([SWITCHBOARD, "init", "my-app"], capture_output=True, text=True, timeout=60, cwd=tmp_path)
    assert again.returncode == 2 and "my-app already exists and is not empty" in again.stderr
    hook_port = free_port()
    hook = subprocess.Popen([sys.executable, str(root / "webhook.py")], env={**os.environ, "PORT": str(hook_port)})
    server = ServerProcess(tmp_path, env={**os.environ, "ACTION_BASE_URL": f"http://127.0.0.1:{hook_port}"})
    try:
        ok(server, "metadata", "apply", str(root))  # the project directory stands for its metadata/
        assert server.query("get_inconsistent_metadata", {})["is_consistent"] is True
        for _ in range(100):
            answer = server.query("run_action", {"name": "hello", "input": {"name": "Ann"}}, {"X-Hasura-Role": "user"})
            if answer.get("code") != "unexpected":  # the webhook is still starting
                break
            time.sleep(0.05)
        assert answer == {"output": {"greeting": "Hello, Ann!"}}
        ok(server, "metadata", "export", str(root))
        assert "no changes" in ok(server, "metadata", "apply", str(root))
    finally:
        server.stop()
        hook.terminate()
        hook.wait(timeout=10)


def test_breaking_changes_are_named_and_fail_on_breaking_refuses(server: ServerProcess, tmp_path: Path) -> None:
    """A newly required argument breaks the clients of every role that may run the action: diff and
    apply --dry-run name it, apply --fail-on-breaking exits 3 and applies nothing (issue 21)."""
    subprocess.run([SWITCHBOARD, "init", "app"], capture_output=True, text=True, timeout=60, cwd=tmp_path, check=True)
    ok(server, "metadata", "apply", str(tmp_path / "app"))
    sdl = tmp_path / "app" / "metadata" / "actions.graphql"
    sdl.write_text(sdl.read_text().replace("hello(name: String!)", "hello(name: String!, lang: String!)"))
    expected = [
        "! breaking for role admin: A required argument mutation_root.hello(lang:) was added.",
        "! breaking for role user: A required argument mutation_root.hello(lang:) was added.",
    ]
    diff = cli(server, "metadata", "diff", str(tmp_path / "app"))
    assert diff.returncode == 1 and all(line in diff.stdout.splitlines() for line in expected), diff.stdout
    version = current_version(server)
    refused = cli(server, "metadata", "apply", "--fail-on-breaking", str(tmp_path / "app"))
    assert refused.returncode == 3, (refused.stdout, refused.stderr)
    assert refused.stdout.splitlines()[-3:] == [
        *expected,
        "refused: 2 breaking change(s) to GraphQL schemas (--fail-on-breaking); nothing applied",
    ]
    assert current_version(server) == version
    applied = ok(server, "metadata", "apply", str(tmp_path / "app"))
    assert expected[0] in applied and current_version(server) == version + 1
