"""`switchpoint usage`: spend and tokens from the ledger."""

from __future__ import annotations

import datetime as dt

import click
from rich.table import Table

from ..accounting.pricing import from_nanos
from ..storage import Store
from .common import console, load_or_exit, print_json, run


def parse_since(value: str | None) -> int:
    """'7d', '24h', '30m' or an ISO date -> epoch ms (0 = all time)."""
    if not value:
        return 0
    units = {"d": 86400, "h": 3600, "m": 60}
    if value[-1] in units and value[:-1].isdigit():
        start = dt.datetime.now(dt.UTC) - dt.timedelta(seconds=int(value[:-1]) * units[value[-1]])
    else:
        try:
            start = dt.datetime.fromisoformat(value)
        except ValueError:
            raise click.BadParameter("use e.g. 7d, 24h, 30m or an ISO date like 2026-11-01") from None
        if start.tzinfo is None:
            start = start.replace(tzinfo=dt.UTC)
    return int(start.timestamp() * 1000)


@click.command()
@click.option("--by", type=click.Choice(["model", "key", "provider", "day"]), default="model", show_default=True)
@click.option("--since", help="Only since then: 7d, 24h, 30m or an ISO date.")
@click.option("--config", "config_path", help="Path to switchpoint.yaml.")
@click.option("--json", "as_json", is_flag=True)
def usage(by: str, since: str | None, config_path: str | None, as_json: bool) -> None:
    """Spend and token report from the ledger."""
    config = load_or_exit(config_path)
    since_ms = parse_since(since)

    async def go() -> tuple[list[dict], dict[str, str]]:
        store = Store(config.database)
        try:
            await store.create_schema()
            names = {row["hash"]: row["name"] for row in await store.list_keys(limit=100_000)}
            return await store.usage_report(by=by, since_ms=since_ms), names
        finally:
            await store.close()

    rows, names = run(go())
    out = []
    for row in rows:
        group = row["group"]
        if by == "day":
            group = dt.datetime.fromtimestamp(int(group) * 86400, dt.UTC).date().isoformat()
        elif by == "key":
            group = names.get(group, group[:12] if group else "-")
        out.append({by: group, "requests": row["requests"], "errors": row["errors"],
                    "prompt_tokens": row["prompt_tokens"], "completion_tokens": row["completion_tokens"],
                    "cost": from_nanos(row["cost_nanos"])})
    if as_json:
        print_json(out)
        return
    table = Table(box=None, header_style="bold")
    for column in (by, "requests", "errors", "prompt tokens", "completion tokens", "cost"):
        table.add_column(column, justify="left" if column == by else "right")
    for row in out:
        table.add_row(str(row[by] or "-"), f"{row['requests']:,}", f"{row['errors']:,}", f"{row['prompt_tokens']:,}",
                      f"{row['completion_tokens']:,}", f"${row['cost']:.6f}")
    console.print(table)
    total = sum(r["cost"] for r in out)
    console.print(f"[dim]{sum(r['requests'] for r in out):,} requests · ${total:.6f}[/dim]")
