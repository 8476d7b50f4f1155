"""Hasura's own CLI (`hasura metadata apply|export|diff|reload`, `hasura metadata inconsistency
list|drop|status`, alias `ic`) against Switchboard, request by request.

The CLI binary cannot be downloaded here, so each test replays the exact HTTP requests the CLI
sends, in its order, with its headers and its body bytes, against a real server (uvicorn on a
loopback port), and checks each answer the way the CLI reads it. Where each request comes from,
in hasura/graphql-engine's `cli/` (v2, the `cli/pkg` layout):

* Every `hasura metadata ...` command first runs `ExecutionContext.Validate` (cli/cli.go):
  1. `util.GetServerStatus` (cli/util/server.go): GET {endpoint}/v1/version with no credentials
     (the admin secret header is only added later); anything but a 200 stops the CLI
     ("connecting to graphql-engine server failed").
  2. `version.FetchServerVersion` (cli/version/server.go): GET /v1/version again, reading
     `{"version": ...}`; `Version.SetServerVersion` / `CheckCLIServerCompatibility`
     (cli/version/version.go, cli/version/compatibility.go) parse it as semver and warn unless the
     CLI's major and minor are >= the server's; `GetServerFeatureFlags`
     (cli/version/feature_flags.go) sends the secret as X-Hasura-Access-Key below
     v1.0.0-alpha38, else as X-Hasura-Admin-Secret (`GetAdminSecretHeaderName`, cli/cli.go).
  3. `ServerConfig.GetHasuraInternalServerConfig` (cli/cli.go): GET /v1alpha1/config; a failure is
     only logged at debug level ("config API is not enabled").
  4. `commonmetadata.ExportMetadata` (cli/pkg/hasura/commonmetadata/commonmetadata.go) on
     /v1/query: `{"type":"export_metadata","args":{}}`; a `version` of 3 in the answer selects the
     metadata-v3 path (`HasMetadataV3`), which config v3 projects require.
  5. `util.GetServerState` (cli/util/server.go) on /v1/metadata: `get_catalog_state`, whose `id`
     the CLI keeps as the server's UUID (failures only logged).
* Then the command, on /v1/metadata (`V1Metadata`, cli/pkg/hasura/v1metadata/v1metadata.go, as
  `GetCommonMetadataOps` picks it for metadata v3):
  - `metadata export` / `diff`: `export_metadata` (projectmetadata.Handler.ExportMetadata,
    cli/pkg/projectmetadata/handler.go; `diff` exports the server's into a temporary directory,
    cli/commands/metadata_handlers.go).
  - `metadata apply` (config v3): `replace_metadata` with `"version": 2` and args
    `{"allow_inconsistent_metadata": <not --disallow-inconsistent-metadata>, "metadata": <the
    project's metadata as JSON>}` (V2ApplyMetadata, handler.go; V2ReplaceMetadata,
    cli/pkg/hasura/commonmetadata/v2commonmetadataops.go), reading `is_consistent` (and warning
    "Metadata is inconsistent" when false); config v2: `replace_metadata` with the document as
    the args (V1ApplyMetadata).
  - `metadata reload`: `reload_metadata {}`, then `get_inconsistent_metadata {}`
    (cli/commands/metadata_reload.go).
  - `metadata ic list` / `status`: `get_inconsistent_metadata {}`, reading `is_consistent` and
    each object's `definition` (its `name`), `reason` and `type`
    (cli/commands/metadata_inconsistency_list.go, handler.go's InconsistentMetadataObject).
  - `metadata ic drop`: `drop_inconsistent_metadata {}` (metadata_inconsistency_drop.go).
  - `migrate` state, config v3 (cli/pkg/statestore/statestore.go,
    cli/pkg/hasura/catalogstate/catalogstate.go): `get_catalog_state` reading `cli_state`, and
    `set_catalog_state {"state": <CLIState>, "type": "cli"}`.

Bodies are encoded as Go's encoding/json encodes them (cli/pkg/httpc/httpc.go: `NewRequest`):
struct fields in declaration order (`hasura.RequestBody` is type, version (omitted when 0), args,
cli/pkg/hasura/client.go), map keys sorted, no HTML escaping, a newline at the end. Headers:
Content-Type: application/json on requests with a body, the admin secret header on every request
after the version check (the empty string when none is configured), Go's default User-Agent (the
client's "hasura-cli" UserAgent field is never put on a request), and no Hasura-Client-Name.
"""

