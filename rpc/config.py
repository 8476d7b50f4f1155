"""Settings: defaults, then a YAML file (`--config` or SWITCHBOARD_CONFIG), then SWITCHBOARD_<NAME>
environment variables. Every setting is documented in config.example.yaml."""

from __future__ import annotations

import difflib
import json
import os
import re
from collections.abc import Iterable
from pathlib import Path
from typing import Annotated, Any, Literal, get_args, get_origin, get_type_hints

import jwt
import msgspec
import yaml

from metadata.decoding import convert
from metadata.errors import ParseFailed
from metadata.strict import Strict

ENV_PREFIX = "SWITCHBOARD_"


# Hasura's key types; Ed25519 is its name for EdDSA over that curve.
JwtType = Literal[
    "HS256", "HS384", "HS512", "RS256", "RS384", "RS512", "PS256", "PS384", "PS512",
    "ES256", "ES384", "ES512", "Ed25519", "EdDSA",
]  # fmt: skip


class JwtHeader(Strict):
    """Where the token is: `Authorization: Bearer <token>`, or a cookie."""

    type: Literal["Authorization", "Cookie"] = "Authorization"
    name: str | None = None  # the cookie's

    def __post_init__(self) -> None:
        if self.type == "Cookie" and not self.name:
            raise ValueError('a "Cookie" header needs the cookie\'s "name"')


class JwtSecret(Strict):
    """Hasura's HASURA_GRAPHQL_JWT_SECRET, every key of it: a key (`type` + `key`) or a JWK set
    (`jwk_url`); where the claims are (a namespace key, a JSON path, or a claims_map); what must
    hold (audience, issuer, allowed_skew seconds); and where the token comes from (`header`)."""

    type: JwtType | None = None
    key: str | None = None
    jwk_url: str | None = None
    claims_namespace: str | None = None
    claims_namespace_path: str | None = None
    claims_format: Literal["json", "stringified_json"] = "json"
    claims_map: dict[str, Any] | None = None
    audience: str | list[str] | None = None
    issuer: str | None = None
    allowed_skew: Annotated[float, msgspec.Meta(ge=0)] | None = None
    header: JwtHeader = msgspec.field(default_factory=JwtHeader)

    def __post_init__(self) -> None:
        if (self.key is None) == (self.jwk_url is None):
            raise ValueError("exactly one of key and jwk_url is needed")
        if self.key is not None and self.type is None:
            raise ValueError('a key needs its "type"')
        if self.claims_namespace is not None and self.claims_namespace_path is not None:
            raise ValueError("claims_namespace and claims_namespace_path both cannot be set")
        if self.claims_map is not None:
            for claim in ("x-hasura-allowed-roles", "x-hasura-default-role"):
                if claim not in self.claims_map:
                    raise ValueError(f"claims_map: {claim} is expected but not found")
            for spec in self.claims_map.values():
                if isinstance(spec, dict):
                    parse_json_path(spec.get("path", ""))
        if self.claims_namespace_path is not None:
            parse_json_path(self.claims_namespace_path)
        if self.key is not None:
            if not self.key.strip():
                # PyJWT would sign and verify with an empty HMAC key: anyone could mint tokens.
                raise ValueError("key is empty: set it to the signing key, or use jwk_url")
            self.signing_key()  # a key that does not load stops the server at start-up

    def signing_key(self) -> tuple[str, Any]:
        """(PyJWT's algorithm name, the loaded key) of a configured `key`."""
        assert self.type is not None and self.key is not None
        algorithm = "EdDSA" if self.type == "Ed25519" else self.type
        try:
            return algorithm, jwt.get_algorithm_by_name(algorithm).prepare_key(self.key)
        except (ValueError, TypeError, jwt.PyJWTError) as exc:
            raise ValueError(f"Invalid JWK: {exc}") from None


def parse_json_path(path: str) -> list[str | int]:
    """Hasura's JSON paths: `$`, then `.key`, `['key']` / `["key"]` and `[index]` steps."""
    if not path.startswith("$"):
        raise ValueError(f"invalid JSON path {path!r}: it must start with $")
    steps: list[str | int] = []
    position = 1
    while position < len(path):
        match = _PATH_STEP.match(path, position)
        if match is None:
            raise ValueError(f"invalid JSON path {path!r} at character {position}")
        key, index, single, double = match.groups()
        steps.append(int(index) if index is not None else next(s for s in (key, single, double) if s is not None))
        position = match.end()
    return steps


_PATH_STEP = re.compile(r"\.([^.\[\]]+)|\[(\d+)\]|\['([^']*)'\]|\[\"([^\"]*)\"\]")


