"""`switchpoint keys`: create, change, list and revoke API keys in the configured database (through the
same governance service the admin API uses)."""

from __future__ import annotations

import getpass
from collections.abc import Callable
from typing import Any

import click
from rich.table import Table

from ..accounting.governance import Governance
from ..accounting.keys import (
    KeyRecord,
    KeyService,
    config_key_hashes,
    config_key_problem,
    usd_to_nanos,
)
from ..accounting.pricing import from_nanos
from ..config.access import policy_columns
from ..config.base import parse_duration
from ..errors import SwitchpointError
from ..state import State, open_state
from ..storage import Store, reports
from .common import console, load_database_config, print_json, run


@click.group()
def keys() -> None:
    """Manage API keys."""


def policy_options(command: Callable[..., Any]) -> Callable[..., Any]:
    """The access-policy flags `keys create` and `keys update` share."""
    for option in reversed([
        click.option("--team", help="The team the key belongs to (its limits and policy apply too)."),
        click.option("--model", "models", multiple=True,
                     help="A model id or glob the key may use (repeat for more; default: every model)."),
        click.option("--provider", "providers", multiple=True,
                     help="A provider the key may use (repeat for more; default: every provider)."),
        click.option("--max-prompt-price", type=click.FloatRange(min=0),
                     help="The highest prompt price the key may use, USD per million tokens."),
        click.option("--max-completion-price", type=click.FloatRange(min=0),
                     help="The highest completion price the key may use, USD per million tokens."),
    ]):
        command = option(command)
    return command


def max_price(prompt: float | None, completion: float | None) -> dict[str, float | None] | None:
    return None if prompt is None and completion is None else {"prompt": prompt, "completion": completion}


async def governance(store: Store, state_url: str) -> tuple[Governance, State | None]:
    """The service every key change goes through; with a shared state, running gateways hear of it."""
    state = open_state(state_url) if state_url != "memory" else None
    return Governance(store, KeyService(store, admin_key=None, state=state)), state
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
@policy_options
@click.option("--user-limit", type=click.FloatRange(min=0), help="Spend limit in USD per end user (the request's "
              "`user`), per --limit-reset period.")
@click.option("--user-rate-limit", help="Requests per end user: N a minute, or N/INTERVAL (10/1m, 100/1h).")
@click.option("--config", "config_path", help="Path to switchpoint.yaml.")
@click.option("--json", "as_json", is_flag=True)
def create(name: str, limit: float | None, limit_reset: str | None, rate_limit: int | None, team: str | None,
           models: tuple[str, ...], providers: tuple[str, ...], max_prompt_price: float | None,
           max_completion_price: float | None, user_limit: float | None, user_rate_limit: str | None,
           config_path: str | None, as_json: bool) -> None:
    """Create a key called NAME. The key is printed once; only its hash is stored."""
    config = load_database_config(config_path)
    per_user = per_interval(user_rate_limit)

    async def go() -> tuple[KeyRecord, str]:
        store = Store(config.database)
        state = None
        try:
            await store.create_schema()
            service, state = await governance(store, config.state)
            record, plaintext, _ = await service.create_key(
                name, actor=cli_actor(), limit_usd=limit, limit_reset=limit_reset,
                rate_limit=(rate_limit, 60.0) if rate_limit else None,
                team=team, models=list(models) or None, providers=list(providers) or None,
                max_price=max_price(max_prompt_price, max_completion_price),
                user_limit_usd=user_limit, user_rate_limit=per_user)
            return record, plaintext
        except SwitchpointError as exc:
            raise click.ClickException(exc.message) from None
        finally:
            if state is not None:
                await state.close()
            await store.close()

    record, plaintext = run(go())
    if as_json:
        print_json({"key": plaintext, "hash": record.hash, "name": record.name, "limit": limit,
                    "limit_reset": limit_reset, "team": record.team, **record.policy.as_fields(),
                    "user_limit": user_limit,
                    "user_rate_limit": {"requests": per_user[0], "interval": per_user[1]} if per_user else None})
        return
    console.print(f"Created key [bold]{name}[/bold] ({record.hash[:12]}). Store it now; it is not shown again:")
    click.echo(plaintext)


@keys.command("update")
@click.argument("name_or_hash")
@click.option("--limit", type=float, help="Spend limit in USD.")
@click.option("--no-limit", is_flag=True, help="Remove the spend limit.")
@click.option("--limit-reset", type=click.Choice(["daily", "weekly", "monthly", "never"]),
              help="When the limit resets (UTC); never = a lifetime limit.")
