"""`switchpoint keys`: create, list and revoke API keys in the configured database."""

from __future__ import annotations

import getpass

import click
from rich.table import Table

from ..accounting.keys import CHANGED, KeyRecord, KeyService, config_key_hashes, config_key_problem
from ..accounting.pricing import from_nanos
from ..config.schema import parse_duration
from ..state import open_state
from ..storage import Store, reports
from .common import console, load_database_config, print_json, run


@click.group()
def keys() -> None:
    """Manage API keys."""


def cli_actor() -> str:
    """The audit log's name for a change made from this command line."""
    return f"cli ({getpass.getuser()})"


def per_interval(value: str | None) -> tuple[int, float] | None:
    """'N' (a minute) or 'N/INTERVAL' ('10/1m', '100/3600') -> (requests, seconds)."""
    if value is None:
        return None
    count, _, interval = value.partition("/")
    try:
        requests, seconds = int(count), parse_duration(interval or 60)
    except ValueError as exc:
        raise click.BadParameter(f"'{value}': use N or N/INTERVAL, like 10/1m ({exc})") from None
    if requests <= 0:
        raise click.BadParameter(f"'{value}': the number of requests must be positive")
    return requests, seconds


@keys.command("create")
@click.argument("name")
@click.option("--limit", type=float, help="Spend limit in USD (default: none).")
@click.option("--limit-reset", type=click.Choice(["daily", "weekly", "monthly"]), help="When the limit resets (UTC).")
@click.option("--rate-limit", type=int, help="Requests per minute.")
@click.option("--user-limit", type=click.FloatRange(min=0), help="Spend limit in USD per end user (the request's "
              "`user`), per --limit-reset period.")
@click.option("--user-rate-limit", help="Requests per end user: N a minute, or N/INTERVAL (10/1m, 100/1h).")
@click.option("--config", "config_path", help="Path to switchpoint.yaml.")
@click.option("--json", "as_json", is_flag=True)
def create(name: str, limit: float | None, limit_reset: str | None, rate_limit: int | None,
           user_limit: float | None, user_rate_limit: str | None, config_path: str | None, as_json: bool) -> None:
    """Create a key called NAME. The key is printed once; only its hash is stored."""
    config = load_database_config(config_path)
    per_user = per_interval(user_rate_limit)

    async def go() -> tuple[KeyRecord, str]:
        store = Store(config.database)
        try:
            await store.create_schema()
            service = KeyService(store, admin_key=None)
            return await service.create(name, limit_usd=limit, limit_reset=limit_reset,
                                        rate_limit=(rate_limit, 60.0) if rate_limit else None,
                                        user_limit_usd=user_limit, user_rate_limit=per_user, actor=cli_actor())
        finally:
            await store.close()

    record, plaintext = run(go())
    if as_json:
        print_json({"key": plaintext, "hash": record.hash, "name": record.name, "limit": limit,
                    "limit_reset": limit_reset, "user_limit": user_limit,
                    "user_rate_limit": {"requests": per_user[0], "interval": per_user[1]} if per_user else None})
        return
    console.print(f"Created key [bold]{name}[/bold] ({record.hash[:12]}). Store it now; it is not shown again:")
    click.echo(plaintext)


@keys.command("list")
@click.option("--config", "config_path", help="Path to switchpoint.yaml.")
@click.option("--json", "as_json", is_flag=True)
def list_keys(config_path: str | None, as_json: bool) -> None:
    """List keys with their limits and spend."""
    config = load_database_config(config_path)

    async def go() -> list[tuple[dict, int]]:
        store = Store(config.database)
        try:
            await store.create_schema()
            rows = await store.list_keys(limit=10_000)
            spend = await reports.spend_by_key(store)
            return [(row, spend.get(row["hash"], 0)) for row in rows]
        finally:
            await store.close()

    rows = run(go())
    if as_json:
        print_json([{"name": r["name"], "hash": r["hash"], "label": r["label"], "disabled": r["disabled"],
                     "limit": from_nanos(r["limit_nanos"]) if r["limit_nanos"] is not None else None,
                     "limit_reset": r["limit_reset"], "usage": from_nanos(spent)} for r, spent in rows])
        return
    table = Table(box=None, header_style="bold")
    for column in ("name", "hash", "label", "limit", "reset", "spent", "status"):
        table.add_column(column)
    for row, spent in rows:
        limit = f"${from_nanos(row['limit_nanos']):.2f}" if row["limit_nanos"] is not None else "none"
        table.add_row(row["name"], row["hash"][:12], row["label"], limit, row["limit_reset"] or "-",
                      f"${from_nanos(spent):.6f}", "disabled" if row["disabled"] else "active")
    console.print(table)


async def tell_gateways(state_url: str, key_hash: str) -> None:
    """Publish the change on the shared state, as the provisioning API does (a memory state lives
    inside the gateway: nothing to reach from here)."""
    if state_url == "memory":
        return
    state = open_state(state_url)
    try:
        await state.publish(CHANGED, key_hash)
    finally:
        await state.close()


@keys.command("revoke")
@click.argument("name_or_hash")
@click.option("--config", "config_path", help="Path to switchpoint.yaml.")
def revoke(name_or_hash: str, config_path: str | None) -> None:
    """Delete a key by its name or hash (a unique prefix of the hash will do). Gateways sharing a Redis
    state drop it at once; others within the 5 s their key cache lives."""
    config = load_database_config(config_path)

    async def go() -> list[dict]:
        store = Store(config.database)
        try:
            await store.create_schema()
            found = await store.find_keys(name=name_or_hash) or await store.find_keys(hash_prefix=name_or_hash)
            if len(found) == 1:
                problem = config_key_problem(found[0], config_key_hashes(config))
                if problem is not None:
                    raise click.ClickException(problem)
                await KeyService(store, admin_key=None).delete(found[0]["hash"], actor=cli_actor(),
                                                               action="key.revoke")
                await tell_gateways(config.state, found[0]["hash"])
            return found
        finally:
            await store.close()

    found = run(go())
    if not found:
        raise click.ClickException(f"no key named or hashed '{name_or_hash}'")
    if len(found) > 1:
        raise click.ClickException(f"'{name_or_hash}' matches {len(found)} keys; give more of the hash")
    click.echo(f"Revoked key {found[0]['name']} ({found[0]['hash'][:12]}). Requests with it are refused within "
               "5 seconds (the gateway's key cache).")
