"""`switchpoint usage`: spend and tokens from the ledger (the same report as GET /api/v1/activity)."""

from __future__ import annotations

from typing import Any

import click
from rich.table import Table

from ..accounting.activity import activity, parse_since
from ..storage import Store
from .common import console, load_database_config, print_json, run

LABELS = {"day": "date", "model": "model", "provider": "provider_name", "key": "key", "user": "user"}


@click.command()
@click.option("--by", type=click.Choice(["model", "key", "provider", "day", "user"]), default="model", show_default=True,
              help="Group by model, key, provider, UTC day or end user (the requests' `user`).")
@click.option("--since", help="Only since then: 7d, 24h, 30m or an ISO date.")
@click.option("--config", "config_path", help="Path to switchpoint.yaml.")
@click.option("--json", "as_json", is_flag=True)
def usage(by: str, since: str | None, config_path: str | None, as_json: bool) -> None:
    """Spend and token report from the ledger."""
    config = load_database_config(config_path)
    try:
        since_ms = parse_since(since)
    except ValueError as exc:
        raise click.BadParameter(str(exc), param_hint="--since") from None

    async def go() -> list[dict[str, Any]]:
        store = Store(config.database)
        try:
            await store.create_schema()
            names = {row["hash"]: row["name"] for row in await store.list_keys(limit=100_000)} if by == "key" else {}
            return await activity(store, by=[by], since_ms=since_ms, key_names=names)
        finally:
            await store.close()

    rows = run(go())
    label = LABELS[by]
    out = [{by: row[label], **{k: row[k] for k in ("requests", "errors", "cache_hits", "prompt_tokens",
                                                     "completion_tokens", "reasoning_tokens")},
            "cost": row["usage"], "markup": row["markup"]} for row in rows]
    if as_json:
        print_json(out)
        return
    table = Table(box=None, header_style="bold")
    for column in (by, "requests", "errors", "cache hits", "prompt tokens", "completion tokens", "cost"):
        table.add_column(column, justify="left" if column == by else "right")
    for row in out:
        table.add_row(str(row[by] or "-"), f"{row['requests']:,}", f"{row['errors']:,}", f"{row['cache_hits']:,}",
                      f"{row['prompt_tokens']:,}", f"{row['completion_tokens']:,}", f"${row['cost']:.6f}")
    console.print(table)
    total = sum(r["cost"] for r in out)
    console.print(f"[dim]{sum(r['requests'] for r in out):,} requests · ${total:.6f}[/dim]")
