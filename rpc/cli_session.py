"""What every admin command of the CLI shares: the session (endpoint, credentials, output format),
its options, and how answers and errors are printed.

The session options are accepted on `switchboard` itself (with their environment variables and
defaults) and again on every admin group and command, where they override what came before, so
`switchboard metadata history -o json` works as `switchboard -o json metadata history` does.
"""

from __future__ import annotations

import json
import sys
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, NoReturn

import click

if TYPE_CHECKING:
    from rpc.client import Client, ServerError

DEFAULT_ENDPOINT = "http://127.0.0.1:8080"
CREDENTIALS_HINT = (
    "  hint: no credentials were given: pass --admin-secret (or set SWITCHBOARD_ADMIN_SECRET), "
    "or an API key with --api-key (or SWITCHBOARD_API_KEY)"
)


@dataclass
class Session:
    endpoint: str
    admin_secret: str | None
    api_key: str | None
    output: str
    _client: Client | None = field(default=None, repr=False)

    @property
    def json(self) -> bool:
        return self.output == "json"

    def call(self, type_: str, args: Any = None, **extra: Any) -> Any:
        """The server's answer, or exit 1 with its error and path (never a traceback)."""
        from rpc.client import Client, ConnectionFailed, ServerError

        if self._client is None:
            self._client = Client(self.endpoint, self.admin_secret, self.api_key)
        try:
            return self._client.query(type_, args, **extra)
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
                if self._without_credentials(exc):
                    click.echo(CREDENTIALS_HINT, err=True)
            sys.exit(1)
        except ConnectionFailed as exc:
            fail(str(exc), 1)

    def _without_credentials(self, exc: ServerError) -> bool:
        """Whether the server refused a caller who gave no credentials at all."""
        refused = exc.status == 401 or exc.body.get("code") == "access-denied"
        return refused and not self.admin_secret and not self.api_key

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


def _override(ctx: click.Context, param: click.Parameter, value: Any) -> None:
    if value is not None:
        setattr(ctx.find_object(Session), str(param.name), value)


def session_options(first: bool = False) -> list[click.Parameter]:
    """The session options: `first` on `switchboard` itself, which makes the Session from them;
    else on a command, where a value given overrides the session's."""
    late: dict[str, Any] = {} if first else {"expose_value": False, "callback": _override}
    output: dict[str, Any] = {"default": "table", "show_default": True} if first else {}
    endpoint: dict[str, Any] = {"default": DEFAULT_ENDPOINT, "show_default": True} if first else {}
    return [
        click.Option(
            ["--endpoint"],
            envvar="SWITCHBOARD_ENDPOINT" if first else None,
            help="URL of the server to administer (env SWITCHBOARD_ENDPOINT).",
            **endpoint,
            **late,
        ),
        click.Option(
            ["--admin-secret"],
            envvar="SWITCHBOARD_ADMIN_SECRET" if first else None,
            help="Admin secret (env SWITCHBOARD_ADMIN_SECRET).",
            **late,
        ),
        click.Option(
            ["--api-key"],
            envvar="SWITCHBOARD_API_KEY" if first else None,
            help="API key, instead of the secret (env SWITCHBOARD_API_KEY).",
            **late,
        ),
        click.Option(["-o", "--output"], type=click.Choice(["table", "json"]), help="Output format.", **output, **late),
    ]


class AdminGroup(click.Group):
    """A group of admin commands: it and each of its commands accept the session options."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.params.extend(session_options())

    def add_command(self, cmd: click.Command, name: str | None = None) -> None:
        if not isinstance(cmd, AdminGroup):  # a group has them already
            cmd.params.extend(session_options())
        super().add_command(cmd, name)
