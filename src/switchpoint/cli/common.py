"""Helpers shared by commands: config loading with readable errors, gateway HTTP calls, output."""

from __future__ import annotations

import asyncio
import json
import os
import sys
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import click
import yaml
from rich.color import ColorSystem
from rich.console import Console, ConsoleDimensions

from ..config import Config, find_config_path, load_config
from ..errors import ConfigError

PIPE_WIDTH = 1000  # lines written to a pipe or a file are not wrapped (tables keep their natural width)


class CliConsole(Console):
    """Rich's console, deciding at each write whether its output is a terminal (a real one: not
    $FORCE_COLOR, $TERM or another stream's terminal). Output that is not (a pipe, a file, a test) is
    never wrapped at a width taken from $COLUMNS and has no colours, so the same command prints the
    same text wherever it runs. In a terminal: its width, and colours unless $NO_COLOR."""

    @property
    def is_terminal(self) -> bool:
        isatty = getattr(self.file, "isatty", None)
        try:
            return bool(isatty is not None and isatty())
        except ValueError:  # a closed file
            return False

    @property
    def size(self) -> ConsoleDimensions:
        if not self.is_terminal:
            return ConsoleDimensions(PIPE_WIDTH, 25)
        return super().size

    @size.setter
    def size(self, new_size: tuple[int, int]) -> None:
        Console.size.fset(self, new_size)  # type: ignore[attr-defined]

    # Rich picks its colour system once, when the console is made (at import); here it applies only
    # while the output is a terminal, and is detected as for one.
    @property
    def _color_system(self) -> ColorSystem | None:
        return self._terminal_colors if self.is_terminal and not self.no_color else None

    @_color_system.setter
    def _color_system(self, value: ColorSystem | None) -> None:
        if value is None and os.environ.get("TERM", "") not in ("dumb", "unknown"):  # made while not a terminal
            truecolor = os.environ.get("COLORTERM") in ("truecolor", "24bit")
            value = ColorSystem.TRUECOLOR if truecolor else ColorSystem.EIGHT_BIT
        self._terminal_colors = value


console = CliConsole()
err_console = CliConsole(stderr=True)


def load_dotenv(path: Path) -> None:
    """KEY=VALUE lines of a .env file into the environment; variables already set (non-empty) win."""
    if not path.is_file():
        return
    for raw in path.read_text().splitlines():
        line = raw.strip()
        if not line or line.startswith("#") or "=" not in line:
            continue
        name, _, value = line.removeprefix("export ").partition("=")
        value = value.strip()
        if len(value) >= 2 and value[0] == value[-1] and value[0] in "'\"":
            value = value[1:-1]
        if not os.environ.get(name.strip()):  # unset or empty: the file's value applies
            os.environ[name.strip()] = value


def load_or_exit(path: str | None) -> Config:
    found = find_config_path(path)
    load_dotenv((found.parent if found else Path.cwd()) / ".env")
    from ..providers import registry  # noqa: F401, PLC0415 - registers the provider types load_config checks
    try:
        return load_config(found)
    except ConfigError as exc:
        print_warnings(exc.warnings)
        for field, problem in exc.problems:
            click.echo(f"{click.style('error', fg='red')} {field}: {problem}", err=True)  # unwrapped, any width
        sys.exit(1)


def print_warnings(warnings: list[str] | tuple[str, ...]) -> None:
    for warning in warnings:
        click.echo(f"{click.style('warning', fg='yellow')} {warning}", err=True)


def load_database_config(path: str | None, *, create: bool = False, check_schema: bool = True) -> Config:
    """The config of the database a command works on: the one `serve` would use with the same `--config`
    / $SWITCHPOINT_CONFIG / ./switchpoint.yaml. Says which database on stderr. With no config file and
    no ./switchpoint.db (and no $SWITCHPOINT_DATABASE), stops instead of creating an empty ledger here,
    unless `create` (`db upgrade`). Stops, too, on a schema a newer Switchpoint migrated (`check_schema`)."""
    config = load_or_exit(path)
    found = find_config_path(path)
    if found is not None:
        source = f"from {found.resolve()}"
    elif os.environ.get("SWITCHPOINT_DATABASE"):
        source = "from $SWITCHPOINT_DATABASE"
    else:
        source = "built-in default: no switchpoint.yaml here"
        local = Path("switchpoint.db")
        if not create and not local.exists():
            raise click.ClickException(
                f"no switchpoint.yaml (--config, $SWITCHPOINT_CONFIG or ./switchpoint.yaml) and no switchpoint.db "
                f"in {Path.cwd()}: nothing to work on. Run this in the folder where you run `switchpoint serve`, "
                "or pass --config PATH.")
    click.echo(f"database: {redact(config.database)} ({source})", err=True)
    if check_schema:
        refuse_newer_schema(config.database)
    return config