from __future__ import annotations

import http.client
import json
import re
from dataclasses import dataclass, field
from typing import Any

from tests.conftest import Served, ServeFactory

SECRET = "ci-secret"
GO_HEADERS = {"User-Agent": "Go-http-client/1.1", "Accept-Encoding": "gzip"}

# A Hasura project's metadata as `hasura metadata apply` builds it from a project directory
# (cli/pkg/projectmetadata/handler.go: the `Metadata` struct's key order; every file present, so
# empty sections are sent as [] or {}; actions.graphql read back with `description: null`, as in
# cli/pkg/projectmetadata/testdata/test-gen-metadata-from-map/*/want.json).
PROJECT: dict[str, Any] = {
    "version": 3,
    "sources": [],
    "actions": [
        {
            "name": "create_user",
            "definition": {
                "kind": "synchronous",
                "handler": "{{ACTION_BASE_URL}}/create-user",
                "forward_client_headers": True,
                "type": "mutation",
                "arguments": [{"name": "email", "type": "String!", "description": None}],
                "output_type": "UserOutput",
            },
            "comment": "signs a user up",
            "permissions": [{"role": "user"}],
        }
    ],
    "custom_types": {
        "enums": [],
        "input_objects": [],
        "objects": [
            {
                "name": "UserOutput",
                "fields": [
                    {"name": "id", "type": "Int!", "description": None},
                    {"name": "email", "type": "String", "description": None},
                ],
            }
        ],
        "scalars": [],
    },
    "remote_schemas": [],
    "query_collections": [],
    "allowlist": [],
    "cron_triggers": [],
    "network": {},
    "api_limits": {},
    "rest_endpoints": [],
    "inherited_roles": [],
    "opentelemetry": {},
    "backend_configs": {},
    "graphql_schema_introspection": {},
    "metrics_config": {},
}


def go_json(body: Any) -> bytes:
    """encoding/json's Encoder with SetEscapeHTML(false): compact, a trailing newline."""
    return json.dumps(body, separators=(",", ":"), ensure_ascii=False).encode() + b"\n"


def request_body(type_: str, args: Any, version: int = 0) -> dict[str, Any]:
    """hasura.RequestBody (cli/pkg/hasura/client.go): type, version omitempty, args."""
    return {"type": type_, **({"version": version} if version else {}), "args": args}


def semver(text: str) -> tuple[int, int, int, tuple[Any, ...]]:
    """Masterminds/semver's reading of a version (a leading `v` allowed); pre-releases sort
    before the release, identifier by identifier."""
    match = re.fullmatch(r"v?(\d+)\.(\d+)\.(\d+)(?:-([0-9A-Za-z.-]+))?(?:\+[0-9A-Za-z.-]+)?", text)
    assert match is not None, f"the CLI cannot parse {text!r} as semver"
    pre = match.group(4)
    rank: tuple[Any, ...] = (
        (1,) if pre is None else (0, *((0, int(p)) if p.isdigit() else (1, p) for p in pre.split(".")))
    )
    return int(match.group(1)), int(match.group(2)), int(match.group(3)), rank