@click.option("--rate-limit", type=int, help="Requests per minute (0 removes the limit).")
@policy_options
@click.option("--no-team", is_flag=True, help="Take the key out of its team.")
@click.option("--any-model", is_flag=True, help="Lift the key's model restriction.")
@click.option("--any-provider", is_flag=True, help="Lift the key's provider restriction.")
@click.option("--no-max-price", is_flag=True, help="Lift the key's price cap.")
@click.option("--user-limit", type=click.FloatRange(min=0), help="Spend limit in USD per end user, per limit period.")
@click.option("--no-user-limit", is_flag=True, help="Remove the per-end-user spend limit.")
@click.option("--user-rate-limit", help="Requests per end user: N a minute, or N/INTERVAL (10/1m); 0 removes it.")
@click.option("--disable/--enable", default=None, help="Disable or enable the key.")
@click.option("--config", "config_path", help="Path to switchpoint.yaml.")
@click.option("--json", "as_json", is_flag=True)
def update(name_or_hash: str, limit: float | None, no_limit: bool, limit_reset: str | None, rate_limit: int | None,
           team: str | None, models: tuple[str, ...], providers: tuple[str, ...], max_prompt_price: float | None,
           max_completion_price: float | None, no_team: bool, any_model: bool, any_provider: bool,
           no_max_price: bool, user_limit: float | None, no_user_limit: bool, user_rate_limit: str | None,
           disable: bool | None, config_path: str | None, as_json: bool) -> None:
    """Change a key (by its name or a unique prefix of its hash): only the settings given change."""
    config = load_database_config(config_path)
    values: dict[str, Any] = {}
    if limit is not None or no_limit:
        values["limit_nanos"] = None if no_limit else usd_to_nanos(limit)
    if limit_reset is not None:
        values["limit_reset"] = None if limit_reset == "never" else limit_reset
    if rate_limit is not None:
        values["rate_limit_requests"] = rate_limit or None
        values["rate_limit_interval"] = 60.0 if rate_limit else None
    if team is not None or no_team:
        values["team"] = None if no_team else team
    policy = policy_columns(list(models) if models else None, list(providers) if providers else None,
                            max_price(max_prompt_price, max_completion_price))
    for name, given, lifted in (("models", models, any_model), ("providers", providers, any_provider),
                                ("max_price", max_prompt_price is not None or max_completion_price is not None,
                                 no_max_price)):
        if given or lifted:
            values[name] = None if lifted else policy[name]
    if user_limit is not None or no_user_limit:
        values["user_limit_nanos"] = None if no_user_limit else usd_to_nanos(user_limit)
    if user_rate_limit is not None:
        per_user = None if user_rate_limit.strip() == "0" else per_interval(user_rate_limit)
        values["user_rate_limit_requests"] = per_user[0] if per_user else None
        values["user_rate_limit_interval"] = per_user[1] if per_user else None
    if disable is not None:
        values["disabled"] = disable

    async def go() -> dict[str, Any]:
        store = Store(config.database)
        state = None
        try:
            await store.create_schema()
            row = await _one_key(store, name_or_hash)
            service, state = await governance(store, config.state)
            change = await service.update_key(row["hash"], values, actor=cli_actor())
            assert change.after is not None
            return change.after
        except SwitchpointError as exc:
            raise click.ClickException(exc.message) from None
        finally:
            if state is not None:
                await state.close()
            await store.close()

    after = run(go())
    record = KeyRecord.from_row(after)
    if as_json:
        print_json({"hash": record.hash, "name": record.name, "disabled": record.disabled,
                    "limit": from_nanos(record.limit_nanos) if record.limit_nanos is not None else None,
                    "limit_reset": record.limit_reset, "team": record.team, **record.policy.as_fields(),
                    "user_limit": from_nanos(record.user_limit_nanos) if record.user_limit_nanos is not None else None,
                    "user_rate_limit": {"requests": record.user_rate_limit_requests,
                                        "interval": record.user_rate_limit_interval}
                    if record.user_rate_limit_requests else None})
        return
    console.print(f"Updated key [bold]{record.name}[/bold] ({record.hash[:12]}).")


async def _one_key(store: Store, name_or_hash: str) -> dict[str, Any]:
    found = await store.find_keys(name=name_or_hash) or await store.find_keys(hash_prefix=name_or_hash)
    if not found:
        raise click.ClickException(f"no key named or hashed '{name_or_hash}'")
    if len(found) > 1:
        raise click.ClickException(f"'{name_or_hash}' matches {len(found)} keys; give more of the hash")
    return found[0]


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
                     "limit_reset": r["limit_reset"], "usage": from_nanos(spent), "team": r.get("team"),
                     **KeyRecord.from_row(r).policy.as_fields()} for r, spent in rows])
        return
    table = Table(box=None, header_style="bold")
    for column in ("name", "hash", "label", "team", "limit", "reset", "spent", "status"):
        table.add_column(column)
    for row, spent in rows:
        limit = f"${from_nanos(row['limit_nanos']):.2f}" if row["limit_nanos"] is not None else "none"
        table.add_row(row["name"], row["hash"][:12], row["label"], row.get("team") or "-", limit, row["limit_reset"] or "-",
                      f"${from_nanos(spent):.6f}", "disabled" if row["disabled"] else "active")
    console.print(table)


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
                service, state = await governance(store, config.state)
                try:
                    await service.delete_key(found[0]["hash"], actor=cli_actor(), action="key.revoke")
                finally:
                    if state is not None:
                        await state.close()
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