def refuse_newer_schema(url: str) -> None:
    """Stop when the database's schema is newer than this version knows (a newer Switchpoint migrated it)."""
    from ..storage import Store, migrate  # noqa: PLC0415 - only the commands that open the database load it

    if url.startswith("sqlite") and "memory" not in url:
        from sqlalchemy.engine import make_url  # noqa: PLC0415

        file = make_url(url).database
        if file and not Path(file).exists():
            return  # nothing there yet, so nothing newer

    async def check() -> None:
        store = Store(url)
        try:
            await migrate.check_schema(store.engine)
        finally:
            await store.close()

    try:
        run(check())
    except migrate.SchemaTooNewError as exc:
        raise click.ClickException(str(exc)) from None


def redact(url: str) -> str:
    """A database URL without its password."""
    scheme, sep, rest = url.partition("://")
    credentials, at, host = rest.rpartition("@")
    if not at or ":" not in credentials:
        return url
    return f"{scheme}{sep}{credentials.split(':', 1)[0]}:***@{host}"


def run(coro: Any) -> Any:
    return asyncio.run(coro)


def gateway_url() -> str:
    """$SWITCHPOINT_URL, else the `listen` address of the config `serve` would read, else the default."""
    url = os.environ.get("SWITCHPOINT_URL")
    if url:
        return url.rstrip("/")
    return f"http://{_listen_address()}"


def _listen_address() -> str:
    default = "127.0.0.1:8080"
    found = find_config_path()
    if found is None or not found.is_file():
        return default
    try:
        data = yaml.safe_load(found.read_text()) or {}
    except (OSError, yaml.YAMLError):
        return default  # the command that needs the config reports its problems
    listen = data.get("listen") if isinstance(data, dict) else None
    if not isinstance(listen, str) or "${" in listen or ":" not in listen:
        return default
    host, _, port = listen.rpartition(":")
    if host.strip("[]") in ("0.0.0.0", "::", ""):  # every interface: this machine is reached on loopback
        host = "127.0.0.1"
    return f"{host}:{port}"


def api_key(required: bool = True) -> str | None:
    key = os.environ.get("SWITCHPOINT_API_KEY")
    if required and not key:
        raise click.ClickException("set SWITCHPOINT_API_KEY to a key from `switchpoint keys create NAME`")
    return key


def _request(method: str, path: str, body: dict[str, Any] | None, key: str | None) -> urllib.request.Request:
    headers = {"content-type": "application/json"}
    if key:
        headers["authorization"] = f"Bearer {key}"
    data = json.dumps(body).encode() if body is not None else None
    return urllib.request.Request(gateway_url() + path, data=data, headers=headers, method=method)


def call(method: str, path: str, body: dict[str, Any] | None = None, key: str | None = None) -> Any:
    try:
        with urllib.request.urlopen(_request(method, path, body, key), timeout=600) as response:
            return json.loads(response.read())
    except urllib.error.HTTPError as exc:
        raise click.ClickException(error_message(exc)) from None
    except urllib.error.URLError as exc:
        raise click.ClickException(f"cannot reach the gateway at {gateway_url()}: {exc.reason}. "
                                   "Is `switchpoint serve` running? (set SWITCHPOINT_URL)") from None


def stream(path: str, body: dict[str, Any], key: str | None) -> Iterator[dict[str, Any]]:
    """Yield each SSE data object from a streamed response."""
    try:
        response = urllib.request.urlopen(_request("POST", path, body, key), timeout=600)
    except urllib.error.HTTPError as exc:
        raise click.ClickException(error_message(exc)) from None
    except urllib.error.URLError as exc:
        raise click.ClickException(f"cannot reach the gateway at {gateway_url()}: {exc.reason}") from None
    with response:
        for raw in response:
            line = raw.decode("utf-8").rstrip("\r\n")
            if not line.startswith("data:"):
                continue
            data = line[5:].strip()
            if data == "[DONE]":
                return
            chunk = json.loads(data)
            if "error" in chunk:
                raise click.ClickException(chunk["error"].get("message", "stream failed"))
            yield chunk


def error_message(exc: urllib.error.HTTPError) -> str:
    try:
        error = json.loads(exc.read()).get("error", {})
        return f"{exc.code}: {error.get('message')}"
    except (ValueError, AttributeError):
        return f"HTTP {exc.code}"


def print_json(data: Any) -> None:
    click.echo(json.dumps(data, indent=2))
