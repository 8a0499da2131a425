"""`switchpoint init`: a wizard that writes switchpoint.yaml and .env, then checks the result."""

from __future__ import annotations

import os
import secrets
from pathlib import Path
from typing import Any

import click
import yaml
from rich.table import Table

from ..config.load import DEFAULT_BASE_URLS, ENV_PROVIDERS
from .common import console

OLLAMA = ("ollama", DEFAULT_BASE_URLS["ollama"], None)


def provider_choices() -> dict[str, tuple[str, str, str | None]]:
    """name -> (type, base URL, key variable) for every provider the wizard offers."""
    return {**{name: spec for name, spec in ENV_PROVIDERS.items()}, "ollama": OLLAMA}


def ask_providers(choices: dict[str, tuple[str, str, str | None]]) -> list[str]:
    table = Table(box=None, header_style="bold")
    for column in ("provider", "type", "key in environment"):
        table.add_column(column)
    for name, (ptype, _, var) in choices.items():
        found = "[dim]not needed[/dim]" if var is None else (f"[green]{var}[/green]" if os.environ.get(var)
                                                             else f"[dim]{var} not set[/dim]")
        table.add_row(name, ptype, found)
    console.print(table)
    default = ",".join(n for n, (_, _, var) in choices.items() if var and os.environ.get(var)) or "openai"
    while True:
        answer = click.prompt("Providers to enable (comma-separated)", default=default)
        names = [n.strip().lower() for n in answer.split(",") if n.strip()]
        unknown = [n for n in names if n not in choices]
        if names and not unknown:
            return list(dict.fromkeys(names))
        console.print(f"[red]unknown provider(s): {', '.join(unknown) or 'none given'}[/red]")


def ask_key(name: str, var: str) -> str:
    current = os.environ.get(var)
    if current and click.confirm(f"Use {var} from the environment for {name}?", default=True):
        return current
    return click.prompt(f"{name} API key ({var})", hide_input=True).strip()


def build(providers: list[str], choices: dict[str, tuple[str, str, str | None]], listen: str,
          database: str) -> tuple[dict[str, Any], dict[str, str]]:
    """The config (secrets as ${VAR} references) and the .env values they refer to."""
    env: dict[str, str] = {}
    config: dict[str, Any] = {"listen": listen, "database": database, "admin_key": "${SWITCHPOINT_ADMIN_KEY}",
                              "providers": {}}
    for name in providers:
        ptype, url, var = choices[name]
        entry: dict[str, Any] = {"type": ptype, "base_url": url}
        if var is not None:
            env[var] = ask_key(name, var)
            entry["api_key"] = f"${{{var}}}"
        config["providers"][name] = entry
    env["SWITCHPOINT_ADMIN_KEY"] = os.environ.get("SWITCHPOINT_ADMIN_KEY") or "sk-sp-admin-" + secrets.token_hex(24)
    return config, env


def write_env(path: Path, values: dict[str, str]) -> None:
    """Write .env readable by its owner only (created with mode 600, never briefly wider)."""
    text = "# Secrets for switchpoint.yaml (keep out of version control)\n" + "".join(
        f"{name}={value}\n" for name, value in values.items())
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as handle:
        handle.write(text)
    path.chmod(0o600)


@click.command()
@click.option("--dir", "directory", type=click.Path(file_okay=False, path_type=Path), default=Path("."),
              show_default=True, help="Where to write switchpoint.yaml and .env.")
@click.option("--force", is_flag=True, help="Overwrite existing files without asking.")
@click.pass_context
def init(ctx: click.Context, directory: Path, force: bool) -> None:
    """Set up a gateway: choose providers, give their keys (read from the environment when set), and
    write switchpoint.yaml and .env (mode 600). Then runs `config check`."""
    directory.mkdir(parents=True, exist_ok=True)
    config_path, env_path = directory / "switchpoint.yaml", directory / ".env"
    existing = [p.name for p in (config_path, env_path) if p.exists()]
    if existing and not force and not click.confirm(f"Overwrite {' and '.join(existing)}?", default=False):
        raise click.Abort
    choices = provider_choices()
    providers = ask_providers(choices)
    listen = click.prompt("Listen on", default="127.0.0.1:8080")
    database = click.prompt("Ledger database", default="sqlite:///switchpoint.db")
    config, env = build(providers, choices, listen, database)
    config_path.write_text("# Written by `switchpoint init`; see docs/cli.md. Secrets live in .env.\n"
                           + yaml.safe_dump(config, sort_keys=False))
    write_env(env_path, env)
    console.print(f"[green]wrote[/green] {config_path} and {env_path} (mode 600)", highlight=False)
    console.print(f"Admin key for the dashboard and key provisioning is in {env_path} "
                  "(SWITCHPOINT_ADMIN_KEY).", highlight=False)
    from .main import config_check  # noqa: PLC0415 - main imports this module

    ctx.invoke(config_check, config_path=str(config_path))
    console.print("Next: [bold]switchpoint serve[/bold], then [bold]switchpoint keys create my-app[/bold] "
                  "and [bold]switchpoint status[/bold].")