class Config(Strict):
    database_url: str = "sqlite:///./switchboard.db"
    admin_secret: str | None = None
    jwt_secret: JwtSecret | None = None
    unauthorized_role: str | None = None
    host: str = "127.0.0.1"
    port: int = 8080
    # Server processes sharing the port and the store (rpc/workers.py): a number, or auto (one per core).
    workers: Annotated[int, msgspec.Meta(ge=1)] | Literal["auto"] = 1
    log_level: Literal["critical", "error", "warning", "info", "debug", "trace"] = "info"
    log_format: Literal["text", "json"] = "text"
    metrics_secret: str | None = None
    metrics_per_action: Literal["none", "counters", "histograms"] = "none"
    # Tracing (handlers/tracing.py): spans exported to this OTLP/HTTP collector (the [otel] extra).
    otlp_endpoint: str | None = None
    async_workers: Annotated[int, msgspec.Meta(ge=0)] = 32
    async_lease_margin_seconds: Annotated[float, msgspec.Meta(gt=0)] = 10
    async_shutdown_grace_seconds: Annotated[float, msgspec.Meta(ge=0)] = 30
    runs_retention_days: Annotated[float, msgspec.Meta(gt=0)] = 7
    audit_sync_runs: bool = False
    public_role: Annotated[str, msgspec.Meta(min_length=1)] = "public"
    public_rate_limit: Annotated[float, msgspec.Meta(gt=0)] = 10
    enable_public_sharing: bool = True
    # Browsers on other origins (rpc/cors.py): Hasura's HASURA_GRAPHQL_CORS_DOMAIN and _DISABLE_CORS.
    cors_domain: str | list[str] = "*"
    disable_cors: bool = False
    # Metabase's API: how long a session lasts, in minutes (Metabase's MAX_SESSION_AGE, 14 days).
    max_session_age: Annotated[float, msgspec.Meta(gt=0)] = 20160
    # What one client may cost (rpc/limits.py).
    max_body_bytes: Annotated[int, msgspec.Meta(gt=0)] = 10 * 1024 * 1024
    body_timeout_seconds: Annotated[float, msgspec.Meta(gt=0)] = 30
    header_timeout_seconds: Annotated[float, msgspec.Meta(gt=0)] = 10
    keep_alive_seconds: Annotated[int, msgspec.Meta(gt=0)] = 5
    max_connections: Annotated[int, msgspec.Meta(ge=16)] = 1000
    # Websockets (rpc/graphql_ws.py): their own cap, the time to send connection_init, and the
    # operations one socket may run at once.
    max_websockets: Annotated[int, msgspec.Meta(ge=1)] = 1000
    websocket_init_timeout_seconds: Annotated[float, msgspec.Meta(gt=0)] = 3
    max_subscriptions_per_websocket: Annotated[int, msgspec.Meta(ge=1)] = 100
    # What one GraphQL document may hold (handlers/graphql/document.py).
    graphql_max_document_bytes: Annotated[int, msgspec.Meta(ge=64)] = 256 * 1024
    graphql_max_tokens: Annotated[int, msgspec.Meta(ge=16)] = 5_000
    graphql_max_depth: Annotated[int, msgspec.Meta(ge=2)] = 32
    graphql_max_fields: Annotated[int, msgspec.Meta(ge=1)] = 500

    def __post_init__(self) -> None:
        for name in ("admin_secret", "metrics_secret"):
            value = getattr(self, name)
            if value is not None and not value.strip():
                # Set but empty (an unset variable in a deployment template): a secret anyone
                # knows, since any caller can send an empty header.
                raise ValueError(f"{name} is empty: set it to a secret, or leave it out")
        if self.otlp_endpoint is not None and not re.fullmatch(r"https?://[^/\s]+(/\S*)?", self.otlp_endpoint):
            raise ValueError("otlp_endpoint must be an http:// or https:// URL (an OTLP/HTTP collector's, port 4318)")
        if self.public_role == "admin":
            # Anyone holding a link would run its action as admin.
            raise ValueError('public_role may not be "admin"')
        if self.unauthorized_role == "admin":
            # Anyone without credentials would be admin.
            raise ValueError('unauthorized_role may not be "admin"')
        if self.admin_secret is None:
            # Without an admin secret every caller is admin, whatever the token or role says;
            # Hasura refuses to start in this configuration too.
            for name in ("jwt_secret", "unauthorized_role"):
                if getattr(self, name) is not None:
                    raise ValueError(f"{name} requires admin_secret to be set (without it every caller is admin)")