@dataclass
class HasuraCli:
    """The requests `hasura --endpoint URL [--admin-secret S] metadata ...` sends."""

    served: Served
    admin_secret: str = ""
    server_uuid: str = ""
    server_version: str = ""
    secret_header: str = "X-Hasura-Admin-Secret"
    log: list[str] = field(default_factory=list)

    def call(self, method: str, path: str, body: Any = None, credentials: bool = True) -> tuple[int, Any]:
        conn = http.client.HTTPConnection("127.0.0.1", self.served.port, timeout=30)
        headers = dict(GO_HEADERS)
        payload = None
        if body is not None:
            payload = go_json(body)
            headers["Content-Type"] = "application/json"
        if credentials:
            headers[self.secret_header] = self.admin_secret
        try:
            conn.request(method, path, body=payload, headers=headers)
            response = conn.getresponse()
            raw = response.read()
        finally:
            conn.close()
        self.log.append(f"{method} {path} -> {response.status}")
        if response.getheader("Content-Type", "").startswith("application/json"):
            return response.status, json.loads(raw)
        return response.status, raw.decode()

    def metadata(self, type_: str, args: Any, version: int = 0) -> tuple[int, Any]:
        return self.call("POST", "/v1/metadata", request_body(type_, args, version))

    def validate(self) -> None:
        """ExecutionContext.Validate (cli/cli.go), the preamble of every metadata command."""
        # util.GetServerStatus: before any credentials, and it must be a 200.
        status, _ = self.call("GET", "/v1/version", credentials=False)
        assert status == 200, "the CLI stops here: connecting to graphql-engine server failed"
        # checkServerVersion: the version, compared with the CLI's own; then the feature flags.
        status, body = self.call("GET", "/v1/version", credentials=False)
        assert status == 200
        self.server_version = body["version"]
        server = semver(self.server_version)
        has_access_key = server < semver("v1.0.0-alpha38")
        self.secret_header = "X-Hasura-Access-Key" if has_access_key else "X-Hasura-Admin-Secret"
        assert server >= semver("v1.2.0-beta.1"), "the CLI would think actions are not served"
        # GetHasuraInternalServerConfig: tolerated when it fails (a debug log line).
        self.call("GET", "/v1alpha1/config")
        # The metadata-v3 check: export_metadata on /v1/query.
        status, exported = self.call("POST", "/v1/query", request_body("export_metadata", {}))
        assert status == 200, exported
        assert exported["version"] == 3, "config v3 can only be used with servers having metadata version >= 3"
        # util.GetServerState: a payload unmarshalled into a map and encoded again (keys sorted).
        status, state = self.call("POST", "/v1/metadata", {"args": {}, "type": "get_catalog_state"})
        assert status == 200, state
        self.server_uuid = state["id"]

    # The commands, after validate().

    def export(self) -> dict[str, Any]:
        status, body = self.metadata("export_metadata", {})
        assert status == 200, body
        assert isinstance(body, dict)
        return body

    def apply(self, metadata: Any, disallow_inconsistent: bool = False) -> tuple[int, Any]:
        args = {"allow_inconsistent_metadata": not disallow_inconsistent, "metadata": metadata}
        return self.metadata("replace_metadata", args, version=2)

    def ic_list(self) -> tuple[bool, list[dict[str, Any]]]:
        status, body = self.metadata("get_inconsistent_metadata", {})
        assert status == 200, body
        return body["is_consistent"], body["inconsistent_objects"]


def cli_versions_compatible(cli: str, server: str) -> bool:
    """CheckCLIServerCompatibility (cli/version/compatibility.go) for two tagged builds."""
    c, s = semver(cli), semver(server)
    return c[0] >= s[0] and c[1] >= s[1]


def test_version_in_hasuras_shape_and_compatible_with_every_v2_cli(serve: ServeFactory) -> None:
    served = serve(admin_secret=SECRET)
    cli = HasuraCli(served, SECRET)
    # Public, as Hasura's: no secret sent, and none needed.
    status, body = cli.call("GET", "/v1/version", credentials=False)
    assert status == 200
    assert body == {"version": "v2.0.0", "server_type": "ce"}
    # Every v2 CLI finds it compatible (no "version mismatch" warning); it is a tagged release,
    # so no "untagged build" either; the secret goes as X-Hasura-Admin-Secret.
    for release in ("v2.0.0", "v2.0.10", "v2.17.1", "v2.36.0", "v2.48.3"):
        assert cli_versions_compatible(release, body["version"]), release
    assert semver(body["version"])[3] == (1,)  # no pre-release: the CLI's constraints would refuse one
    cli.log.clear()
    cli.validate()
    assert cli.secret_header == "X-Hasura-Admin-Secret"
    assert cli.log == [
        "GET /v1/version -> 200",
        "GET /v1/version -> 200",
        "GET /v1alpha1/config -> 404",  # only logged by the CLI, at debug level
        "POST /v1/query -> 200",
        "POST /v1/metadata -> 200",
    ]
    # The server's UUID the CLI reports is the store's, the same on every server sharing it.
    other = HasuraCli(serve(admin_secret=SECRET), SECRET)
    other.validate()
    assert re.fullmatch(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}", other.server_uuid)
    again = HasuraCli(served, SECRET)
    again.validate()
    assert again.server_uuid == other.server_uuid == cli.server_uuid


