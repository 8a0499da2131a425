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
from rich.console import Console

from ..config import Config, find_config_path, load_config
from ..errors import ConfigError

console = Console()
err_console = Console(stderr=True)


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
        for field, problem in exc.problems:
            err_console.print(f"[red]error[/red] {field}: {problem}", highlight=False)
        sys.exit(1)


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