# Settings whose environment variable holds JSON (as Hasura's HASURA_GRAPHQL_JWT_SECRET does).
STRUCTURED = frozenset({"jwt_secret"})
# SWITCHBOARD_* variables that are not settings: the config file, the admin CLI's and the tests'.
NOT_SETTINGS = frozenset({"CONFIG", "ENDPOINT", "API_KEY", "TEST_POSTGRES_URL"})


class ConfigError(Exception):
    pass


def _from_file(path: Path) -> dict[str, Any]:
    try:
        loaded = yaml.safe_load(path.read_text())
    except OSError as exc:
        raise ConfigError(f"cannot read config file {path}: {exc.strerror}") from None
    except yaml.YAMLError as exc:
        raise ConfigError(f"{path} is not valid YAML: {exc}") from None
    if loaded is None:
        return {}
    if not isinstance(loaded, dict):
        raise ConfigError(f"{path} must hold a mapping of settings")
    return loaded


def load_config(path: str | None = None, environ: dict[str, str] | None = None) -> Config:
    environ = dict(os.environ) if environ is None else environ
    _refuse_unknown_variables(environ)
    path = path or environ.get(f"{ENV_PREFIX}CONFIG")
    settings = _from_file(Path(path)) if path else {}
    source = {name: str(path) for name in settings}
    for name in Config.__struct_fields__:
        value: Any = environ.get(f"{ENV_PREFIX}{name.upper()}")
        if value is not None:
            if name in STRUCTURED:
                try:
                    value = json.loads(value)
                except ValueError as exc:
                    raise ConfigError(f"{ENV_PREFIX}{name.upper()} is not valid JSON: {exc}") from None
            settings[name] = value
            source[name] = f"{ENV_PREFIX}{name.upper()}"
    try:
        return convert(settings, Config)
    except ParseFailed as exc:
        key = exc.path[2:] if exc.path != "$" else ""
        message = exc.message.replace("unknown field", "unknown setting")
        named = message.split(" ", 1)[0]
        if not key and named in source:  # a check across settings, naming the one at fault first
            raise ConfigError(f"{source[named]}: {message}") from None
        if key in Config.__struct_fields__ and message.startswith("Invalid enum value"):
            message += f"; expected one of {', '.join(_choices(get_type_hints(Config)[key]))}"
        where = source.get(key.split(".")[0]) or (str(path) if path else "settings")
        unknown = re.fullmatch(r'unknown setting "(.*)"', message, re.DOTALL)
        if unknown is not None:  # misspelt, as often as not: the setting it is close to
            message += (f" in {key}" if key else "") + _did_you_mean(unknown.group(1).lower(), _settings_at(key))
            raise ConfigError(f"{where}: {message}") from None
        raise ConfigError(f"{where}: {message}" + (f" (setting {key})" if key else "")) from None


def _choices(hint: Any) -> list[str]:
    """What a setting of type `hint` may be, in words: its literals (and a number, if it may be one)."""
    if get_origin(hint) is Literal:
        return [str(value) for value in get_args(hint)]
    return [c for arg in get_args(hint) for c in (["a number"] if arg is int else _choices(arg))]


def _did_you_mean(name: str, known: Iterable[str], prefix: str = "") -> str:
    close = difflib.get_close_matches(name, sorted(known), n=1)
    return f" (did you mean {prefix}{close[0]}?)" if close else ""


def _settings_at(key: str) -> tuple[str, ...]:
    """The settings of the mapping at `key` (`""`: the top level, `jwt_secret`, `jwt_secret.header`)."""
    struct: Any = Config
    for step in key.split(".") if key else ():
        hints = get_type_hints(struct)
        if step not in hints:
            return ()
        inner = [t for t in (get_args(hints[step]) or (hints[step],)) if isinstance(t, type) and issubclass(t, Strict)]
        if not inner:
            return ()
        struct = inner[0]
    return tuple(struct.__struct_fields__)


def _refuse_unknown_variables(environ: dict[str, str]) -> None:
    """A misspelt SWITCHBOARD_* variable would otherwise be ignored silently, and the server would
    start on a default (a new SQLite file instead of the intended database)."""
    known = {name.upper() for name in Config.__struct_fields__} | NOT_SETTINGS
    for variable in sorted(environ):
        name = variable[len(ENV_PREFIX) :]
        if variable.startswith(ENV_PREFIX) and name not in known:
            raise ConfigError(f"{variable} is not a setting{_did_you_mean(name, known, ENV_PREFIX)}")