def test_without_an_admin_secret_the_empty_header_is_the_admin(serve: ServeFactory) -> None:
    # No admin secret configured: the CLI still sends `X-Hasura-Admin-Secret:` (empty; cli/cli.go
    # adds GetAdminSecret() whatever it is), and every caller is the admin, as in Hasura.
    cli = HasuraCli(serve())
    cli.validate()
    assert cli.export() == {"version": 3, "sources": []}


def test_a_wrong_secret_stops_the_cli_at_the_metadata_check(serve: ServeFactory) -> None:
    cli = HasuraCli(serve(admin_secret=SECRET), "wrong")
    assert cli.call("GET", "/v1/version", credentials=False)[0] == 200  # GetServerStatus passes
    status, body = cli.call("POST", "/v1/query", request_body("export_metadata", {}))
    assert status == 401  # the CLI prints this body and stops
    assert body == {"path": "$", "error": "invalid x-hasura-admin-secret/x-hasura-access-key", "code": "access-denied"}


def test_apply_export_diff_reload_as_a_ci_pipeline_runs_them(serve: ServeFactory) -> None:
    served = serve(admin_secret=SECRET)

    # hasura metadata apply --endpoint ... --admin-secret ...
    cli = HasuraCli(served, SECRET)
    cli.validate()
    status, body = cli.apply(PROJECT)
    assert status == 200, body
    assert body["is_consistent"] is True  # no "Metadata is inconsistent" warning
    assert body["inconsistent_objects"] == []
    version = body["resource_version"]

    # hasura metadata export: the document the project directory is written from.
    cli = HasuraCli(served, SECRET)
    cli.validate()
    exported = cli.export()
    assert exported["version"] == 3
    assert [a["name"] for a in exported["actions"]] == ["create_user"]
    assert exported["actions"][0]["permissions"] == [{"role": "user"}]
    assert exported["custom_types"]["objects"][0]["name"] == "UserOutput"
    # The sections Switchboard keeps unserved come back as they were applied.
    for key in ("remote_schemas", "query_collections", "allowlist", "cron_triggers", "rest_endpoints"):
        assert exported[key] == [], key
    for key in ("network", "api_limits", "opentelemetry", "backend_configs", "graphql_schema_introspection"):
        assert exported[key] == {}, key

    # hasura metadata diff: nothing to show, and applying the export back changes nothing.
    cli = HasuraCli(served, SECRET)
    cli.validate()
    assert cli.export() == exported
    status, body = cli.apply(exported)
    assert status == 200, body
    assert body["resource_version"] == version  # a no-op apply makes no version
    status, body = cli.apply(PROJECT)
    assert (status, body["resource_version"]) == (200, version)

    # hasura metadata reload: reload_metadata, then the inconsistency read.
    cli = HasuraCli(served, SECRET)
    cli.validate()
    status, body = cli.metadata("reload_metadata", {})
    assert status == 200, body
    assert body["message"] == "success"
    assert cli.ic_list() == (True, [])  # "Metadata is consistent"
    assert [line.split()[1] for line in cli.log[-2:]] == ["/v1/metadata", "/v1/metadata"]


