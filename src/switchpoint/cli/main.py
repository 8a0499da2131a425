"""switchpoint: serve, configure and use the gateway."""

from __future__ import annotations

import sys

import click

from .. import __version__
from .chat import chat
from .common import load_or_exit, print_warnings
from .compare import compare
from .db import db
from .healthcheck import healthcheck
from .init import init
from .keys import keys
from .mcp_server import mcp_command
from .query import models, query
from .reload import reload
from .status import status
from .usage import usage


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="switchpoint")
def cli() -> None:
    """Switchpoint: one OpenRouter-compatible API for every model you configure."""


@cli.command()
@click.option("--config", "config_path", help="Path to switchpoint.yaml.")
@click.option("--host", help="Address to listen on (default from config, 127.0.0.1).")
@click.option("--port", type=int, help="Port to listen on (default from config, 8080).")
@click.option("--workers", type=int, default=1, show_default=True, help="Worker processes.")
def serve(config_path: str | None, host: str | None, port: int | None, workers: int) -> None:
    """Run the gateway."""
    from ..server.run import serve as run_server  # noqa: PLC0415 - keeps CLI start-up fast

    config = load_or_exit(config_path)
    run_server(config, config_path, host=host, port=port, workers=workers)


@cli.group()
def config() -> None:
    """Check the configuration."""


@config.command("check")
@click.option("--config", "config_path", help="Path to switchpoint.yaml.")
def config_check(config_path: str | None) -> None:
    """Validate; print each problem with its field path; exit 1 if any."""
    from ..config import find_config_path  # noqa: PLC0415

    cfg = load_or_exit(config_path)
    print_warnings(cfg.warnings)
    path = find_config_path(config_path)
    source = str(path) if path else "built-in defaults (no switchpoint.yaml)"
    click.echo(f"{click.style('ok', fg='green')} {source}: {len(cfg.providers)} providers, {len(cfg.models)} "
               f"models, {len(cfg.keys)} keys")


cli.add_command(query)
cli.add_command(models)
cli.add_command(keys)
cli.add_command(usage)
cli.add_command(compare)
cli.add_command(status)
cli.add_command(init)
cli.add_command(chat)
cli.add_command(mcp_command)
cli.add_command(db)
cli.add_command(reload)
cli.add_command(healthcheck)


def main() -> None:
    try:
        cli()
    except KeyboardInterrupt:
        sys.exit(130)

if __name__ == "__main__":
    main()
