"""Settings: defaults, then a YAML file (`--config` or SWITCHBOARD_CONFIG), then SWITCHBOARD_<NAME>
environment variables. Every setting is documented in config.example.yaml."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Annotated, Any, Literal

import msgspec
import yaml

from metadata.decoding import convert
from metadata.errors import ParseFailed
from metadata.strict import Strict

ENV_PREFIX = "SWITCHBOARD_"


class JwtSecret(Strict):
    """Hasura's HASURA_GRAPHQL_JWT_SECRET: {"type": "HS256", "key": "..."}."""

    type: Literal["HS256", "HS384", "HS512", "RS256", "RS384", "RS512"]
    key: str
    claims_namespace: str = "https://hasura.io/jwt/claims"


class Config(Strict):
    database_url: str = "sqlite:///./switchboard.db"
    admin_secret: str | None = None
    jwt_secret: JwtSecret | None = None
    unauthorized_role: str | None = None
    host: str = "127.0.0.1"
    port: int = 8080
    log_level: str = "info"
    async_workers: Annotated[int, msgspec.Meta(ge=0)] = 32
    async_lease_margin_seconds: Annotated[float, msgspec.Meta(gt=0)] = 10
    runs_retention_days: Annotated[float, msgspec.Meta(gt=0)] = 7
    audit_sync_runs: bool = False
    public_role: Annotated[str, msgspec.Meta(min_length=1)] = "public"
    public_rate_limit: Annotated[float, msgspec.Meta(gt=0)] = 10

    def __post_init__(self) -> None:
        if self.public_role == "admin":
            # Anyone holding a link would run its action as admin.
            raise ValueError('public_role may not be "admin"')


# Settings whose environment variable holds JSON (as Hasura's HASURA_GRAPHQL_JWT_SECRET does).
STRUCTURED = frozenset({"jwt_secret"})


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
        where = source.get(key) or (str(path) if path else "settings")
        raise ConfigError(f"{where}: {message}" + (f" (setting {key})" if key else "")) from None