def test_inconsistent_apply_then_ic_list_and_ic_drop(serve: ServeFactory) -> None:
    served = serve(admin_secret=SECRET)
    broken = json.loads(json.dumps(PROJECT))
    broken["actions"].append(
        {"name": "lost", "definition": {"kind": "synchronous", "handler": "http://x/lost", "output_type": "Nope"}}
    )

    # hasura metadata apply --disallow-inconsistent-metadata: refused, nothing applied.
    cli = HasuraCli(served, SECRET)
    cli.validate()
    status, body = cli.apply(broken, disallow_inconsistent=True)
    assert status == 400  # the CLI prints "error applying metadata" and this body
    assert body["code"] == "unexpected"
    assert body["error"] == "cannot continue due to inconsistent metadata"
    assert cli.export() == {"version": 3, "sources": []}

    # hasura metadata apply (inconsistency allowed, the default): applied and reported.
    status, body = cli.apply(broken)
    assert status == 200, body
    assert body["is_consistent"] is False  # "Metadata is inconsistent" / "Use 'hasura metadata ic list'"

    # hasura metadata ic list: NAME (definition.name), TYPE, DESCRIPTION, REASON.
    cli = HasuraCli(served, SECRET)
    cli.validate()
    consistent, objects = cli.ic_list()
    assert consistent is False
    assert [(o["definition"]["name"], o["type"]) for o in objects] == [("lost", "action")]
    assert "Nope" in objects[0]["reason"]

    # hasura metadata ic drop, then ic status.
    cli = HasuraCli(served, SECRET)
    cli.validate()
    status, body = cli.metadata("drop_inconsistent_metadata", {})
    assert status == 200, body
    assert body["message"] == "success"
    cli = HasuraCli(served, SECRET)
    cli.validate()
    assert cli.ic_list() == (True, [])
    assert [a["name"] for a in cli.export()["actions"]] == ["create_user"]


def test_config_v2_apply_sends_the_document_as_args(serve: ServeFactory) -> None:
    # A config v2 project on a metadata-v3 server: V1ApplyMetadata, replace_metadata without a
    # version, the document itself as the args (still on /v1/metadata).
    cli = HasuraCli(serve(admin_secret=SECRET), SECRET)
    cli.validate()
    status, body = cli.metadata("replace_metadata", PROJECT)
    assert status == 200, body
    assert body["message"] == "success"
    assert [a["name"] for a in cli.export()["actions"]] == ["create_user"]


def test_migrate_state_kept_in_the_catalog_state(serve: ServeFactory) -> None:
    served = serve(admin_secret=SECRET)
    cli = HasuraCli(served, SECRET)
    cli.validate()
    # statestore.CLICatalogState.Get on a fresh server: `cli_state` decodes as an empty CLIState.
    status, body = cli.call("POST", "/v1/metadata", request_body("get_catalog_state", {}))
    assert status == 200
    assert body == {"id": cli.server_uuid, "cli_state": {}, "console_state": {}}
    # CLICatalogState.Set: ClientCatalogState.Set's args are a map (keys sorted); CLIState's
    # fields in their order (migrations omitempty, settings, isStateCopyCompleted).
    state = {"migrations": {"default": {"1700000000000": False}}, "settings": {"migration_mode": "true"},
             "isStateCopyCompleted": False}  # fmt: skip
    status, body = cli.metadata("set_catalog_state", {"state": state, "type": "cli"})
    assert (status, body) == (200, {"message": "success"})
    status, body = cli.metadata("get_catalog_state", {})
    assert body["cli_state"] == state and body["console_state"] == {}
    # Not metadata: an apply (a whole replace) and a clear leave it, and it makes no version.
    assert cli.apply(PROJECT)[0] == 200
    assert cli.metadata("clear_metadata", {})[0] == 200
    status, body = cli.metadata("get_catalog_state", {})
    assert body == {"id": cli.server_uuid, "cli_state": state, "console_state": {}}
    status, history = cli.metadata("get_metadata_history", {"limit": 5})
    assert [v["operation"] for v in history["versions"]] == ["clear_metadata", "replace_metadata", "init"]
    # Every server on the store sees it.
    other = HasuraCli(serve(admin_secret=SECRET), SECRET)
    other.validate()
    assert other.metadata("get_catalog_state", {})[1]["cli_state"] == state
