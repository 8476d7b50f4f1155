"""The `switchboard` command. `serve` runs the server; admin subcommands come later."""

from __future__ import annotations

import click
import uvicorn

from rpc.app import create_app
from rpc.config import ConfigError, load_config


@click.group()
def main() -> None:
    """Switchboard: a declarative actions service."""


@main.command()
@click.option("--config", "config_path", type=click.Path(dir_okay=False), help="YAML settings file.")
@click.option("--host", help="Overrides the `host` setting.")
@click.option("--port", type=int, help="Overrides the `port` setting.")
def serve(config_path: str | None, host: str | None, port: int | None) -> None:
    """Start the server."""
    try:
        config = load_config(config_path)
    except ConfigError as exc:
        raise click.ClickException(str(exc)) from None
    uvicorn.run(
        create_app(config),
        host=host or config.host,
        port=port or config.port,
        log_level=config.log_level,
    )
